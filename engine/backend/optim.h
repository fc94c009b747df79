// Fused optimizer updates over a list of parameters (one launch per step on CUDA: multi-tensor).
// All tensors of one call share device and dtype; params are updated in place.
#pragma once
#include <initializer_list>
#include <vector>

#include "engine/backend/declare.h"
#include "engine/core/tensor.h"
#include "kernels/optim_scalars.h"

namespace gan {
using kernels::AdamStepScalars;
// `*_on_device` (CUDA only; the CPU refuses them): device memory holding the per-step values, read
// by the update in place of lr (and step): a recorded step gets new ones at each replay
// (engine/capture/step_graph.h).
struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;  // L2 weight decay added to the gradient, as torch.optim.Adam
  int64_t step;                                 // 1-based, for bias correction
  const AdamStepScalars* step_on_device = nullptr;
};
struct SgdHyper {
  double lr, momentum, weight_decay;
  bool first_step;  // momentum buffer starts as the gradient, as torch.optim.SGD
  const double* lr_on_device = nullptr;
};
struct RmspropHyper {
  double lr, alpha, eps, weight_decay, momentum;
  const double* lr_on_device = nullptr;
};

// The argument checks both backends run before an update.
namespace optim_checks {

inline void state_lists(const char* op, const std::vector<Tensor>& params,
                        std::initializer_list<const std::vector<Tensor>*> others) {
  for (const auto* l : others)
    GAN_CHECK(l->size() == params.size(),
              op << ": " << params.size() << " parameters but a state list of " << l->size());
}

inline void adam(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq, const AdamHyper& h) {
  state_lists("adam_step", params, {&grads, &exp_avg, &exp_avg_sq});
  GAN_CHECK(h.step >= 1, "adam_step: step " << h.step << " (steps count from 1)");
}

inline void sgd(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& momentum_buf, const SgdHyper& h) {
  state_lists("sgd_step", params, {&grads});
  if (h.momentum != 0.0) state_lists("sgd_step", params, {&momentum_buf});
}

inline void rmsprop(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<Tensor>& square_avg, const std::vector<Tensor>& momentum_buf,
                    const RmspropHyper& h) {
  state_lists("rmsprop_step", params, {&grads, &square_avg});
  if (h.momentum > 0.0) state_lists("rmsprop_step", params, {&momentum_buf});
}

inline void clamp(double c) { GAN_CHECK(c >= 0, "clamp_params: clip value " << c << " is negative"); }

}  // namespace optim_checks
}  // namespace gan

#define GAN_OPTIM_PRIMITIVES                                                                              \
  void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,                    \
                 const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq,              \
                 const AdamHyper& h);                                                                    \
  /* momentum_buf entries may be undefined when momentum == 0 */                                         \
  void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,                     \
                const std::vector<Tensor>& momentum_buf, const SgdHyper& h);                             \
  void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,                 \
                    const std::vector<Tensor>& square_avg, const std::vector<Tensor>& momentum_buf,      \
                    const RmspropHyper& h);                                                              \
  /* p = clamp(p, -c, c) for every p (WGAN weight clipping) */                                           \
  void clamp_params(const std::vector<Tensor>& params, double c);

GAN_DECLARE_PRIMITIVES(GAN_OPTIM_PRIMITIVES)
