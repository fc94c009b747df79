// Fused multi-tensor optimizer updates: one launch updates every parameter of a call (up to
// kMaxTensorsPerLaunch tensors; longer lists take one launch per group). The tensor list travels in
// the kernel's argument block, so no metadata copy to the device is needed and the step stays
// capturable in a CUDA graph. Arrays below are host arrays of device pointers, `count` entries each.
// Formulas follow torch.optim (non-fused, non-foreach) exactly, computed in T.
#pragma once
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/optim_scalars.h"

namespace gan::kernels {

constexpr int kMaxTensorsPerLaunch = 64;

// `*_on_device`: null, or device memory the kernel reads the per-step values from in place of the
// ones in the arguments (a recorded step, engine/capture/step_graph.h, gets new ones at each replay).
struct AdamArgs {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;                                    // 1-based
  const AdamStepScalars* step_on_device = nullptr;  // replaces lr and step
};
struct SgdArgs {
  double lr, momentum, weight_decay;
  bool first_step;                        // the momentum buffer starts as the gradient
  const double* lr_on_device = nullptr;  // replaces lr
};
struct RmspropArgs {
  double lr, alpha, eps, weight_decay, momentum;
  const double* lr_on_device = nullptr;  // replaces lr
};

template <class T>
cudaError_t adam_step(T* const* params, const T* const* grads, T* const* exp_avg, T* const* exp_avg_sq,
                      const int64_t* numel, int count, const AdamArgs& a, cudaStream_t stream);
// momentum_buf may be null (or hold nulls) when momentum == 0.
template <class T>
cudaError_t sgd_step(T* const* params, const T* const* grads, T* const* momentum_buf, const int64_t* numel, int count,
                     const SgdArgs& a, cudaStream_t stream);
template <class T>
cudaError_t rmsprop_step(T* const* params, const T* const* grads, T* const* square_avg, T* const* momentum_buf,
                         const int64_t* numel, int count, const RmspropArgs& a, cudaStream_t stream);
// p = min(max(p, -c), c) for every tensor.
template <class T>
cudaError_t clamp_params(T* const* params, const int64_t* numel, int count, double c, cudaStream_t stream);

}  // namespace gan::kernels
