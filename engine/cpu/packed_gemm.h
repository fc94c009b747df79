// The engine's own single-precision matrix product for CPUs with AVX-512, written for the GAN
// layers' shapes (M 16-1024, N 256-4096, K 16-8192): packed panels and a 12 x 32 register tile.
//
//   packed_sgemm(ta, tb, M, N, K, A, B, beta, C):  C[M, N] = op(A) op(B) + beta C, row-major, the
//   same contract as gemm() in engine/cpu/gemm.h (op(A) = A^T with ta: A stored [K, M]; B [N, K]).
//
// Why it exists: OpenBLAS runs whatever kernels OPENBLAS_CORETYPE names, and machines that set it
// to a 256-bit core (Haswell) on AVX-512 hardware halve every product (docs/PERFORMANCE.md). The
// products then go here instead of to those kernels (see use_packed_sgemm()).
//
// Every element of C sums its K terms in the same order whatever the thread count: a call outside a
// parallel region splits C into blocks of whole tiles, one per thread, never the K sum. So results
// do not depend on OMP_NUM_THREADS.
#pragma once

#include <cstdint>
#include <string>

namespace gan::cpu {

// True when this build and this CPU can run the kernel (x86-64 with AVX-512F at run time).
bool packed_sgemm_available();

// Whether gemm() sends float products here: GAN_GEMM=own forces it, GAN_GEMM=blas forbids it;
// otherwise (auto or unset) it is used when available and the BLAS is absent or held to kernels
// narrower than 512 bits. Read once.
bool use_packed_sgemm();

// Empty, or why GAN_GEMM's value cannot be followed (not own, blas or auto; own on a CPU without
// AVX-512F). gan and the benchmarks refuse to start with it; the library then keeps the BLAS.
std::string gemm_setting_error();

// Why the kernel was chosen ("GAN_GEMM=own", "the BLAS runs Haswell kernels, ..."), for describe_products().
std::string packed_sgemm_reason();

void packed_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float beta,
                  float* C);

// count products of one shape, product p on A + p stride_a, B + p stride_b, C + p stride_c, in
// one parallel region whose threads share out all the products' tiles (each element's sum is the
// same as packed_sgemm's, so results still do not depend on the thread count).
void packed_sgemm_batch(int64_t count, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A,
                        int64_t stride_a, const float* B, int64_t stride_b, float beta, float* C, int64_t stride_c);

}  // namespace gan::cpu
