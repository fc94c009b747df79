// The WGAN family and the other losses: the full WGAN-GP critic loss (per-sample interpolation,
// input gradient with create_graph, penalty) against a host float64 reference and its parameter
// gradients against finite differences of that reference; per-sample eps and per-sample norms;
// every loss's value and gradient against its formula on hand-made D outputs; the batch-norm
// refusal, LayerNorm/Identity critics and their names; weight clipping; loss defaults.
#include <cmath>
#include <functional>

#include "engine/autograd/autograd.h"
#include "engine/optim/optimizer.h"
#include "models/losses.h"
#include "models/config.h"
#include "models/trainer.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

// D(x) = v . tanh(W flatten(x) + b) + c in float64; records its inputs (the loss calls it on xhat).
class TinyCritic : public nn::Module {
 public:
  TinyCritic(int64_t in, int64_t hidden, uint64_t seed) : nn::Module("TinyCritic") {
    W = register_parameter("W", mul(randn64({hidden, in}, seed, false), 0.4).requires_grad_());
    b = register_parameter("b", mul(randn64({hidden}, seed + 1, false), 0.3).requires_grad_());
    v = register_parameter("v", randn64({1, hidden}, seed + 2, false).requires_grad_());
    c = register_parameter("c", randn64({1}, seed + 3, false).requires_grad_());
  }
  Tensor forward(const Tensor& x) override {
    inputs.push_back(x.detach());
    return linear(tanh(linear(x.flatten(1), W, b)), v, c).reshape({x.size(0)});
  }
  Tensor W, b, v, c;
  std::vector<Tensor> inputs;
};

// Host reference of the same critic with parameters as flat vectors.
struct HostCritic {
  int64_t in, hidden;
  std::vector<double> W, b, v;
  double c;
  double value(const double* x) const {
    double out = c;
    for (int64_t j = 0; j < hidden; ++j) {
      double a = b[j];
      for (int64_t i = 0; i < in; ++i) a += W[j * in + i] * x[i];
      out += v[j] * std::tanh(a);
    }
    return out;
  }
  // dD/dx = W^T (v * (1 - tanh^2(Wx + b))): the whole sample's input gradient.
  std::vector<double> input_grad(const double* x) const {
    std::vector<double> g(in, 0.0);
    for (int64_t j = 0; j < hidden; ++j) {
      double a = b[j];
      for (int64_t i = 0; i < in; ++i) a += W[j * in + i] * x[i];
      double t = std::tanh(a), s = v[j] * (1 - t * t);
      for (int64_t i = 0; i < in; ++i) g[i] += W[j * in + i] * s;
    }
    return g;
  }
};

// L = mean D(fake) - mean D(real) + lambda mean_n (||grad D(xhat_n)|| - 1)^2 on the host.
double host_wgan_gp_loss(const HostCritic& h, const std::vector<double>& real, const std::vector<double>& fake,
                         const std::vector<double>& eps, int64_t n, double lambda) {
  double dr = 0, df = 0, gp = 0;
  std::vector<double> xhat(h.in);
  for (int64_t s = 0; s < n; ++s) {
    dr += h.value(&real[s * h.in]);
    df += h.value(&fake[s * h.in]);
    for (int64_t i = 0; i < h.in; ++i) xhat[i] = eps[s] * real[s * h.in + i] + (1 - eps[s]) * fake[s * h.in + i];
    std::vector<double> g = h.input_grad(xhat.data());
    double nn2 = 0;
    for (double gi : g) nn2 += gi * gi;
    gp += (std::sqrt(nn2) - 1) * (std::sqrt(nn2) - 1);
  }
  return df / n - dr / n + lambda * gp / n;
}

}  // namespace

