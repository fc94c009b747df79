// The training knobs of docs/training.md, each checked by its effect: uniform latent noise, the
// clipped gradient norm, per-network learning rates, weight decay, RMSprop's alpha, one-sided label
// smoothing and the generator's moving average (its formula, its checkpoint, sampling from it), and
// an exact resume with all of them on.
#include <cmath>

#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "models/checkpoint.h"
#include "models/losses.h"
#include "models/model.h"
#include "models/sampling.h"
#include "models/trainer.h"
#include "tests/resume_check.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

// sqrt(sum of squares) of every gradient of `params`, in float64 on the host.
double global_grad_norm(const std::vector<std::pair<std::string, Tensor>>& params) {
  double s = 0;
  for (auto& [n, p] : params) {
    if (!p.grad().defined()) continue;
    for (double v : p.grad().to(DType::Float64).to_double_vector()) s += v * v;
  }
  return std::sqrt(s);
}

std::map<std::string, std::vector<double>> params_of(nn::Module& m) {
  std::map<std::string, std::vector<double>> out;
  for (auto& [n, p] : m.named_parameters()) out[n] = p.to(DType::Float64).to_double_vector();
  return out;
}

double bce_reference(const std::vector<double>& logits, double target) {
  double s = 0;
  for (double x : logits) {
    const double p = 1 / (1 + std::exp(-x));
    s += -(target * std::log(p) + (1 - target) * std::log(1 - p));
  }
  return s / static_cast<double>(logits.size());
}

}  // namespace

TEST(Knobs, UniformNoiseLiesInTheCubeAndReachesTheGenerator) {
  models::ModelConfig m;
  m.noise = "uniform";
  Generator gen(3);
  std::vector<double> v = models::draw_noise(m, {4000, 8}, gen).to(DType::Float64).to_double_vector();
  double mean = 0, var = 0;
  for (double x : v) {
    ASSERT_GE(x, -1.0);
    ASSERT_LE(x, 1.0);
    mean += x;
  }
  mean /= static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  var /= static_cast<double>(v.size());
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0 / 3.0, 0.01);  // U[-1, 1] has variance 1/3; N(0, 1) would give 1

  // The trainer's noise stream follows the model's distribution.
  io::ImageDataset ds = random_images(12, 1, 32, 2);
  models::TrainConfig c = tiny_dcgan32(1);
  c.model.noise = "uniform";
  models::Trainer t(c, ds, Device::cpu());
  double lo = 0, hi = 0;
  models::StepHooks hooks;
  hooks.on_input = [&](const models::StepPoint&, const std::string& name, Tensor& x) {
    if (name != "noise") return;
    for (double z : x.to(DType::Float64).to_double_vector()) lo = std::min(lo, z), hi = std::max(hi, z);
  };
  t.train_step(&hooks);
  EXPECT_GE(lo, -1.0);
  EXPECT_LE(hi, 1.0);
  EXPECT_LT(lo, -0.5);  // drawn, not all zeros
  EXPECT_GT(hi, 0.5);
}

TEST(Knobs, GradClipBoundsTheNormAndLogsTheUnclippedOne) {
  io::ImageDataset ds = random_images(12, 1, 32, 4);
  models::TrainConfig c = tiny_dcgan32(1);
  c.grad_clip = 1e-3;  // far below these gradients' norms: every step clips
  models::Trainer t(c, ds, Device::cpu());
  double before_d = 0, before_g = 0;
  models::StepHooks hooks;
  hooks.before_optimizer_step = [&](const models::StepPoint& at, const Tensor&) {
    if (at.phase == models::Phase::Critic) before_d = global_grad_norm(t.network("discriminator").named_parameters());
    else before_g = global_grad_norm(t.network("generator").named_parameters());
  };
  models::StepScalars s = t.train_step(&hooks);
  ASSERT_GT(before_d, 10 * c.grad_clip);
  ASSERT_GT(before_g, 10 * c.grad_clip);
  EXPECT_NEAR(s["grad_norm_discriminator"].item(), before_d, 1e-5 * before_d);
  EXPECT_NEAR(s["grad_norm_generator"].item(), before_g, 1e-5 * before_g);
  // What the optimizers stepped with: the gradients left in place, scaled to the bound.
  EXPECT_NEAR(global_grad_norm(t.network("discriminator").named_parameters()), c.grad_clip, 1e-6);
  EXPECT_NEAR(global_grad_norm(t.network("generator").named_parameters()), c.grad_clip, 1e-6);
  bool listed = false;
  for (auto& spec : t.scalars()) listed |= spec.column == "grad_norm_generator";
  EXPECT_TRUE(listed);
}

