// GAN objectives as interchangeable strategies: the trainer asks a GanLoss for the
// discriminator's and the generator's loss and how many discriminator steps to take per
// generator step, so other objectives (WGAN-GP, hinge, least squares) plug in beside BCE.
#pragma once
#include <memory>
#include <string>

#include "engine/nn/module.h"

namespace gan::models {

// What a discriminator loss may look at. `fake` carries no history (the generator is not
// updated by this loss); `d_real`, `d_fake` are the discriminator's outputs on them.
struct DiscriminatorLossInputs {
  nn::Module& discriminator;
  const Tensor& real;
  const Tensor& fake;
  const Tensor& d_real;
  const Tensor& d_fake;
};

class GanLoss {
 public:
  virtual ~GanLoss() = default;
  virtual std::string name() const = 0;
  virtual Tensor discriminator_loss(const DiscriminatorLossInputs& in) = 0;
  // The generator's loss from the discriminator's output on generated images (with history).
  virtual Tensor generator_loss(const Tensor& d_fake) = 0;
  // Discriminator (critic) updates per generator update.
  virtual int discriminator_steps() const { return 1; }
};

// The standard GAN with the non-saturating generator loss, on logits:
//   L_D = BCE(D(x), 1) + BCE(D(G(z)), 0),   L_G = BCE(D(G(z)), 1) = -log sigmoid(D(G(z))).
class BceLoss : public GanLoss {
 public:
  std::string name() const override { return "bce"; }
  Tensor discriminator_loss(const DiscriminatorLossInputs& in) override;
  Tensor generator_loss(const Tensor& d_fake) override;
};

// "bce"; throws naming the unknown loss.
std::unique_ptr<GanLoss> make_loss(const std::string& name);

}  // namespace gan::models
