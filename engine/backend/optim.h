// Fused optimizer updates over a list of parameters (one launch per step on CUDA: multi-tensor).
// All tensors of one call share device and dtype; params are updated in place.
#pragma once
#include <vector>

#include "engine/backend/dispatch.h"
#include "engine/core/tensor.h"

namespace gan {
struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;  // L2 weight decay added to the gradient, as torch.optim.Adam
  int64_t step;                                 // 1-based, for bias correction
};
struct SgdHyper {
  double lr, momentum, weight_decay;
  bool first_step;  // momentum buffer starts as the gradient, as torch.optim.SGD
};
struct RmspropHyper {
  double lr, alpha, eps, weight_decay, momentum;
};
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
