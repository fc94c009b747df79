// Optimizers against their update formulas evaluated by hand in float64, state export/import,
// gradient-norm and weight clipping.
#include <cmath>

#include "engine/optim/optimizer.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

// A float64 parameter with a given value and a settable gradient.
Tensor param(const std::vector<double>& v) {
  Tensor p = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
  p.requires_grad_();
  return p;
}

std::vector<double> randv(size_t n, uint64_t seed) {
  return randn64({static_cast<int64_t>(n)}, seed, false).to_double_vector();
}

}  // namespace

TEST(Optim, AdamFollowsFormulaOverSeveralSteps) {
  const double lr = 0.01, b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.1;
  std::vector<double> p = randv(7, 1), m(7, 0.0), v(7, 0.0);
  Tensor t = param(p);
  optim::Adam opt({{"w", t}}, {lr, b1, b2, eps, wd});
  for (int step = 1; step <= 5; ++step) {
    std::vector<double> g = randv(7, 100 + step);
    t.set_grad(Tensor::from_vector(g, {7}));
    opt.step();
    for (int i = 0; i < 7; ++i) {
      double gi = g[i] + wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      double mhat = m[i] / (1 - std::pow(b1, step)), vhat = v[i] / (1 - std::pow(b2, step));
      p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
    auto got = t.to_double_vector();
    for (int i = 0; i < 7; ++i) ASSERT_NEAR(got[i], p[i], 1e-12) << "step " << step << " element " << i;
  }
  auto st = opt.state_tensors();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].first, "w.exp_avg");
  EXPECT_EQ(st[1].first, "w.exp_avg_sq");
  for (int i = 0; i < 7; ++i) {
    EXPECT_NEAR(st[0].second.to_double_vector()[i], m[i], 1e-14);
    EXPECT_NEAR(st[1].second.to_double_vector()[i], v[i], 1e-14);
  }
  EXPECT_EQ(opt.state_counters(), (std::vector<std::pair<std::string, int64_t>>{{"w.step", 5}}));
}

TEST(Optim, AdamFloat32FirstStepMovesByLr) {
  // On the first step m_hat = g and v_hat = g^2, so every element moves by lr * sign(g) (up to eps).
  Generator gen(2);
  Tensor w = Tensor::randn({33}, &gen).requires_grad_();
  Tensor g = Tensor::randn({33}, &gen);
  auto before = w.to_double_vector(), gv = g.to_double_vector();
  w.set_grad(g);
  optim::Adam opt({{"w", w}}, {1e-3, 0.5, 0.999, 1e-8, 0.0});
  opt.step();
  auto after = w.to_double_vector();
  for (int i = 0; i < 33; ++i) EXPECT_NEAR(after[i] - before[i], gv[i] > 0 ? -1e-3 : 1e-3, 1e-7);
}

TEST(Optim, SgdMomentumFollowsFormula) {
  const double lr = 0.05, mu = 0.9, wd = 0.01;
  std::vector<double> p = randv(5, 3), buf(5, 0.0);
  Tensor t = param(p);
  optim::SGD opt({{"w", t}}, {lr, mu, wd});
  for (int step = 1; step <= 4; ++step) {
    std::vector<double> g = randv(5, 200 + step);
    t.set_grad(Tensor::from_vector(g, {5}));
    opt.step();
    for (int i = 0; i < 5; ++i) {
      double d = g[i] + wd * p[i];
      buf[i] = step == 1 ? d : mu * buf[i] + d;  // torch: the buffer starts as the first gradient
      p[i] -= lr * buf[i];
    }
    auto got = t.to_double_vector();
    for (int i = 0; i < 5; ++i) ASSERT_NEAR(got[i], p[i], 1e-13) << "step " << step;
  }
  // Plain SGD keeps no state.
  Tensor u = param(randv(4, 4));
  optim::SGD plain({{"u", u}}, {0.1, 0.0, 0.0});
  auto u0 = u.to_double_vector();
  std::vector<double> g = randv(4, 5);
  u.set_grad(Tensor::from_vector(g, {4}));
  plain.step();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(u.to_double_vector()[i], u0[i] - 0.1 * g[i], 1e-14);
  EXPECT_TRUE(plain.state_tensors().empty());
}

TEST(Optim, RmspropFollowsFormulaWithAndWithoutMomentum) {
  for (double mu : {0.0, 0.7}) {
    const double lr = 0.01, alpha = 0.9, eps = 1e-8, wd = 0.05;
    std::vector<double> p = randv(6, 6), s(6, 0.0), buf(6, 0.0);
    Tensor t = param(p);
    optim::RMSprop opt({{"w", t}}, {lr, alpha, eps, wd, mu});
    for (int step = 1; step <= 4; ++step) {
      std::vector<double> g = randv(6, 300 + step);
      t.set_grad(Tensor::from_vector(g, {6}));
      opt.step();
      for (int i = 0; i < 6; ++i) {
        double gi = g[i] + wd * p[i];
        s[i] = alpha * s[i] + (1 - alpha) * gi * gi;
        double avg = std::sqrt(s[i]) + eps;
        if (mu > 0) {
          buf[i] = mu * buf[i] + gi / avg;
          p[i] -= lr * buf[i];
        } else {
          p[i] -= lr * gi / avg;
        }
      }
      auto got = t.to_double_vector();
      for (int i = 0; i < 6; ++i) ASSERT_NEAR(got[i], p[i], 1e-12) << "momentum " << mu << " step " << step;
    }
    EXPECT_EQ(opt.state_tensors().size(), mu > 0 ? 2u : 1u);
  }
}

