// Hand-written 2-D convolution kernels: forward, backward-data and backward-weight as implicit
// matrix products (conv_problem.cuh, implicit_gemm.cuh). Raw pointers, sizes and a stream; no
// tensors. Contiguous NCHW tensors, weights w[K, C, R, S], float or double, deterministic.
// The v1 kernels do strict FP32 / FP64 arithmetic; the tf32_v2 ones use tensor cores.
//
// Usage:
//   const char* why = conv2d_hand_unsupported(ConvPass::Forward, s, sizeof(float), sms);
//   size_t ws = conv2d_workspace_bytes(ConvPass::Forward, s, sizeof(float), sms);   // may be 0
//   conv2d_fwd_implicit_gemm_v1<float>(x, w, y, s, workspace, sms, stream);
// `sms` is the device's multiprocessor count: it sets how far a small product is split along
// its reduction, and so the workspace size; pass the same value to both calls.
#pragma once
#include <cstddef>

#include <cuda_runtime_api.h>

#include "kernels/conv_problem.cuh"

namespace gan::kernels {

enum class ConvPass { Forward, BackwardData, BackwardWeight };

// Null when the hand kernels can run `pass` on `s`, else a short reason (for fallback notes).
const char* conv2d_hand_unsupported(ConvPass pass, const Conv2dShape& s, size_t elem_size, int sms);

// Device scratch bytes the launch below needs (split-K partial products); 0 when none.
size_t conv2d_workspace_bytes(ConvPass pass, const Conv2dShape& s, size_t elem_size, int sms);

// y[N, K, P, Q] = conv2d(x[N, C, H, W], w[K, C, R, S]).
template <class T>
cudaError_t conv2d_fwd_implicit_gemm_v1(const T* x, const T* w, T* y, const Conv2dShape& s, void* workspace, int sms,
                                        cudaStream_t stream);

// dx[N, C, H, W] = input gradient of conv2d given dy[N, K, P, Q] (= conv_transpose2d forward).
// Strided shapes run as stride-phase products (no multiplications by inserted zeros).
template <class T>
cudaError_t conv2d_bwd_data_implicit_gemm_v1(const T* dy, const T* w, T* dx, const Conv2dShape& s, void* workspace,
                                             int sms, cudaStream_t stream);

// dw[K, C, R, S] = weight gradient of conv2d given x and dy.
template <class T>
cudaError_t conv2d_bwd_weight_implicit_gemm_v1(const T* x, const T* dy, T* dw, const Conv2dShape& s, void* workspace,
                                               int sms, cudaStream_t stream);

// The same three computations on TF32 tensor cores (float32 only): operands rounded to TF32 as
// they enter the tensor cores, FP32 accumulation; expect ~1e-3 relative error against FP32.
// Same workspace as the v1 launchers. Products with 16 or fewer columns run the FP32 kernel.
cudaError_t conv2d_fwd_implicit_gemm_tf32_v2(const float* x, const float* w, float* y, const Conv2dShape& s,
                                             void* workspace, int sms, cudaStream_t stream);
cudaError_t conv2d_bwd_data_implicit_gemm_tf32_v2(const float* dy, const float* w, float* dx, const Conv2dShape& s,
                                                  void* workspace, int sms, cudaStream_t stream);
cudaError_t conv2d_bwd_weight_implicit_gemm_tf32_v2(const float* x, const float* dy, float* dw, const Conv2dShape& s,
                                                    void* workspace, int sms, cudaStream_t stream);

}  // namespace gan::kernels
