#include "models/gan_recipe.h"

#include "engine/ops/ops.h"
#include "models/conditional_recipe.h"
#include "models/config.h"
#include "models/cyclegan_recipe.h"

namespace gan::models {

GanRecipe::GanRecipe(GanModel model, std::unique_ptr<GanLoss> loss) : model_(std::move(model)), loss_(std::move(loss)) {
  GAN_CHECK(loss_ && loss_->discriminator_steps() >= 1, "GanRecipe: a loss with at least one discriminator step");
  loss_->check_discriminator(*model_.discriminator);
}

std::vector<std::pair<std::string, nn::Module*>> GanRecipe::networks() const {
  return {{"generator", model_.generator.get()}, {"discriminator", model_.discriminator.get()}};
}

std::vector<OptimizerGroup> GanRecipe::optimizer_groups() const {
  return {{"generator", Phase::Generator, {"generator"}}, {"discriminator", Phase::Critic, {"discriminator"}}};
}

Tensor GanRecipe::critic_loss(StepContext& ctx) {
  const Tensor& real = ctx.batch().real;
  Tensor z = ctx.noise(model_.noise_shape(real.size(0)));
  Tensor fake;
  if (ctx.point().critic_steps == 1) {
    fake = fake_ = ctx.run("generator", "", z);  // kept with its history for the generator step
  } else {
    NoGradGuard no_grad;
    fake = ctx.run("generator", "", z);
  }
  Tensor fake_in = fake.detach();
  Tensor d_real = ctx.run("discriminator", "real", ctx.critic_input(real));
  Tensor d_fake = ctx.run("discriminator", "fake", ctx.critic_input(fake_in));
  std::function<void(const std::string&, const Tensor&)> show = [&](const std::string& n, const Tensor& t) { ctx.show(n, t); };
  Tensor loss;
  {
    auto penalty = ctx.name_pass("discriminator", "penalty");
    loss = loss_->discriminator_loss({*model_.discriminator, real, fake_in, d_real, d_fake, &ctx.rng(), &show});
  }
  log_critic_step(ctx, d_real, d_fake, *loss_);
  return loss;
}

Tensor GanRecipe::generator_loss(StepContext& ctx) {
  if (ctx.point().critic_steps != 1) fake_ = ctx.run("generator", "", ctx.noise(model_.noise_shape(ctx.batch().real.size(0))));
  Tensor fake = std::move(fake_);
  return loss_->generator_loss(ctx.run("discriminator", "gstep", ctx.critic_input(fake)));
}

void log_critic_step(StepContext& ctx, const Tensor& d_real, const Tensor& d_fake, const GanLoss& loss) {
  NoGradGuard no_grad;
  if (ctx.point().critic_index == 0) {
    ctx.log("d_x", mean(sigmoid(d_real.detach())));
    ctx.log("d_g_z", mean(sigmoid(d_fake.detach())));
  }
  const LossTerms t = loss.terms();
  ctx.log("wasserstein", t.wasserstein);
  ctx.log("gradient_penalty", t.gradient_penalty);
  ctx.log("grad_norm", t.grad_norm);
}

std::vector<ScalarSpec> adversarial_scalars() {
  return {{"d_x", "D(x)", "D(x)", true},
          {"d_g_z", "D(G(z))", "D(G(z))", true},
          {"wasserstein", "the Wasserstein estimate", "W", false},
          {"gradient_penalty", "the gradient penalty", "", false},
          {"grad_norm", "the gradient norm", "", false}};
}

CurvePanel discriminator_outputs_panel() { return {"discriminator outputs (mean sigmoid)", {"d_x", "d_g_z"}, true}; }

std::vector<ScalarSpec> GanRecipe::scalars() const { return adversarial_scalars(); }

std::vector<CurvePanel> GanRecipe::curves() const { return {discriminator_outputs_panel()}; }

std::vector<Tensor> GanRecipe::sample_inputs(int64_t n, Generator& gen, Device device) const {
  return {model_.noise(n, gen, device)};
}

std::unique_ptr<Recipe> make_recipe(const TrainConfig& cfg, Device device, std::unique_ptr<GanLoss> loss,
                                    const DataSource* data) {
  if (cfg.recipe == "cyclegan") {
    GAN_CHECK(data && !loss, "make_recipe: the cyclegan recipe takes its data source and no other loss");
    return make_cyclegan_recipe(cfg, device, *data);
  }
  if (cfg.model.conditional() || !cfg.model.codes.empty())
    return std::make_unique<ConditionalRecipe>(cfg, device, loss ? std::move(loss) : make_loss(cfg));
  Generator init(cfg.seed);
  GanModel m = build_model(cfg.model, init);
  m.generator->to(device);
  m.discriminator->to(device);
  return std::make_unique<GanRecipe>(std::move(m), loss ? std::move(loss) : make_loss(cfg));
}

}  // namespace gan::models