TEST(Optim, ParametersWithoutGradientAreSkipped) {
  Tensor a = param(randv(3, 7)), b = param(randv(3, 8));
  optim::Adam opt({{"a", a}, {"b", b}}, {});
  auto b0 = b.to_double_vector();
  a.set_grad(Tensor::from_vector(randv(3, 9), {3}));
  opt.step();
  opt.step();
  EXPECT_EQ(b.to_double_vector(), b0);
  EXPECT_EQ(opt.state_counters(), (std::vector<std::pair<std::string, int64_t>>{{"a.step", 2}}));
  // b's first step uses bias correction for step 1 although a is at step 3.
  b.set_grad(Tensor::from_vector(std::vector<double>{1.0, -2.0, 0.5}, {3}));
  opt.step();
  auto b1 = b.to_double_vector();
  EXPECT_NEAR(b1[0], b0[0] - 1e-3, 1e-9);
  EXPECT_NEAR(b1[1], b0[1] + 1e-3, 1e-9);
  EXPECT_NEAR(b1[2], b0[2] - 1e-3, 1e-9);
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(Optim, StateRoundTripContinuesIdentically) {
  Generator gen(10);
  Tensor w1 = Tensor::randn({4, 3}, &gen).requires_grad_();
  Tensor w2 = w1.detach().clone().requires_grad_();
  optim::Adam o1({{"w", w1}}, {0.01, 0.5, 0.9, 1e-8, 0.0});
  for (int i = 0; i < 3; ++i) {
    w1.set_grad(Tensor::randn({4, 3}, &gen));
    o1.step();
  }
  w2.detach().copy_(w1);
  optim::Adam o2({{"w", w2}}, {0.01, 0.5, 0.9, 1e-8, 0.0});
  std::map<std::string, Tensor> st;
  for (auto& [k, t] : o1.state_tensors()) st[k] = t.clone();
  std::map<std::string, int64_t> ct;
  for (auto& [k, v] : o1.state_counters()) ct[k] = v;
  o2.load_state(st, ct, "state");
  Tensor g = Tensor::randn({4, 3}, &gen);
  w1.set_grad(g);
  w2.set_grad(g);
  o1.step();
  o2.step();
  EXPECT_EQ(w1.to_double_vector(), w2.to_double_vector());

  std::map<std::string, Tensor> bad = st;
  bad["w.exp_avg"] = Tensor::zeros({3, 4});
  EXPECT_THROW(o2.load_state(bad, ct, "state"), Error);
  bad = st;
  bad["v.exp_avg"] = Tensor::zeros({4, 3});
  EXPECT_THROW(o2.load_state(bad, ct, "state"), Error);
}

TEST(Optim, ClipGradNormScalesToMaxNorm) {
  Tensor a = param(randv(5, 11)), b = param(randv(4, 12));
  std::vector<double> ga = randv(5, 13), gb = randv(4, 14);
  a.set_grad(Tensor::from_vector(ga, {5}));
  b.set_grad(Tensor::from_vector(gb, {4}));
  double total = 0;
  for (double v : ga) total += v * v;
  for (double v : gb) total += v * v;
  total = std::sqrt(total);
  double max_norm = 0.5 * total;
  EXPECT_NEAR(optim::clip_grad_norm({a, b}, max_norm), total, 1e-12);
  double scale = max_norm / (total + 1e-6);
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(a.grad().to_double_vector()[i], ga[i] * scale, 1e-12);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(b.grad().to_double_vector()[i], gb[i] * scale, 1e-12);
  // Below the limit nothing changes.
  auto before = a.grad().to_double_vector();
  optim::clip_grad_norm({a, b}, 10 * total);
  EXPECT_EQ(a.grad().to_double_vector(), before);
}

TEST(Optim, ClipWeightsClampsEveryParameter) {
  Tensor a = param({-0.3, 0.001, 0.2, -0.009}), b = param({0.05, -0.05});
  optim::clip_weights({a, b}, 0.01);
  EXPECT_EQ(a.to_double_vector(), (std::vector<double>{-0.01, 0.001, 0.01, -0.009}));
  EXPECT_EQ(b.to_double_vector(), (std::vector<double>{0.01, -0.01}));
  EXPECT_THROW(optim::clip_weights({a}, 0.0), Error);
}

TEST(Optim, AdamMinimisesAQuadratic) {
  Tensor w = param({3.0, -2.0});
  optim::Adam opt({{"w", w}}, {0.1, 0.9, 0.999, 1e-8, 0.0});
  for (int i = 0; i < 300; ++i) {
    opt.zero_grad();
    sum(square(w - Tensor::from_vector(std::vector<double>{1.0, 0.5}, {2}))).backward();
    opt.step();
  }
  auto v = w.to_double_vector();
  EXPECT_NEAR(v[0], 1.0, 1e-2);
  EXPECT_NEAR(v[1], 0.5, 1e-2);
}

TEST(Optim, RejectsBadConfiguration) {
  Tensor w = param({1.0});
  EXPECT_THROW(optim::Adam({{"w", w}}, {0.1, 1.0, 0.9, 1e-8, 0.0}), Error);
  EXPECT_THROW(optim::Adam({{"w", w}, {"w", w}}, {}), Error);
  Tensor g = param({1.0, 2.0});
  optim::SGD opt({{"w", w}}, {0.1, 0.0, 0.0});
  w.set_grad(Tensor::from_vector(std::vector<double>{1.0, 2.0}, {2}));
  EXPECT_THROW(opt.step(), Error);  // gradient shape differs from the parameter's
}
