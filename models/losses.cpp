#include "models/losses.h"

#include "engine/autograd/autograd.h"
#include "engine/ops/ops.h"
#include "models/config.h"

namespace gan::models {

static void check_steps(int n_critic, const char* who) {
  GAN_CHECK(n_critic >= 1, who << ": needs at least one critic step per generator step, got " << n_critic);
}

OutputLoss::OutputLoss(std::string name, CriticFormula critic, GeneratorFormula generator, int n_critic)
    : name_(std::move(name)), critic_(std::move(critic)), generator_(std::move(generator)), n_critic_(n_critic) {
  check_steps(n_critic, name_.c_str());
}

// The formulas of the header comment of losses.h.
static Tensor bce_d(const Tensor& r, const Tensor& f) { return add(bce_with_logits(r, 1.0), bce_with_logits(f, 0.0)); }
static Tensor bce_g(const Tensor& f) { return bce_with_logits(f, 1.0); }
static Tensor lsgan_d(const Tensor& r, const Tensor& f) {
  return add(mul(mean(square(add(r, -1.0))), 0.5), mul(mean(square(f)), 0.5));
}
static Tensor lsgan_g(const Tensor& f) { return mul(mean(square(add(f, -1.0))), 0.5); }
static Tensor hinge_d(const Tensor& r, const Tensor& f) { return add(mean(relu(add(neg(r), 1.0))), mean(relu(add(f, 1.0)))); }
static Tensor minus_mean(const Tensor& f) { return neg(mean(f)); }

WganLoss::WganLoss(const char* who, int n_critic, double clip) : n_critic_(n_critic), clip_(clip) {
  check_steps(n_critic, who);
}

WganLoss::WganLoss(int n_critic, double clip) : WganLoss("wgan", n_critic, clip) {
  GAN_CHECK(clip > 0, "wgan: the weight clipping bound must be positive, got " << clip);
}

Tensor WganLoss::discriminator_loss(const DiscriminatorLossInputs& in) {
  Tensor w = sub(mean(in.d_real), mean(in.d_fake));
  terms_ = {w.detach(), Tensor(), Tensor()};
  return neg(w);
}

Tensor WganLoss::generator_loss(const Tensor& d_fake) { return minus_mean(d_fake); }

WganGpLoss::WganGpLoss(int n_critic, double lambda) : WganLoss("wgan-gp", n_critic, 0), lambda_(lambda) {
  GAN_CHECK(lambda >= 0, "wgan-gp: the penalty weight lambda must not be negative, got " << lambda);
}

Tensor WganGpLoss::discriminator_loss(const DiscriminatorLossInputs& in) {
  GAN_CHECK(in.rng, "wgan-gp: the discriminator loss needs the run's random generator (interpolation weights)");
  const Tensor& x = in.real;
  // One eps per sample: a per-pixel eps would put xhat off the segment between x and G(z),
  // where the optimal critic's gradient has unit norm.
  Tensor eps = Tensor::rand({x.size(0)}, in.rng, 0.0, 1.0, x.dtype(), x.device());
  Tensor xhat = interpolate_per_sample(x, in.fake, eps).detach().requires_grad_();
  Tensor g = grad({sum(in.discriminator(xhat))}, {xhat}, {}, /*create_graph=*/true)[0];
  if (in.show) {
    (*in.show)("penalty.xhat", xhat);
    (*in.show)("penalty.input_grad", g);
  }
  Tensor gp = gradient_penalty(g, lambda_);
  Tensor w = sub(mean(in.d_real), mean(in.d_fake));
  {
    NoGradGuard no_grad;
    terms_ = {w.detach(), gp.detach(), mean(per_sample_norm(g.detach()))};
  }
  return add(neg(w), gp);
}

void WganGpLoss::check_discriminator(nn::Module& d) const {
  for (auto& [path, m] : d.named_modules()) {
    GAN_CHECK(m->type_name().find("BatchNorm") == std::string::npos,
              "wgan-gp: the critic has " << m->type_name() << " at '" << path
                                         << "'; batch norm makes each output depend on the whole batch, so the "
                                            "per-sample gradient penalty no longer constrains D(x) for each x "
                                            "(Gulrajani et al. sec. 4): use --critic-norm layer or --critic-norm none");
  }
}

const std::vector<std::string>& loss_names() {
  static const std::vector<std::string> names{"bce", "wgan", "wgan-gp", "lsgan", "hinge"};
  return names;
}

std::unique_ptr<GanLoss> make_loss(const std::string& name) {
  LossDefaults d = loss_defaults(name, false);  // throws naming an unknown loss
  TrainConfig c;
  c.loss = name;
  c.n_critic = d.n_critic;
  c.gp_lambda = d.gp_lambda;
  c.clip = d.clip;
  return make_loss(c);
}

std::unique_ptr<GanLoss> make_loss(const TrainConfig& cfg) {
  const int k = static_cast<int>(cfg.n_critic);
  if (cfg.loss == "bce" && cfg.label_smoothing != 1.0) {
    const double target = cfg.label_smoothing;
    auto smoothed = [target](const Tensor& r, const Tensor& f) { return add(bce_with_logits(r, target), bce_with_logits(f, 0.0)); };
    return std::make_unique<OutputLoss>("bce", smoothed, bce_g, k);
  }
  if (cfg.loss == "bce") return std::make_unique<OutputLoss>("bce", bce_d, bce_g, k);
  if (cfg.loss == "wgan") return std::make_unique<WganLoss>(k, cfg.clip);
  if (cfg.loss == "wgan-gp") return std::make_unique<WganGpLoss>(k, cfg.gp_lambda);
  if (cfg.loss == "lsgan") return std::make_unique<OutputLoss>("lsgan", lsgan_d, lsgan_g, k);
  if (cfg.loss == "hinge") return std::make_unique<OutputLoss>("hinge", hinge_d, minus_mean, k);
  return make_loss(cfg.loss);  // throws naming the unknown loss
}

}  // namespace gan::models
