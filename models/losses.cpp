#include "models/losses.h"

#include "engine/ops/ops.h"

namespace gan::models {

Tensor BceLoss::discriminator_loss(const DiscriminatorLossInputs& in) {
  return add(bce_with_logits(in.d_real, 1.0), bce_with_logits(in.d_fake, 0.0));
}

Tensor BceLoss::generator_loss(const Tensor& d_fake) { return bce_with_logits(d_fake, 1.0); }

std::unique_ptr<GanLoss> make_loss(const std::string& name) {
  if (name == "bce") return std::make_unique<BceLoss>();
  GAN_FAIL("unknown loss '" << name << "' (available: bce)");
}

}  // namespace gan::models
