#include "models/cyclegan_recipe.h"

#include <algorithm>

#include "engine/ops/ops.h"

namespace gan::models {

std::shared_ptr<ResnetGenerator> build_translator(const ModelConfig& m) {
  Generator unused(0);
  return std::make_shared<ResnetGenerator>(m.channels, m.ngf, m.res_blocks, unused);
}

CycleGanRecipe::CycleGanRecipe(const TrainConfig& cfg, Device device, std::vector<Tensor> examples)
    : model_(cfg.model),
      loss_(cfg.loss),
      cycle_lambda_(cfg.cycle_lambda),
      identity_lambda_(cfg.identity_lambda),
      examples_(std::move(examples)) {
  GAN_CHECK(model_.cyclegan() && model_.res_blocks > 0 && model_.d_layers > 0,
            "CycleGanRecipe: a cyclegan model with its sizes settled (cyclegan_defaults), got " << model_.arch);
  GAN_CHECK(examples_.size() == 2, "CycleGanRecipe: example images of two domains, got " << examples_.size());
  Generator init(cfg.seed);  // the order fixes every weight: g_ab, g_ba, d_a, d_b
  const int64_t c = model_.channels;
  g_ab_ = std::make_shared<ResnetGenerator>(c, model_.ngf, model_.res_blocks, init);
  g_ba_ = std::make_shared<ResnetGenerator>(c, model_.ngf, model_.res_blocks, init);
  d_a_ = std::make_shared<PatchDiscriminator>(c, model_.ndf, model_.d_layers, init);
  d_b_ = std::make_shared<PatchDiscriminator>(c, model_.ndf, model_.d_layers, init);
  pool_a_ = std::make_shared<ImagePool>(cfg.pool_size, c, model_.image_size);
  pool_b_ = std::make_shared<ImagePool>(cfg.pool_size, c, model_.image_size);
  for (auto& [name, m] : networks()) m->to(device);
  columns_ = std::clamp<int64_t>(cfg.n_samples, 1, 8);
}

std::vector<std::pair<std::string, nn::Module*>> CycleGanRecipe::networks() const {
  return {{"g_ab", g_ab_.get()}, {"g_ba", g_ba_.get()},     {"d_a", d_a_.get()},
          {"d_b", d_b_.get()},   {"pool_a", pool_a_.get()}, {"pool_b", pool_b_.get()}};
}

std::vector<OptimizerGroup> CycleGanRecipe::optimizer_groups() const {
  return {{"generators", Phase::Generator, {"g_ab", "g_ba"}}, {"discriminators", Phase::Critic, {"d_a", "d_b"}}};
}

Tensor CycleGanRecipe::criterion(const Tensor& pred, bool real) const {
  if (loss_ == "bce") return bce_with_logits(pred, real ? 1.0 : 0.0);
  return mean(square(real ? add(pred, -1.0) : pred));  // nn.MSELoss against a constant target
}

Tensor CycleGanRecipe::critic_loss(StepContext& ctx) {
  const Tensor& a = ctx.batch().real;
  const Tensor& b = ctx.batch().real_b;
  GAN_CHECK(b.defined(), "cyclegan: the data gave no domain-B batch (an unpaired source is needed)");
  Tensor fake_b, fake_a;
  {
    NoGradGuard no_grad;
    fake_b = pool_b_->query(ctx.run("g_ab", "fake", a), ctx.rng());
    fake_a = pool_a_->query(ctx.run("g_ba", "fake", b), ctx.rng());
  }
  ctx.show("pool_b", fake_b);
  ctx.show("pool_a", fake_a);
  Tensor loss_d_b = mul(add(criterion(ctx.run("d_b", "real", b), true), criterion(ctx.run("d_b", "fake", fake_b), false)), 0.5);
  Tensor loss_d_a = mul(add(criterion(ctx.run("d_a", "real", a), true), criterion(ctx.run("d_a", "fake", fake_a), false)), 0.5);
  ctx.log("loss_d_a", loss_d_a);
  ctx.log("loss_d_b", loss_d_b);
  return add(loss_d_a, loss_d_b);
}

Tensor CycleGanRecipe::generator_loss(StepContext& ctx) {
  const Tensor& a = ctx.batch().real;
  const Tensor& b = ctx.batch().real_b;
  Tensor fake_b = ctx.run("g_ab", "gstep", a);
  Tensor fake_a = ctx.run("g_ba", "gstep", b);
  Tensor adv_ab = criterion(ctx.run("d_b", "gstep", fake_b), true);
  Tensor adv_ba = criterion(ctx.run("d_a", "gstep", fake_a), true);
  Tensor cycle_a = mul(l1_loss(ctx.run("g_ba", "cycle", fake_b), a), cycle_lambda_);
  Tensor cycle_b = mul(l1_loss(ctx.run("g_ab", "cycle", fake_a), b), cycle_lambda_);
  Tensor loss = add(add(adv_ab, adv_ba), add(cycle_a, cycle_b));
  ctx.log("adv_ab", adv_ab);
  ctx.log("adv_ba", adv_ba);
  ctx.log("cycle_a", cycle_a);
  ctx.log("cycle_b", cycle_b);
  if (identity_lambda_ > 0) {  // as the reference, the identity passes run only when weighted
    const double w = cycle_lambda_ * identity_lambda_;
    Tensor idt_b = mul(l1_loss(ctx.run("g_ab", "identity", b), b), w);  // g_ab should leave B alone
    Tensor idt_a = mul(l1_loss(ctx.run("g_ba", "identity", a), a), w);
    ctx.log("idt_a", idt_a);
    ctx.log("idt_b", idt_b);
    loss = add(loss, add(idt_a, idt_b));
  }
  return loss;
}

std::vector<ScalarSpec> CycleGanRecipe::scalars() const {
  return {{"loss_d_a", "D_A's loss", "D_A", true},
          {"loss_d_b", "D_B's loss", "D_B", true},
          {"adv_ab", "G_AB's adversarial loss", "G_AB", true},
          {"adv_ba", "G_BA's adversarial loss", "G_BA", true},
          {"cycle_a", "the cycle loss of A", "cyc_A", true},
          {"cycle_b", "the cycle loss of B", "cyc_B", true},
          {"idt_a", "the identity loss of A", "", false},
          {"idt_b", "the identity loss of B", "", false}};
}

std::vector<CurvePanel> CycleGanRecipe::curves() const {
  return {{"adversarial terms", {"loss_d_a", "loss_d_b", "adv_ab", "adv_ba"}, false},
          {"cycle and identity terms (weighted)", {"cycle_a", "cycle_b", "idt_a", "idt_b"}, false}};
}

std::vector<Tensor> CycleGanRecipe::sample_inputs(int64_t n, Generator&, Device device) const {
  std::vector<Tensor> out;
  for (const Tensor& e : examples_) out.push_back(slice(e, 0, 0, std::min(n, e.size(0))).to(device));
  return out;
}

Tensor CycleGanRecipe::generate(const std::vector<Tensor>& inputs) {
  GAN_CHECK(inputs.size() == 2, "cyclegan: sample inputs are {a, b}, got " << inputs.size() << " tensors");
  std::vector<Tensor> rows;
  auto add_rows = [&](const Tensor& x, ResnetGenerator& there, ResnetGenerator& back) {
    const Tensor y = there(x), z = back(y);
    for (int64_t s = 0; s < x.size(0); s += columns_) {  // each chunk: its images, translated, cycled back
      const int64_t e = std::min(x.size(0), s + columns_);
      for (const Tensor* t : std::initializer_list<const Tensor*>{&x, &y, &z}) {
        Tensor part = slice(*t, 0, s, e);
        if (e - s < columns_)  // a short last chunk keeps its rows aligned: black padding
          part = cat({part, Tensor::full({columns_ - (e - s), t->size(1), t->size(2), t->size(3)}, -1.0, t->dtype(), t->device())}, 0);
        rows.push_back(part);
      }
    }
  };
  add_rows(inputs[0], *g_ab_, *g_ba_);
  add_rows(inputs[1], *g_ba_, *g_ab_);
  return cat(rows, 0);
}

std::unique_ptr<Recipe> make_cyclegan_recipe(const TrainConfig& cfg, Device device, const DataSource& data) {
  return std::make_unique<CycleGanRecipe>(cfg, device, data.examples(cfg.n_samples));
}

}  // namespace gan::models
