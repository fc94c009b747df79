// The CPU backend's one matrix product, on raw row-major buffers: the convolutions' column products
// (engine/cpu/conv.cpp) and matmul (engine/cpu/linalg.cpp) both call it.
//
//   gemm(ta, tb, M, N, K, A, B, beta, C):  C[M, N] = op(A) op(B) + beta C,  op(X) = X^T when its flag
//   is set (A is then stored [K, M], B [N, K]); all three contiguous.
//
// With a BLAS (GAN_WITH_OPENBLAS) the call goes to sgemm_/dgemm_ directly: Eigen's
// `C.noalias() = A * B` over a BLAS first clears C and then has the BLAS add into it, one more pass
// over C per product. A row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, hence B
// before A. A vector result (M or N of 1) stays with Eigen, which calls the BLAS's matrix-vector
// product for it. Without a BLAS, Eigen's own kernels. Float products with both sides wider than one
// go to the engine's AVX-512 kernel instead when use_packed_sgemm() says so (engine/cpu/packed_gemm.h).
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <type_traits>

#include "engine/cpu/packed_gemm.h"

// With a BLAS the build defines EIGEN_USE_BLAS, and Eigen's header declares sgemm_ and dgemm_.

namespace gan::cpu {

namespace detail {

template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class T>
void eigen_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T beta, T* C) {
  Eigen::Map<RowMajor<T>> Cm(C, M, N);
  const Eigen::Map<const RowMajor<T>> Am(A, ta ? K : M, ta ? M : K), Bm(B, tb ? N : K, tb ? K : N);
  auto run = [&](const auto& a, const auto& b) {
    if (beta == T(0)) {
      Cm.noalias() = a * b;
    } else {
      if (beta != T(1)) Cm *= beta;
      Cm.noalias() += a * b;
    }
  };
  if (ta && tb) run(Am.transpose(), Bm.transpose());
  else if (ta) run(Am.transpose(), Bm);
  else if (tb) run(Am, Bm.transpose());
  else run(Am, Bm);
}

#ifdef GAN_WITH_OPENBLAS
inline void blas_gemm(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* a,
                      const int* lda, const float* b, const int* ldb, const float* beta, float* c, const int* ldc) {
  const float one = 1;
  sgemm_(ta, tb, m, n, k, &one, a, lda, b, ldb, beta, c, ldc);
}
inline void blas_gemm(const char* ta, const char* tb, const int* m, const int* n, const int* k, const double* a,
                      const int* lda, const double* b, const int* ldb, const double* beta, double* c, const int* ldc) {
  const double one = 1;
  dgemm_(ta, tb, m, n, k, &one, a, lda, b, ldb, beta, c, ldc);
}
#endif

}  // namespace detail

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T beta, T* C) {
  if constexpr (std::is_same_v<T, float>) {
    if (M > 1 && N > 1 && use_packed_sgemm()) return packed_sgemm(ta, tb, M, N, K, A, B, beta, C);
  }
#ifdef GAN_WITH_OPENBLAS
  constexpr int64_t kMaxInt = (int64_t{1} << 31) - 1;  // the BLAS's sizes are ints
  if (M > 1 && N > 1 && M <= kMaxInt && N <= kMaxInt && K <= kMaxInt) {
    const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K);
    const int ldb = static_cast<int>(tb ? K : N), lda = static_cast<int>(ta ? M : K), ldc = static_cast<int>(N);
    detail::blas_gemm(tb ? "T" : "N", ta ? "T" : "N", &m, &n, &k, B, &ldb, A, &lda, &beta, C, &ldc);
    return;
  }
#endif
  detail::eigen_gemm(ta, tb, M, N, K, A, B, beta, C);
}

// count products of one shape, product p on A + p stride_a, B + p stride_b and C + p stride_c:
// the Winograd convolutions' per-point products (engine/cpu/conv_winograd.cpp). The engine's own
// kernel runs them in one parallel region; any other path runs them one after another.
template <class T>
void gemm_batch(int64_t count, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t stride_a,
                const T* B, int64_t stride_b, T beta, T* C, int64_t stride_c) {
  if constexpr (std::is_same_v<T, float>) {
    if (M > 1 && N > 1 && use_packed_sgemm())
      return packed_sgemm_batch(count, ta, tb, M, N, K, A, stride_a, B, stride_b, beta, C, stride_c);
  }
  for (int64_t p = 0; p < count; ++p)
    gemm(ta, tb, M, N, K, A + p * stride_a, B + p * stride_b, beta, C + p * stride_c);
}

}  // namespace gan::cpu