TEST(Wgan, GradientPenaltyLossValueAndParameterGradientsMatchFiniteDifferences) {
  const int64_t N = 5, C = 2, H = 3, Wd = 2, in = C * H * Wd, hidden = 7;
  const double lambda = 3.5;
  TinyCritic D(in, hidden, 11);
  Tensor real = randn64({N, C, H, Wd}, 21, false), fake = mul(randn64({N, C, H, Wd}, 22, false), 0.7);
  Generator rng(99), rng_copy(99);
  Tensor d_real = D(real), d_fake = D(fake);
  models::WganGpLoss loss(5, lambda);
  Tensor L = loss.discriminator_loss({D, real, fake, d_real, d_fake, &rng});
  std::vector<double> eps = Tensor::rand({N}, &rng_copy, 0.0, 1.0, DType::Float64).to_double_vector();
  EXPECT_EQ(rng.draws(), rng_copy.draws()) << "one draw of N values for eps, nothing else";

  HostCritic h{in, hidden, D.W.to_double_vector(), D.b.to_double_vector(), D.v.to_double_vector(), D.c.item()};
  const auto xr = real.to_double_vector(), xf = fake.to_double_vector();
  const double ref = host_wgan_gp_loss(h, xr, xf, eps, N, lambda);
  EXPECT_NEAR(L.item(), ref, 1e-10 * std::max(1.0, std::abs(ref)));

  // The logged terms.
  models::LossTerms t = loss.terms();
  double dr = 0, df = 0;
  for (int64_t s = 0; s < N; ++s) dr += h.value(&xr[s * in]), df += h.value(&xf[s * in]);
  EXPECT_NEAR(t.wasserstein.item(), (dr - df) / N, 1e-10);
  EXPECT_NEAR(t.gradient_penalty.item(), ref - (df - dr) / N, 1e-10);

  // Parameter gradients (through the double backward) against central differences of the host loss.
  D.zero_grad();
  L.backward();
  const double step = 1e-6;
  auto check = [&](const Tensor& p, std::vector<double>& hv, const char* name) {
    std::vector<double> ga = p.grad().to_double_vector();
    ASSERT_EQ(ga.size(), hv.size());
    double num = 0, den = 0;
    for (size_t i = 0; i < hv.size(); ++i) {
      double keep = hv[i];
      hv[i] = keep + step;
      double up = host_wgan_gp_loss(h, xr, xf, eps, N, lambda);
      hv[i] = keep - step;
      double dn = host_wgan_gp_loss(h, xr, xf, eps, N, lambda);
      hv[i] = keep;
      double fd = (up - dn) / (2 * step);
      num += (ga[i] - fd) * (ga[i] - fd);
      den += fd * fd;
    }
    EXPECT_LT(std::sqrt(num / den), 1e-6) << name;
  };
  check(D.W, h.W, "W");
  check(D.b, h.b, "b");
  check(D.v, h.v, "v");
  std::vector<double> hc{h.c};
  ASSERT_TRUE(D.c.grad().defined());
  // c shifts D(real) and D(fake) alike and leaves every input gradient unchanged: its gradient is 0.
  EXPECT_NEAR(D.c.grad().item(), 0.0, 1e-12);
}

TEST(Wgan, EpsIsPerSampleAndNormIsOverTheWholeSample) {
  const int64_t N = 4, C = 3, H = 2, Wd = 3, in = C * H * Wd;
  TinyCritic D(in, 5, 31);
  Tensor real = randn64({N, C, H, Wd}, 41, false), fake = randn64({N, C, H, Wd}, 42, false);
  Generator rng(7);
  Tensor d_real = D(real), d_fake = D(fake);
  models::WganGpLoss loss(5, 10.0);
  loss.discriminator_loss({D, real, fake, d_real, d_fake, &rng});
  ASSERT_EQ(D.inputs.size(), 3u);  // real, fake, then xhat inside the loss
  auto xh = D.inputs[2].to_double_vector(), xr = real.to_double_vector(), xf = fake.to_double_vector();
  // (xhat - fake) / (real - fake) is one number per sample, and not the same for all samples:
  // a per-pixel eps gives a different ratio at every element.
  std::vector<double> ratios;
  for (int64_t s = 0; s < N; ++s) {
    double r0 = (xh[s * in] - xf[s * in]) / (xr[s * in] - xf[s * in]);
    EXPECT_GE(r0, 0.0);
    EXPECT_LE(r0, 1.0);
    for (int64_t i = 1; i < in; ++i) {
      double r = (xh[s * in + i] - xf[s * in + i]) / (xr[s * in + i] - xf[s * in + i]);
      EXPECT_NEAR(r, r0, 1e-9) << "sample " << s << " element " << i;
    }
    ratios.push_back(r0);
  }
  EXPECT_GT(*std::max_element(ratios.begin(), ratios.end()) - *std::min_element(ratios.begin(), ratios.end()), 0.05);

  // The norm runs over C x H x W: compare with the per-sample reference and make sure the
  // per-pixel / per-channel variants would have given other values.
  Tensor g = mul(randn64({N, C, H, Wd}, 51, false), 0.4);
  auto gv = g.to_double_vector();
  double per_sample = 0, per_channel = 0, per_pixel = 0;
  for (int64_t s = 0; s < N; ++s) {
    double n2 = 0;
    for (int64_t i = 0; i < in; ++i) {
      n2 += gv[s * in + i] * gv[s * in + i];
      per_pixel += (std::abs(gv[s * in + i]) - 1) * (std::abs(gv[s * in + i]) - 1);
    }
    per_sample += (std::sqrt(n2) - 1) * (std::sqrt(n2) - 1);
    for (int64_t ch = 0; ch < C; ++ch) {
      double c2 = 0;
      for (int64_t i = 0; i < H * Wd; ++i) c2 += gv[s * in + ch * H * Wd + i] * gv[s * in + ch * H * Wd + i];
      per_channel += (std::sqrt(c2) - 1) * (std::sqrt(c2) - 1);
    }
  }
  double got = gradient_penalty(g, 2.0).item();
  EXPECT_NEAR(got, 2.0 * per_sample / N, 1e-12);
  EXPECT_GT(std::abs(got - 2.0 * per_channel / (N * C)), 1e-2);
  EXPECT_GT(std::abs(got - 2.0 * per_pixel / (N * in)), 1e-2);
}

