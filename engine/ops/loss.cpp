// Losses, composed from differentiable ops so that every loss can sit under a double backward.
#include "engine/ops/loss.h"

#include "engine/ops/ops.h"

namespace gan {

static Tensor reduce(const Tensor& x, Reduction r) {
  switch (r) {
    case Reduction::None: return x;
    case Reduction::Mean: return mean(x);
    case Reduction::Sum: return sum(x);
  }
  GAN_FAIL("loss: unknown reduction");
}

// softplus(x) - x t  ==  max(x, 0) - x t + log(1 + exp(-|x|)): never overflows.
// Gradient: sigmoid(x) - t.
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, Reduction reduction) {
  check_same_device_dtype("bce_with_logits", {&logits, &targets});
  check_same_shape("bce_with_logits", logits, targets);
  return reduce(sub(softplus(logits), mul(logits, targets)), reduction);
}

Tensor bce_with_logits(const Tensor& logits, double target, Reduction reduction) {
  GAN_CHECK(target >= 0 && target <= 1, "bce_with_logits: target " << target << " outside [0, 1]");
  Tensor per = softplus(logits);
  if (target != 0) per = sub(per, mul(logits, target));
  return reduce(per, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_device_dtype("mse_loss", {&input, &target});
  check_same_shape("mse_loss", input, target);
  return reduce(square(sub(input, target)), reduction);
}

}  // namespace gan
