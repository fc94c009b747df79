// Differentiable losses.
#pragma once
#include "engine/core/tensor.h"

namespace gan {

enum class Reduction { None, Mean, Sum };

// Binary cross-entropy on logits: max(x,0) - x t + log(1 + exp(-|x|)), element-wise, then reduced.
// Stable for any logit; the gradient w.r.t. logits is sigmoid(x) - t (scaled by the reduction).
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, Reduction reduction = Reduction::Mean);
// Same with a constant target everywhere (1 for real, 0 for fake): no target tensor is built.
Tensor bce_with_logits(const Tensor& logits, double target, Reduction reduction = Reduction::Mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace gan
