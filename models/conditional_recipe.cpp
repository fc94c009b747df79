#include "models/conditional_recipe.h"

#include <cmath>

#include "engine/ops/ops.h"
#include "models/gan_recipe.h"
#include "models/model.h"

namespace gan::models {

Tensor draw_codes(const std::vector<LatentCode>& codes, int64_t n, Generator& gen, Device device,
                  std::vector<Tensor>* ids) {
  std::vector<Tensor> blocks;
  for (const LatentCode& c : codes) {
    if (c.categorical) {
      std::vector<float> u = Tensor::rand({n}, &gen).to_float_vector();
      for (float& v : u) v = std::min(std::floor(v * static_cast<float>(c.size)), static_cast<float>(c.size - 1));
      Tensor id = Tensor::from_vector(u, {n}).to(device);
      if (ids) ids->push_back(id);
      blocks.push_back(one_hot(id, c.size));
    } else {
      blocks.push_back(Tensor::rand({n, c.size}, &gen, -1.0, 1.0, DType::Float32, device));
    }
  }
  return blocks.size() == 1 ? blocks[0] : cat(blocks, 1);
}

ConditionalRecipe::ConditionalRecipe(const TrainConfig& cfg, Device device, std::unique_ptr<GanLoss> loss)
    : model_(cfg.model), n_samples_(cfg.n_samples), info_lambda_(cfg.info_lambda),
      info_detach_(cfg.info_detach), q_in_generator_step_(cfg.info_q_step == "generator"),
      learned_variance_(cfg.model.info_var == "learned"), loss_(std::move(loss)) {
  GAN_CHECK(loss_ && loss_->discriminator_steps() >= 1, "ConditionalRecipe: a loss with at least one critic step");
  if (!model_.codes.empty()) codes_ = parse_codes(model_.codes);
  Generator init(cfg.seed);
  g_ = std::make_shared<ConditionalGenerator>(model_, init);
  d_ = std::make_shared<ConditionalDiscriminator>(model_, init);
  if (!codes_.empty()) q_ = std::make_shared<InfoHead>(d_->feature_width(), model_, init);
  spectral_norm_as_configured(model_, *g_, true, init);
  spectral_norm_as_configured(model_, *d_, false, init);
  if (q_) spectral_norm_as_configured(model_, *q_, false, init);
  for (auto& [name, m] : networks()) m->to(device);
  loss_->check_discriminator(*d_);
}

std::vector<std::pair<std::string, nn::Module*>> ConditionalRecipe::networks() const {
  std::vector<std::pair<std::string, nn::Module*>> n{{"generator", g_.get()}, {"discriminator", d_.get()}};
  if (q_) n.emplace_back("q", q_.get());
  return n;
}

std::vector<OptimizerGroup> ConditionalRecipe::optimizer_groups() const {
  OptimizerGroup d{"discriminator", Phase::Critic, {"discriminator"}};
  if (q_ && q_in_generator_step_) return {{"generator", Phase::Generator, {"generator"}}, d, {"q", Phase::Generator, {"q"}}};
  if (q_) d.networks.push_back("q");  // Q and D's trunk learn to read the codes together
  return {{"generator", Phase::Generator, {"generator"}}, d};
}

Tensor ConditionalRecipe::condition(StepContext& ctx, int64_t n, std::vector<Tensor>* ids) {
  if (model_.conditional()) {
    const Tensor& y = ctx.batch().labels;
    GAN_CHECK(y.defined() && y.size(0) == n, "conditional GAN: the data gave no class labels for the batch");
    return y;
  }
  ids->clear();
  Tensor codes = draw_codes(codes_, n, ctx.rng(), ctx.batch().real.device(), ids);
  ctx.show("codes", codes);
  return codes;
}

Tensor ConditionalRecipe::fake(StepContext& ctx, bool with_history) {
  const int64_t n = ctx.batch().real.size(0);
  Tensor z = ctx.noise(noise_shape(model_, n));
  cond_ = condition(ctx, n, &cat_ids_);
  auto pass = ctx.name_pass("generator", "");
  if (with_history) return g_->forward(z, cond_);
  NoGradGuard no_grad;
  return g_->forward(z, cond_);
}

Tensor ConditionalRecipe::critic_loss(StepContext& ctx) {
  const Tensor& real = ctx.batch().real;
  const bool reuse = critic_steps() == 1;  // G(z, c) keeps its history for the generator step
  Tensor f = fake(ctx, reuse);
  fake_ = reuse ? f : Tensor();
  Tensor fake_in = f.detach();
  const Tensor y = model_.conditional() ? cond_ : Tensor();
  CriticOutput r, fo;
  {
    auto pass = ctx.name_pass("discriminator", "real");
    r = d_->run(ctx.critic_input(real), y);
  }
  {
    auto pass = ctx.name_pass("discriminator", "fake");
    fo = d_->run(ctx.critic_input(fake_in), y);
  }
  std::function<void(const std::string&, const Tensor&)> show = [&](const std::string& n, const Tensor& t) { ctx.show(n, t); };
  Tensor loss;
  {
    auto pass = ctx.name_pass("discriminator", "penalty");
    ConditionalDiscriminator::Bind bind(*d_, y);  // the interpolates share the batch's labels
    loss = loss_->discriminator_loss({*d_, real, fake_in, r.logit, fo.logit, &ctx.rng(), &show});
  }
  if (d_->aux) {
    Tensor cl = add(softmax_cross_entropy(r.class_logits, y), softmax_cross_entropy(fo.class_logits, y));
    ctx.log("class_loss", cl);
    loss = add(loss, cl);
  }
  if (q_ && !q_in_generator_step_)
    loss = add(loss, mul(info_term(ctx, info_detach_ ? fo.features.detach() : fo.features, "fake"), info_lambda_));
  log_critic_step(ctx, r.logit, fo.logit, *loss_);
  return loss;
}

Tensor ConditionalRecipe::info_loss(const Tensor& q, const std::vector<Tensor>& ids, const Tensor& codes) const {
  Tensor total;
  int64_t out = 0, in = 0;
  size_t cat_index = 0;
  for (const LatentCode& c : codes_) {
    Tensor term;
    if (c.categorical) {
      term = softmax_cross_entropy(slice(q, 1, out, out + c.size), ids.at(cat_index++));
      out += c.size;
    } else if (learned_variance_) {
      term = gaussian_nll(slice(codes, 1, in, in + c.size), slice(q, 1, out, out + c.size),
                          slice(q, 1, out + c.size, out + 2 * c.size));
      out += 2 * c.size;
    } else {  // unit variance: the NLL without a log-variance input
      term = gaussian_nll(slice(codes, 1, in, in + c.size), slice(q, 1, out, out + c.size), Tensor());
      out += c.size;
    }
    in += c.size;
    total = total.defined() ? add(total, term) : term;
  }
  return total;
}

Tensor ConditionalRecipe::info_term(StepContext& ctx, const Tensor& features, const char* pass_name) {
  Tensor q;
  {
    auto pass = ctx.name_pass("q", pass_name);
    q = (*q_)(features);
  }
  Tensor info = info_loss(q, cat_ids_, cond_);
  ctx.log("info_loss", info);
  return info;
}

Tensor ConditionalRecipe::generator_loss(StepContext& ctx) {
  Tensor f = critic_steps() == 1 ? std::move(fake_) : fake(ctx, true);
  fake_ = Tensor();
  const Tensor y = model_.conditional() ? cond_ : Tensor();
  CriticOutput o;
  {
    auto pass = ctx.name_pass("discriminator", "gstep");
    o = d_->run(ctx.critic_input(f), y);
  }
  Tensor loss = loss_->generator_loss(o.logit);
  if (d_->aux) loss = add(loss, softmax_cross_entropy(o.class_logits, y));
  if (q_) loss = add(loss, mul(info_term(ctx, o.features, "gstep"), info_lambda_));
  return loss;
}

std::vector<ScalarSpec> ConditionalRecipe::scalars() const {
  std::vector<ScalarSpec> s = adversarial_scalars();
  if (model_.conditional() && model_.cond_method == "acgan") s.push_back({"class_loss", "the class loss", "cls", false});
  if (q_) s.push_back({"info_loss", "the information loss", "info", false});
  return s;
}

std::vector<CurvePanel> ConditionalRecipe::curves() const {
  std::vector<CurvePanel> c{discriminator_outputs_panel()};
  if (model_.conditional() && model_.cond_method == "acgan") c.push_back({"auxiliary classifier: cross-entropy, real + fake", {"class_loss"}, false});
  if (q_) c.push_back({"InfoGAN: cross-entropy + Gaussian NLL of the codes", {"info_loss"}, false});
  return c;
}

// Rows of the sample grids: the classes, or the values of the first categorical code (0: none).
int64_t ConditionalRecipe::grid_rows() const {
  if (model_.conditional()) return model_.num_classes;
  for (const LatentCode& c : codes_)
    if (c.categorical) return c.size;
  return 0;
}

int64_t ConditionalRecipe::sample_columns() const {
  return grid_rows() > 0 ? std::max<int64_t>(1, n_samples_ / grid_rows()) : 0;
}

std::vector<Tensor> ConditionalRecipe::sample_inputs(int64_t n, Generator& gen, Device device) const {
  const int64_t rows = grid_rows(), cols = rows > 0 ? std::max<int64_t>(1, n / rows) : n;
  if (rows == 0) return {draw_noise(model_, noise_shape(model_, n), gen, device),
                         draw_codes(codes_, n, gen, device, nullptr)};
  // One row per class (or first-code value); z and the other codes drawn per column, repeated down.
  Tensor z = draw_noise(model_, noise_shape(model_, cols), gen, device);
  std::vector<float> row_of;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) row_of.push_back(static_cast<float>(r));
  Tensor rows_t = Tensor::from_vector(row_of, {rows * cols}).to(device);
  Tensor zs = cat(std::vector<Tensor>(static_cast<size_t>(rows), z), 0);
  if (model_.conditional()) return {zs, rows_t};
  Tensor codes = cat(std::vector<Tensor>(static_cast<size_t>(rows), draw_codes(codes_, cols, gen, device, nullptr)), 0);
  int64_t off = 0;
  for (const LatentCode& c : codes_) {
    if (c.categorical) break;
    off += c.size;
  }
  const int64_t w = codes.size(1);
  std::vector<Tensor> parts;
  if (off > 0) parts.push_back(slice(codes, 1, 0, off));
  parts.push_back(one_hot(rows_t, rows));
  if (off + rows < w) parts.push_back(slice(codes, 1, off + rows, w));
  return {zs, parts.size() == 1 ? parts[0] : cat(parts, 1)};
}

}  // namespace gan::models
