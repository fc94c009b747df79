// Hand-written 2-D convolution kernels: forward, backward-data and backward-weight as implicit
// matrix products (conv_problem.cuh, implicit_gemm.cuh), and conv_transpose2d's forward, which is
// the backward-data product under its own name. Raw pointers, sizes and a stream; no tensors.
// Contiguous NCHW tensors, weights w[K, C, R, S], float, double or gan::bf16, deterministic.
//
// Precision is a parameter of each launch (ConvMath): Strict runs FP32 (float) or FP64 (double)
// fused multiply-adds on the CUDA cores; Tf32 runs the wide products on TF32 tensor cores (float
// only), ~1e-3 relative error against FP32. bfloat16 data ignores it: the wide products run on BF16
// tensor cores, the narrow ones as FP32 multiply-adds of the widened values, both accumulating in
// FP32 and rounding each output to bfloat16 once. The tensor-core kernels use PTX mma.sync
// (kernels/mma_fragments.h), not wmma.
//
// Usage:
//   const char* why = conv2d_hand_unsupported(ConvPass::Forward, s, sizeof(float), sms);
//   size_t ws = conv2d_workspace_bytes(ConvPass::Forward, s, sizeof(float), sms);   // may be 0
//   conv2d_fwd_implicit_gemm<float>(x, w, y, s, ConvLaunch{ConvMath::Strict, workspace, sms, stream});
// `sms` is the device's multiprocessor count: it sets how far a small product is split along
// its reduction, and so the workspace size; pass the same value to both calls.
#pragma once
#include <cstddef>

#include <cuda_runtime_api.h>

#include "kernels/bfloat16.h"
#include "kernels/conv_problem.cuh"

namespace gan::kernels {

enum class ConvPass { Forward, BackwardData, BackwardWeight };

// Null when the hand kernels can run `pass` on `s`, else a short reason (for fallback notes).
// conv_transpose2d's forward is ConvPass::BackwardData.
const char* conv2d_hand_unsupported(ConvPass pass, const Conv2dShape& s, size_t elem_size, int sms);

// Device scratch bytes the launch below needs (split-K partial products); 0 when none.
size_t conv2d_workspace_bytes(ConvPass pass, const Conv2dShape& s, size_t elem_size, int sms);

enum class ConvMath {
  Strict,  // FP32 for float, FP64 for double: what the CPU reference computes
  Tf32,    // float: TF32 tensor cores, FP32 accumulation; products with 16 or fewer columns
           // (too narrow to gain) run the Strict kernel. Refused for double.
};

// How one launch runs: its precision, the device scratch (conv2d_workspace_bytes of the same pass,
// shape and sms; may be null when that is 0), the device's multiprocessor count, the stream.
struct ConvLaunch {
  ConvMath math = ConvMath::Strict;
  void* workspace = nullptr;
  int sms = 1;
  cudaStream_t stream = nullptr;
};

// y[N, K, P, Q] = conv2d(x[N, C, H, W], w[K, C, R, S]).
template <class T>
cudaError_t conv2d_fwd_implicit_gemm(const T* x, const T* w, T* y, const Conv2dShape& s, const ConvLaunch& l);

// dx[N, C, H, W] = input gradient of conv2d given dy[N, K, P, Q].
// Strided shapes run as stride-phase products (no multiplications by inserted zeros).
template <class T>
cudaError_t conv2d_bwd_data_implicit_gemm(const T* dy, const T* w, T* dx, const Conv2dShape& s, const ConvLaunch& l);

// dw[K, C, R, S] = weight gradient of conv2d given x and dy.
template <class T>
cudaError_t conv2d_bwd_weight_implicit_gemm(const T* x, const T* dy, T* dw, const Conv2dShape& s, const ConvLaunch& l);

// y = conv_transpose2d(x, w) with PyTorch's weight layout w[C_in, C_out, kH, kW]: the same product
// as conv2d_bwd_data (a transposed convolution is conv2d's input gradient), named for the op.
// `s` is the conv2d view in which conv_transpose2d's input is the output side: x[N, K, P, Q],
// w[K, C, R, S], y[N, C, H, W]. Same workspace and support as ConvPass::BackwardData.
template <class T>
cudaError_t conv_transpose2d_fwd_implicit_gemm(const T* x, const T* w, T* y, const Conv2dShape& s,
                                               const ConvLaunch& l);

}  // namespace gan::kernels
