// Hand-written batch-norm kernels over x viewed as [N, C, S] (S = H W, or 1 for x[N, C]).
// Raw pointers, sizes and a stream; float or double; deterministic (fixed summation order, no
// floating-point atomics). Statistics accumulate in double.
//
// Training forward: per-channel mean and biased variance, y = act((x - mean) invstd w + b), and
// the running statistics r = (1 - momentum) r + momentum batch (unbiased variance for running_var).
// Backward: with gz = dy carried back through act (its mask read from y; norm_act.h),
// dbias = sum gz, dweight = sum gz xhat, dx = w invstd (gz - dbias/M - xhat dweight/M) with
// M = N S. weight/bias/running stats (and dx/dweight/dbias in backward) may be null; y may be null
// when act is none.
//
// Two strategies, chosen per shape:
//  - one block per channel, one kernel: the block reduces its channel and normalises it, keeping
//    the channel in registers when it fits (x read once). Latency-bound shapes such as
//    128x512x4x4 (2048 values per channel) are a single launch.
//  - a channel split over G blocks: a partial-sums kernel, then a kernel whose every block folds
//    its channel's G partials (same order in every block, so the same bits) and normalises its
//    slice. Used when channels are few and long (64 x 32x32 x batch 128).
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/norm_act.h"

namespace gan::kernels {

struct BatchNormShape {
  int64_t N = 0, C = 0, S = 1;
};

// Null when the hand kernels handle `s`, else a short reason.
const char* batchnorm_hand_unsupported(const BatchNormShape& s);

// Device scratch (per-block partial sums) the training forward and the backward need; may be 0.
size_t batchnorm_workspace_bytes(const BatchNormShape& s, int sms);

template <class T>
cudaError_t batchnorm_fwd_train_v1(const T* x, const T* weight, const T* bias, const NormAct& act, T* y,
                                   T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                   const BatchNormShape& s, double momentum, double eps, void* workspace, int sms,
                                   cudaStream_t stream);

template <class T>
cudaError_t batchnorm_fwd_eval_v1(const T* x, const T* weight, const T* bias, const T* running_mean,
                                  const T* running_var, T* y, const BatchNormShape& s, double eps, int sms,
                                  cudaStream_t stream);

template <class T>
cudaError_t batchnorm_bwd_v1(const T* dy, const NormAct& act, const T* y, const T* x, const T* weight,
                             const T* save_mean, const T* save_invstd, T* dx, T* dweight, T* dbias,
                             const BatchNormShape& s, void* workspace, int sms, cudaStream_t stream);

}  // namespace gan::kernels