namespace {

// A module the simple losses never call.
class Unused : public nn::Module {
 public:
  Unused() : nn::Module("Unused") {}
  Tensor forward(const Tensor&) override { GAN_FAIL("Unused: called"); }
};

struct LossCase {
  std::string name;
  // host formulas: value and d/d(each element) for real and fake outputs
  std::function<double(const std::vector<double>&, const std::vector<double>&)> d_value;
  std::function<double(double, int64_t)> d_grad_real, d_grad_fake;
  std::function<double(const std::vector<double>&)> g_value;
  std::function<double(double, int64_t)> g_grad;
};

double mean_of(const std::vector<double>& v, const std::function<double(double)>& f) {
  double s = 0;
  for (double x : v) s += f(x);
  return s / static_cast<double>(v.size());
}

double softplus_h(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double sigmoid_h(double x) { return 1 / (1 + std::exp(-x)); }

}  // namespace

TEST(Wgan, EveryLossMatchesItsFormulaOnHandMadeOutputs) {
  // Both sides of the hinge margins and of zero, odd sizes.
  const std::vector<double> r{1.7, 0.3, -0.4, 2.5, 0.9, -1.3, 0.05};
  const std::vector<double> f{-1.6, -0.2, 0.5, -2.2, 1.1};
  const double nr = static_cast<double>(r.size()), nf = static_cast<double>(f.size());
  std::vector<LossCase> cases{
      {"bce",
       [&](auto& a, auto& b) {
         return mean_of(a, [](double x) { return softplus_h(-x); }) + mean_of(b, [](double x) { return softplus_h(x); });
       },
       [&](double x, int64_t n) { return (sigmoid_h(x) - 1) / n; }, [&](double x, int64_t n) { return sigmoid_h(x) / n; },
       [&](auto& b) { return mean_of(b, [](double x) { return softplus_h(-x); }); },
       [&](double x, int64_t n) { return (sigmoid_h(x) - 1) / n; }},
      {"wgan", [&](auto& a, auto& b) { return mean_of(b, [](double x) { return x; }) - mean_of(a, [](double x) { return x; }); },
       [&](double, int64_t n) { return -1.0 / n; }, [&](double, int64_t n) { return 1.0 / n; },
       [&](auto& b) { return -mean_of(b, [](double x) { return x; }); }, [&](double, int64_t n) { return -1.0 / n; }},
      {"lsgan",
       [&](auto& a, auto& b) {
         return 0.5 * mean_of(a, [](double x) { return (x - 1) * (x - 1); }) + 0.5 * mean_of(b, [](double x) { return x * x; });
       },
       [&](double x, int64_t n) { return (x - 1) / n; }, [&](double x, int64_t n) { return x / n; },
       [&](auto& b) { return 0.5 * mean_of(b, [](double x) { return (x - 1) * (x - 1); }); },
       [&](double x, int64_t n) { return (x - 1) / n; }},
      {"hinge",
       [&](auto& a, auto& b) {
         return mean_of(a, [](double x) { return std::max(0.0, 1 - x); }) + mean_of(b, [](double x) { return std::max(0.0, 1 + x); });
       },
       [&](double x, int64_t n) { return x < 1 ? -1.0 / n : 0.0; }, [&](double x, int64_t n) { return x > -1 ? 1.0 / n : 0.0; },
       [&](auto& b) { return -mean_of(b, [](double x) { return x; }); }, [&](double, int64_t n) { return -1.0 / n; }},
  };
  Unused unused;
  for (const auto& lc : cases) {
    SCOPED_TRACE(lc.name);
    auto loss = models::make_loss(lc.name);
    Tensor dr = Tensor::from_vector(r, {static_cast<int64_t>(r.size())}).requires_grad_();
    Tensor df = Tensor::from_vector(f, {static_cast<int64_t>(f.size())}).requires_grad_();
    Tensor none;
    Tensor L = loss->discriminator_loss({unused, none, none, dr, df});
    EXPECT_NEAR(L.item(), lc.d_value(r, f), 1e-12);
    L.backward();
    auto gr = dr.grad().to_double_vector(), gf = df.grad().to_double_vector();
    for (size_t i = 0; i < r.size(); ++i) EXPECT_NEAR(gr[i], lc.d_grad_real(r[i], r.size()), 1e-12) << "real " << i;
    for (size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(gf[i], lc.d_grad_fake(f[i], f.size()), 1e-12) << "fake " << i;

    Tensor dg = Tensor::from_vector(f, {static_cast<int64_t>(f.size())}).requires_grad_();
    Tensor LG = loss->generator_loss(dg);
    EXPECT_NEAR(LG.item(), lc.g_value(f), 1e-12);
    LG.backward();
    auto gg = dg.grad().to_double_vector();
    for (size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(gg[i], lc.g_grad(f[i], f.size()), 1e-12) << "gen " << i;
  }
  (void)nr;
  (void)nf;
  // The WGAN critic reports its Wasserstein estimate; the paper defaults come with the losses.
  models::WganLoss w;
  Tensor dr = Tensor::from_vector(r, {7}), df = Tensor::from_vector(f, {5}), none;
  w.discriminator_loss({unused, none, none, dr, df});
  EXPECT_NEAR(w.terms().wasserstein.item(),
              mean_of(r, [](double x) { return x; }) - mean_of(f, [](double x) { return x; }), 1e-12);
  EXPECT_EQ(w.discriminator_steps(), 5);
  EXPECT_DOUBLE_EQ(w.weight_clip(), 0.01);
  EXPECT_EQ(models::make_loss("wgan-gp")->discriminator_steps(), 5);
  EXPECT_THROW(models::make_loss("wgan-div"), Error);
}

namespace {

models::TrainConfig tiny_dcgan32(const std::string& loss, const std::string& norm) {
  models::TrainConfig c;
  c.model.arch = "dcgan32";
  c.model.nz = 5;
  c.model.ngf = c.model.ndf = 3;
  c.model.channels = 1;
  c.model.image_size = 32;
  c.model.critic_norm = norm;
  c.loss = loss;
  c.batch = 3;
  c.steps = 2;
  c.seed = 5;
  models::apply_defaults(c, {});
  return c;
}

}  // namespace

TEST(Wgan, BatchNormCriticIsRefusedLayerNormAndNoneTrain) {
  io::ImageDataset data = random_images(12, 1, 32, 3);
  try {
    models::Trainer t(tiny_dcgan32("wgan-gp", "batch"), data, Device::cpu());
    FAIL() << "a BatchNorm critic was accepted for wgan-gp";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("BatchNorm2d"), std::string::npos) << m;
    EXPECT_NE(m.find("main.3"), std::string::npos) << m;
    EXPECT_NE(m.find("--critic-norm layer"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
  }
  // Other losses keep the BatchNorm critic.
  EXPECT_NO_THROW(models::Trainer(tiny_dcgan32("wgan", "batch"), data, Device::cpu()));

  for (std::string norm : {"layer", "none"}) {
    SCOPED_TRACE(norm);
    models::TrainConfig cfg = tiny_dcgan32("wgan-gp", norm);
    models::Trainer t(cfg, data, Device::cpu());
    std::map<std::string, Shape> shapes;
    for (auto& [n, p] : t.network("discriminator").named_parameters()) shapes[n] = p.shape();
    if (norm == "layer") {
      // nn.LayerNorm([C, H, W]) at the BatchNorm's index.
      EXPECT_EQ(shapes.at("main.3.weight"), (Shape{12, 8, 8}));
      EXPECT_EQ(shapes.at("main.3.bias"), (Shape{12, 8, 8}));
      EXPECT_EQ(shapes.at("main.6.weight"), (Shape{24, 4, 4}));
    } else {
      EXPECT_EQ(shapes.count("main.3.weight"), 0u);
    }
    EXPECT_EQ(shapes.at("main.8.weight"), (Shape{1, 24, 4, 4}));  // the last conv keeps its index
    for (int i = 0; i < 2; ++i) {
      models::StepScalars s = t.train_step();
      EXPECT_TRUE(std::isfinite(s["loss_d"].item()) && std::isfinite(s["loss_g"].item()));
      ASSERT_TRUE(s["gradient_penalty"].defined());
      EXPECT_GT(s["grad_norm"].item(), 0.0);
    }
    // 5 critic steps per generator step, each on a fresh batch: 2 steps use 10 batches of 4 per epoch.
    EXPECT_EQ(t.data().state().epoch * t.data().batches_per_epoch() + t.data().state().position, 10);
    EXPECT_TRUE(t.state_finite());
  }
}

TEST(Wgan, WeightClippingBoundsEveryCriticWeight) {
  models::TrainConfig c;
  c.model.arch = "mlp";
  c.model.nz = 4;
  c.model.g_hidden = {8};
  c.model.d_hidden = {9};
  c.model.image_size = 6;
  c.loss = "wgan";
  c.batch = 5;
  c.steps = 2;
  c.seed = 9;
  models::apply_defaults(c, {});
  c.clip = 0.03;
  io::ImageDataset data = random_images(40, 1, 6, 4);
  models::Trainer t(c, data, Device::cpu());
  // Linear's default init exceeds 0.03 in most weights: clipping is visible.
  double before = 0;
  for (auto& p : t.network("discriminator").parameters())
    for (double v : p.to_double_vector()) before = std::max(before, std::abs(v));
  ASSERT_GT(before, 0.03);
  t.train_step();
  double after = 0;
  int64_t at_bound = 0;
  for (auto& p : t.network("discriminator").parameters())
    for (double v : p.to_double_vector()) {
      after = std::max(after, std::abs(v));
      at_bound += std::abs(std::abs(v) - 0.03) < 1e-7;
    }
  EXPECT_LE(after, 0.03 + 1e-7);
  EXPECT_GT(at_bound, 0);
  // The generator is not clipped.
  double g_max = 0;
  for (auto& p : t.network("generator").parameters())
    for (double v : p.to_double_vector()) g_max = std::max(g_max, std::abs(v));
  EXPECT_GT(g_max, 0.03);
}

TEST(Wgan, LossDefaultsAndOverrides) {
  models::TrainConfig c;
  c.loss = "wgan-gp";
  models::apply_defaults(c, {});
  EXPECT_EQ(c.optimizer, "adam");
  EXPECT_DOUBLE_EQ(c.lr, 1e-4);
  EXPECT_DOUBLE_EQ(c.beta1, 0.0);
  EXPECT_DOUBLE_EQ(c.beta2, 0.9);
  EXPECT_EQ(c.n_critic, 5);
  EXPECT_DOUBLE_EQ(c.gp_lambda, 10.0);
  EXPECT_EQ(c.lr_schedule, "constant");

  models::TrainConfig w;
  w.loss = "wgan";
  w.lr = 3e-3;
  models::apply_defaults(w, {"lr"});
  EXPECT_EQ(w.optimizer, "rmsprop");
  EXPECT_DOUBLE_EQ(w.lr, 3e-3);  // given: kept
  EXPECT_DOUBLE_EQ(w.clip, 0.01);
  EXPECT_EQ(w.n_critic, 5);

  models::TrainConfig toy;
  toy.loss = "wgan-gp";
  toy.data = "gaussians25";
  models::apply_defaults(toy, {});
  EXPECT_EQ(toy.model.arch, "toy");
  EXPECT_DOUBLE_EQ(toy.gp_lambda, 0.1);
  EXPECT_DOUBLE_EQ(toy.lr, 3e-4);  // measured faster than the toy code's 1e-4 (docs/wgan.md)
  EXPECT_EQ(toy.lr_schedule, "linear");
  models::TrainConfig flat;
  flat.loss = "wgan-gp";
  flat.data = "gaussians8";
  models::apply_defaults(flat, {"lr_schedule"});  // --lr-schedule constant given: kept
  EXPECT_EQ(flat.lr_schedule, "constant");
  EXPECT_DOUBLE_EQ(toy.beta1, 0.5);
  EXPECT_EQ(toy.batch, 256);
  EXPECT_EQ(toy.model.nz, 2);
  EXPECT_EQ(toy.model.d_hidden, (std::vector<int64_t>{512, 512, 512}));

  models::TrainConfig bad;
  bad.loss = "wgan-gp";
  bad.steps = 1;
  bad.n_critic = 0;
  EXPECT_THROW(bad.validate(), Error);
  bad.n_critic = 5;
  bad.model.critic_norm = "layer";  // the MLP has no normalisation to replace
  EXPECT_THROW(bad.validate(), Error);
}
