// CUDA matrix products through cuBLAS. cuBLAS is column-major and our tensors are row-major: a
// row-major C[M,N] is a column-major C^T[N,M], and C^T = op(B)^T op(A)^T, so we call gemm with the
// operands swapped (B first) and the same transpose flags, no copies.
#include "engine/backend/linalg.h"

#include <cstdint>
#include <limits>
#include <mutex>

#include "engine/backend/bf16_widening.h"
#include "engine/cuda/kernel_select.h"
#include "engine/cuda/launch_utils.h"
#include "kernels/elementwise.cuh"

namespace gan::cuda {

namespace {

constexpr int kMaxDevices = 64;
// cuBLAS's recommended workspace on Hopper. Given up front so cuBLAS never allocates inside a
// captured CUDA graph.
constexpr size_t kCublasWorkspaceBytes = 32u << 20;

struct Handle {
  cublasHandle_t h = nullptr;
  bool tf32 = false;
};
Handle g_handles[kMaxDevices];
std::mutex g_mu;

// The device's handle, bound to its engine stream (created once, kept for the life of the process).
Handle& handle_for(int device) {
  GAN_CHECK(device >= 0 && device < kMaxDevices, "matmul: bad CUDA device " << device);
  std::lock_guard<std::mutex> lock(g_mu);
  Handle& hd = g_handles[device];
  if (!hd.h) {
    DeviceGuard guard(device);
    cublasHandle_t h = nullptr;
    GAN_CUBLAS_CHECK(cublasCreate(&h));
    GAN_CUBLAS_CHECK(cublasSetStream(h, stream(device)));
    void* ws = nullptr;
    GAN_CUDA_CHECK(cudaMalloc(&ws, kCublasWorkspaceBytes));
    GAN_CUBLAS_CHECK(cublasSetWorkspace(h, ws, kCublasWorkspaceBytes));
    GAN_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    hd.h = h;
    hd.tf32 = false;
  }
  const bool want = allow_tf32();
  if (hd.tf32 != want) {
    GAN_CUBLAS_CHECK(cublasSetMathMode(hd.h, want ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    hd.tf32 = want;
  }
  return hd;
}

}  // namespace

void matmul(const Tensor& a, bool ta, const Tensor& b, bool tb, Tensor& out, double beta) {
  OnDevice on(out);
  const int64_t M = out.shape()[0], N = out.shape()[1];
  const int64_t K = ta ? a.shape()[0] : a.shape()[1];
  if (M == 0 || N == 0) return;
  if (out.dtype() == DType::BFloat16) {
    // bfloat16 in and out, float32 accumulation (and beta's blend) in cuBLAS; the int32 API's limits
    // and the empty sum go through float32 copies.
    constexpr int64_t kMax = std::numeric_limits<int>::max();
    if (K == 0 || M > kMax || N > kMax || K > kMax || a.numel() > kMax || b.numel() > kMax)
      return backend::call_widened<&matmul>(a, ta, b, tb, out, beta);
    Handle& hd = handle_for(on.device);
    const float alpha = 1.0f, bt = static_cast<float>(beta);
    GAN_CUBLAS_CHECK(cublasGemmEx(hd.h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), &alpha, b.raw_data(),
                                  CUDA_R_16BF, static_cast<int>(b.shape()[1]), a.raw_data(), CUDA_R_16BF,
                                  static_cast<int>(a.shape()[1]), &bt, out.raw_data(), CUDA_R_16BF,
                                  static_cast<int>(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return;
  }
  if (K == 0) {  // an empty sum: out = beta * out
    GAN_DISPATCH_FLOAT(out.dtype(), "matmul", [&] {
      scalar_t* po = out.data<scalar_t>();
      if (beta == 0) GAN_CUDA_CHECK(kernels::fill<scalar_t>(po, out.numel(), scalar_t(0), on.stream));
      else if (beta != 1)
        GAN_CUDA_CHECK(kernels::unary<scalar_t>(kernels::UnaryOp::MulScalar, po, po, out.numel(), beta, 0, on.stream));
    });
    return;
  }
  Handle& hd = handle_for(on.device);
  const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int64_t lda = a.shape()[1], ldb = b.shape()[1];
  // beta == 0: cuBLAS does not read C, so an uninitialised (or NaN) output is fine.
  if (out.dtype() == DType::Float32) {
    const float alpha = 1.0f, bt = static_cast<float>(beta);
    GAN_CUBLAS_CHECK(cublasSgemm_64(hd.h, opb, opa, N, M, K, &alpha, b.data<float>(), ldb, a.data<float>(), lda, &bt,
                                    out.data<float>(), N));
  } else {
    const double alpha = 1.0, bt = beta;
    GAN_CUBLAS_CHECK(cublasDgemm_64(hd.h, opb, opa, N, M, K, &alpha, b.data<double>(), ldb, a.data<double>(), lda, &bt,
                                    out.data<double>(), N));
  }
}

}  // namespace gan::cuda
