// GAN objectives as interchangeable strategies: the trainer asks a GanLoss for the
// discriminator's and the generator's loss, how many discriminator (critic) steps to take per
// generator step, whether to clip the critic's weights after each of them, and which extra terms
// (Wasserstein estimate, gradient penalty, gradient norm) to log.
//
//   bce      L_D = BCE(D(x), 1) + BCE(D(G(z)), 0)          L_G = BCE(D(G(z)), 1)  (non-saturating)
//            (--label-smoothing s: BCE(D(x), s), one-sided: fakes keep 0, G's target stays 1)
//   wgan     L_D = mean D(G(z)) - mean D(x), weights clipped to [-c, c] after each critic step
//            L_G = -mean D(G(z))                                    (Arjovsky et al. 2017)
//   wgan-gp  L_D = mean D(G(z)) - mean D(x) + lambda mean_n (||grad D(xhat_n)|| - 1)^2
//            xhat_n = eps_n x_n + (1 - eps_n) G(z)_n, one eps_n ~ U[0, 1] per sample
//            L_G = -mean D(G(z))                                    (Gulrajani et al. 2017)
//   lsgan    L_D = 0.5 mean (D(x) - 1)^2 + 0.5 mean D(G(z))^2
//            L_G = 0.5 mean (D(G(z)) - 1)^2                          (Mao et al. 2017, a-b-c = 0-1-1)
//   hinge    L_D = mean relu(1 - D(x)) + mean relu(1 + D(G(z)))
//            L_G = -mean D(G(z))                                    (Lim & Ye 2017; Miyato et al. 2018)
// D's outputs are raw (no sigmoid) for all of them.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/rng/generator.h"

namespace gan::models {

struct TrainConfig;

// What a discriminator loss may look at. `fake` carries no history (the generator is not
// updated by this loss); `d_real`, `d_fake` are the discriminator's outputs on them. `rng` is
// the run's seeded generator (WGAN-GP draws its interpolation weights from it); `show`, when
// given, is shown the loss's intermediate tensors by name (the penalty's "penalty.xhat" and
// "penalty.input_grad", for `gan trace`).
struct DiscriminatorLossInputs {
  nn::Module& discriminator;
  const Tensor& real;
  const Tensor& fake;
  const Tensor& d_real;
  const Tensor& d_fake;
  Generator* rng = nullptr;
  const std::function<void(const std::string&, const Tensor&)>* show = nullptr;
};

// Scalars a loss reports beside its value (0-dim, no history; undefined when it has none).
struct LossTerms {
  Tensor wasserstein;       // mean D(x) - mean D(G(z)): the critic's estimate of W1 (WGAN family)
  Tensor gradient_penalty;  // lambda mean (||g|| - 1)^2
  Tensor grad_norm;         // mean over samples of ||dD(xhat)/dxhat||
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
  // > 0: every critic weight is clamped to [-c, c] after each critic update.
  virtual double weight_clip() const { return 0; }
  // Throws when the discriminator cannot be trained with this loss (called once, up front).
  virtual void check_discriminator(nn::Module&) const {}
  // The terms of the most recent discriminator_loss call.
  virtual LossTerms terms() const { return {}; }
};

// A loss that looks at D's outputs only, given by its two formulas: bce (the standard GAN with the
// non-saturating generator loss, on logits), lsgan and hinge.
class OutputLoss : public GanLoss {
 public:
  using CriticFormula = std::function<Tensor(const Tensor& d_real, const Tensor& d_fake)>;
  using GeneratorFormula = std::function<Tensor(const Tensor& d_fake)>;
  OutputLoss(std::string name, CriticFormula critic, GeneratorFormula generator, int n_critic = 1);
  std::string name() const override { return name_; }
  Tensor discriminator_loss(const DiscriminatorLossInputs& in) override { return critic_(in.d_real, in.d_fake); }
  Tensor generator_loss(const Tensor& d_fake) override { return generator_(d_fake); }
  int discriminator_steps() const override { return n_critic_; }

 private:
  std::string name_;
  CriticFormula critic_;
  GeneratorFormula generator_;
  int n_critic_;
};

// The Wasserstein critic: WGAN keeps it Lipschitz by clipping its weights (clip > 0), WGAN-GP
// (below) by the gradient penalty instead.
class WganLoss : public GanLoss {
 public:
  WganLoss(int n_critic = 5, double clip = 0.01);
  std::string name() const override { return "wgan"; }
  Tensor discriminator_loss(const DiscriminatorLossInputs& in) override;
  Tensor generator_loss(const Tensor& d_fake) override;
  int discriminator_steps() const override { return n_critic_; }
  double weight_clip() const override { return clip_; }
  LossTerms terms() const override { return terms_; }

 protected:
  WganLoss(const char* who, int n_critic, double clip);
  int n_critic_;
  double clip_;
  LossTerms terms_;
};

class WganGpLoss : public WganLoss {
 public:
  WganGpLoss(int n_critic = 5, double lambda = 10.0);
  std::string name() const override { return "wgan-gp"; }
  // Needs in.rng. Adds the penalty's double-backward graph: backward() of the result reaches
  // the critic's parameters through grad(D(xhat), xhat) taken with create_graph.
  Tensor discriminator_loss(const DiscriminatorLossInputs& in) override;
  // Refuses a critic holding batch norm (see the message).
  void check_discriminator(nn::Module& d) const override;

 private:
  double lambda_;
};

// The losses `gan train --loss` knows.
const std::vector<std::string>& loss_names();

// A loss with its paper's defaults (models/config.h); throws naming an unknown loss.
std::unique_ptr<GanLoss> make_loss(const std::string& name);
// The loss of a run, with the run's n_critic / gp_lambda / clip.
std::unique_ptr<GanLoss> make_loss(const TrainConfig& cfg);


}  // namespace gan::models