TEST(Knobs, PerNetworkLearningRatesFollowTheSchedule) {
  io::ImageDataset ds = random_images(12, 1, 32, 6);
  models::TrainConfig c = tiny_dcgan32(4);
  c.lr = 1e-3;
  c.lr_g = 1e-4;
  c.lr_d = 4e-4;
  c.lr_schedule = "linear";
  models::Trainer t(c, ds, Device::cpu());
  t.train_step();
  t.train_step();  // the second step runs at (1 - 1/4) of each base rate
  EXPECT_DOUBLE_EQ(t.optimizer("generator").lr(), 1e-4 * 0.75);
  EXPECT_DOUBLE_EQ(t.optimizer("discriminator").lr(), 4e-4 * 0.75);
  c.lr_g = 0;  // 0: --lr
  EXPECT_DOUBLE_EQ(c.lr_at(0, 4, true), 1e-3);
  EXPECT_DOUBLE_EQ(c.lr_at(0, 4, false), 4e-4);
}

TEST(Knobs, WeightDecayAndRmspropAlphaReachTheUpdate) {
  models::TrainConfig c;
  c.optimizer = "rmsprop";
  c.lr = 0.1;
  c.rmsprop_alpha = 0.5;
  c.weight_decay = 0.25;
  Tensor p = Tensor::from_vector(std::vector<float>{1.0f, -2.0f}, {2}).requires_grad_();
  auto opt = models::make_optimizer(c, {{"w", p}});
  sum(mul(p, 3.0)).backward();  // gradient 3 for each
  opt->step();
  // g' = g + wd p; s = (1 - alpha) g'^2; p -= lr g' / (sqrt(s) + eps)
  for (int i = 0; i < 2; ++i) {
    const double p0 = i == 0 ? 1.0 : -2.0, g = 3 + 0.25 * p0, s = 0.5 * g * g;
    EXPECT_NEAR(p.to_double_vector()[i], p0 - 0.1 * g / (std::sqrt(s) + 1e-8), 1e-6) << i;
  }
  c.optimizer = "adam";
  auto adam = models::make_optimizer(c, {{"w", p}});
  EXPECT_DOUBLE_EQ(dynamic_cast<optim::Adam&>(*adam).options().weight_decay, 0.25);
}

TEST(Knobs, OneSidedLabelSmoothingChangesOnlyTheRealTarget) {
  models::TrainConfig c;
  c.label_smoothing = 0.9;
  auto loss = models::make_loss(c);
  nn::Sequential d;
  Tensor real = Tensor::randn({5, 3});
  std::vector<double> r{1.5, -0.3, 0.2, 2.0, -1.0}, f{-0.5, 0.7, -2.0, 0.1, 0.4};
  Tensor d_real = Tensor::from_vector(std::vector<float>(r.begin(), r.end()), {5, 1});
  Tensor d_fake = Tensor::from_vector(std::vector<float>(f.begin(), f.end()), {5, 1});
  Tensor ld = loss->discriminator_loss({d, real, real, d_real, d_fake});
  EXPECT_NEAR(ld.item(), bce_reference(r, 0.9) + bce_reference(f, 0.0), 1e-5);
  EXPECT_NEAR(loss->generator_loss(d_fake).item(), bce_reference(f, 1.0), 1e-5);  // G's target stays 1
  c.loss = "hinge";
  EXPECT_THROW(c.validate(), Error);  // smoothing is a bce target
}

TEST(Knobs, EmaFollowsItsFormulaAndCopiesBuffers) {
  io::ImageDataset ds = random_images(16, 1, 32, 8);
  models::TrainConfig c = tiny_dcgan32(3);
  c.ema = 0.8;
  models::Trainer t(c, ds, Device::cpu());
  ASSERT_TRUE(t.has_ema());
  // e_0 = p_0, e_k = d_k e_{k-1} + (1 - d_k) p_k, d_k = min(0.8, k / (9 + k)) (the warm-up, k
  // counted from 1), computed here in float64 from G's weights.
  auto e = params_of(t.network("generator"));
  for (int k = 1; k <= 3; ++k) {
    t.train_step();
    auto p = params_of(t.network("generator"));
    const double d = std::min(0.8, k / (9.0 + k));
    for (auto& [n, v] : e)
      for (size_t i = 0; i < v.size(); ++i) v[i] = d * v[i] + (1 - d) * p.at(n)[i];
  }
  auto got = params_of(*t.ema_generator());
  bool moved = false;
  for (auto& [n, v] : e)
    for (size_t i = 0; i < v.size(); ++i) {
      ASSERT_NEAR(got.at(n)[i], v[i], 1e-6 + 1e-5 * std::abs(v[i])) << n << "[" << i << "]";
      moved |= std::abs(v[i] - params_of(t.network("generator")).at(n)[i]) > 1e-6;
    }
  EXPECT_TRUE(moved);  // the average lags the generator
  // Batch-norm statistics: the generator's own, copied.
  for (auto& [n, v] : t.ema_generator()->state_dict()) {
    if (n.find("running_") == std::string::npos) continue;
    for (auto& [gn, gv] : t.network("generator").state_dict())
      if (gn == n) {
        EXPECT_EQ(v.tensor.to_double_vector(), gv.tensor.to_double_vector()) << n;
      }
  }
  // Samples from the average: the generator's weights are lent and given back.
  auto before = params_of(t.network("generator"));
  Tensor xe = t.generate_ema(t.fixed_inputs()), xg = t.generate(t.fixed_inputs());
  EXPECT_EQ(before, params_of(t.network("generator")));
  EXPECT_GT(rel_error(xe, xg), 1e-4);
}

TEST(Knobs, EmaDecayWarmsUpToTheGivenOne) {
  models::TrainConfig c;
  c.ema = 0.999;
  EXPECT_DOUBLE_EQ(c.ema_decay_at(0), 0.1);
  EXPECT_DOUBLE_EQ(c.ema_decay_at(90), 91.0 / 100.0);
  EXPECT_DOUBLE_EQ(c.ema_decay_at(1500), 1501.0 / 1510.0);  // still below 0.999 after 1500 steps
  EXPECT_DOUBLE_EQ(c.ema_decay_at(100000), 0.999);
}

TEST(Knobs, EmaCheckpointSamplesAndResumesExactlyWithEveryKnob) {
  io::ImageDataset ds = random_images(20, 1, 32, 10);
  models::TrainConfig c = tiny_dcgan32(8);
  c.ema = 0.9;
  c.model.noise = "uniform";
  c.grad_clip = 0.5;
  c.lr_g = 3e-4;
  c.lr_d = 1e-4;
  c.weight_decay = 1e-3;
  c.label_smoothing = 0.9;
  c.lr_schedule = "linear";
  expect_exact_resume(c, ds, 8, 5);
  models::Trainer straight(c, ds, Device::cpu());
  for (int i = 0; i < 8; ++i) straight.train_step();
  ASSERT_TRUE(straight.checkpoint().has("generator_ema.main.0.weight"));

  // The config travels in the checkpoint; gan sample takes the average unless told otherwise.
  const std::string path = ::testing::TempDir() + "knobs_ema.safetensors";
  io::save_safetensors(path, straight.checkpoint());
  models::TrainConfig back = models::checkpoint_config(io::load_safetensors(path), path);
  EXPECT_EQ(back.model.noise, "uniform");
  EXPECT_EQ(back.ema, 0.9);
  EXPECT_EQ(back.grad_clip, 0.5);
  EXPECT_EQ(back.label_smoothing, 0.9);
  EXPECT_EQ(back.lr_g, 3e-4);
  models::LoadedGenerator ge = models::load_generator(path, Device::cpu());
  models::LoadedGenerator gr = models::load_generator(path, Device::cpu(), std::nullopt, /*use_ema=*/false);
  EXPECT_TRUE(ge.ema);
  EXPECT_FALSE(gr.ema);
  NoGradGuard no_grad;
  Tensor z = straight.fixed_inputs()[0];
  EXPECT_LT(rel_error(ge.generator->forward(z), straight.generate_ema(straight.fixed_inputs())), 1e-6);
  EXPECT_LT(rel_error(gr.generator->forward(z), straight.generate(straight.fixed_inputs())), 1e-6);
}

TEST(Knobs, OldConfigsKeepTheDefaultsAndBadValuesAreNamed) {
  nlohmann::json old = models::to_json(tiny_dcgan32(1));
  for (const char* k : {"lr_g", "lr_d", "weight_decay", "grad_clip", "label_smoothing", "rmsprop_alpha", "ema"}) old.erase(k);
  old["model"].erase("noise");
  models::TrainConfig c = models::train_config_from_json(old, "old.json");
  EXPECT_EQ(c.model.noise, "normal");
  EXPECT_EQ(c.ema, 0);
  EXPECT_EQ(c.label_smoothing, 1.0);
  EXPECT_EQ(c.rmsprop_alpha, 0.99);
  auto refused = [](auto edit, const std::string& words) {
    models::TrainConfig t = tiny_dcgan32(1);
    edit(t);
    try {
      t.validate();
      ADD_FAILURE() << "accepted: " << words;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  refused([](models::TrainConfig& t) { t.ema = 1.0; }, "--ema");
  refused([](models::TrainConfig& t) { t.grad_clip = -1; }, "--grad-clip");
  refused([](models::TrainConfig& t) { t.label_smoothing = 0; }, "--label-smoothing");
  refused([](models::TrainConfig& t) { t.model.noise = "cauchy"; }, "--noise");
  refused([](models::TrainConfig& t) { t.rmsprop_alpha = 1.0; }, "--rmsprop-alpha");
  refused([](models::TrainConfig& t) { t.lr_d = -1; }, "--lr-d");
}
