// Activations: forward against long-double formulas, stability at extreme logits, the fused
// backward ops against their formulas and the composite gradients, and second derivatives.
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

// References in long double through the textbook formulas (no stabilising tricks), which are
// exact enough for |x| <= 100 in long double's range.
double ref_sigmoid(double x) { return static_cast<double>(1.0L / (1.0L + std::exp(-static_cast<long double>(x)))); }
double ref_log_sigmoid(double x) {
  return static_cast<double>(-std::log1p(std::exp(-static_cast<long double>(x))));
}
double ref_softplus(double x) { return static_cast<double>(std::log1p(std::exp(static_cast<long double>(x)))); }

struct ActCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  std::function<double(double)> deriv;
};

std::vector<ActCase> act_cases() {
  return {
      {"relu", [](const Tensor& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0.0; },
       [](double v) { return v > 0 ? 1.0 : 0.0; }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, [](double v) { return v > 0 ? v : 0.2 * v; },
       [](double v) { return v > 0 ? 1.0 : 0.2; }},
      {"leaky_relu_default", [](const Tensor& x) { return leaky_relu(x); }, [](double v) { return v > 0 ? v : 0.01 * v; },
       [](double v) { return v > 0 ? 1.0 : 0.01; }},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double v) { return std::tanh(static_cast<long double>(v)); },
       [](double v) { return 1 - std::tanh(v) * std::tanh(v); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, ref_sigmoid,
       [](double v) { return ref_sigmoid(v) * ref_sigmoid(-v); }},
      {"log_sigmoid", [](const Tensor& x) { return log_sigmoid(x); }, ref_log_sigmoid,
       [](double v) { return ref_sigmoid(-v); }},
      {"softplus", [](const Tensor& x) { return softplus(x); }, ref_softplus, ref_sigmoid},
  };
}

}  // namespace

TEST(Activation, ForwardMatchesReference) {
  std::mt19937_64 r(4);
  uint64_t seed = 10;
  for (const auto& c : act_cases())
    for (DType dt : both_dtypes())
      for (int rank = 1; rank <= 4; ++rank) {
        Tensor x = uniform(random_shape(r, rank), dt, seed++, -6, 6);
        Tensor y = c.op(x);
        EXPECT_EQ(y.shape(), x.shape());
        expect_matches(y, ref_unary(x.to_double_vector(), c.ref), std::string(c.name) + " " + dtype_name(dt));
      }
}

TEST(Activation, FirstOrderGradientMatchesDerivative) {
  // Plain backward (the fused kernels) against the derivative written out by hand.
  for (const auto& c : act_cases())
    for (DType dt : both_dtypes()) {
      Tensor x = uniform({4, 9}, dt, 30, -5, 5).requires_grad_();
      Tensor up = uniform({4, 9}, dt, 31, -1, 1);
      c.op(x).backward(up);
      auto xv = x.to_double_vector(), uv = up.to_double_vector();
      std::vector<double> ref(xv.size());
      for (size_t i = 0; i < ref.size(); ++i) ref[i] = uv[i] * c.deriv(xv[i]);
      expect_matches(x.grad(), ref, dt == DType::Float32 ? 1e-5 : 1e-11, dt == DType::Float32 ? 1e-6 : 1e-12,
                     std::string(c.name) + " grad " + dtype_name(dt));
    }
}

// ---- the fused backward ops ----

// Each fused backward op against its formula evaluated element by element in double.
TEST(ActivationBackwardOps, ValuesMatchTheirFormulas) {
  for (DType dt : both_dtypes()) {
    Tensor g = uniform({5, 7}, dt, 42, -2, 2), x = uniform({5, 7}, dt, 43, -3, 3);
    Tensor yt = uniform({5, 7}, dt, 44, -0.99, 0.99), ys = uniform({5, 7}, dt, 45, 0.01, 0.99);
    auto gv = g.to_double_vector(), xv = x.to_double_vector(), ytv = yt.to_double_vector(), ysv = ys.to_double_vector();
    std::vector<double> leaky(gv.size()), rl(gv.size()), th(gv.size()), sg(gv.size());
    for (size_t i = 0; i < gv.size(); ++i) {
      leaky[i] = xv[i] > 0 ? gv[i] : 0.2 * gv[i];
      rl[i] = xv[i] > 0 ? gv[i] : 0.0;
      th[i] = gv[i] * (1 - ytv[i] * ytv[i]);
      sg[i] = gv[i] * ysv[i] * (1 - ysv[i]);
    }
    const std::string d = dtype_name(dt);
    expect_matches(leaky_relu_backward(g, x, 0.2), leaky, "leaky_relu_backward " + d);
    expect_matches(leaky_relu_backward(g, x, 0.0), rl, "leaky_relu_backward slope 0 " + d);
    expect_matches(tanh_backward(g, yt), th, "tanh_backward " + d);
    expect_matches(sigmoid_backward(g, ys), sg, "sigmoid_backward " + d);
  }
}

TEST(ActivationBackwardOps, PlainBackwardRunsTheFusedOpAndMatchesTheComposite) {
  // The fused rules against the same gradients written in differentiable ops.
  Tensor x = uniform_away_from({3, 7}, 46, -4, 4, {0.0}).requires_grad_();
  Tensor up = rand64({3, 7}, 47, -1, 1, false);
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> op;
    std::function<Tensor(const Tensor& g, const Tensor& x)> composite;
  };
  const Case cases[] = {
      {"leaky_relu", [](const Tensor& v) { return leaky_relu(v, 0.2); },
       [](const Tensor& g, const Tensor& v) { return g * leaky_step(v, 0.2); }},
      {"relu", [](const Tensor& v) { return relu(v); },
       [](const Tensor& g, const Tensor& v) { return g * leaky_step(v, 0.0); }},
      {"tanh", [](const Tensor& v) { return tanh(v); },
       [](const Tensor& g, const Tensor& v) { return g * (1.0 - square(tanh(v))); }},
      {"sigmoid", [](const Tensor& v) { return sigmoid(v); },
       [](const Tensor& g, const Tensor& v) { return g * sigmoid(v) * (1.0 - sigmoid(v)); }},
  };
  for (const Case& c : cases) {
    Tensor fused = grad({c.op(x)}, {x}, {up})[0];
    Tensor composite;
    {
      NoGradGuard ng;
      composite = c.composite(up, x);
    }
    EXPECT_FALSE(fused.requires_grad()) << c.name;
    EXPECT_LT(rel_error(fused, composite), 1e-14) << c.name;
  }
}

TEST(ActivationBackwardOps, Gradcheck) {
  Tensor g = rand64({3, 5}, 48, -1, 1), x = uniform_away_from({3, 5}, 49, -3, 3, {0.0}).requires_grad_();
  Tensor yt = rand64({3, 5}, 50, -0.9, 0.9), ys = rand64({3, 5}, 51, 0.1, 0.9);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return leaky_relu_backward(in[0], in[1], 0.2); },
                   inputs({g, x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return tanh_backward(in[0], in[1]); }, inputs({g, yt}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return sigmoid_backward(in[0], in[1]); }, inputs({g, ys}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return leaky_relu_backward(in[0], in[1], 0.2) * in[0]; },
                       inputs({g, x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return tanh_backward(in[0], in[1]); }, inputs({g, yt}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return sigmoid_backward(in[0], in[1]); }, inputs({g, ys}));
}

TEST(ActivationBackwardOps, ErrorsNameTheOpAndShapes) {
  Tensor g = Tensor::zeros({2, 3}), x = Tensor::zeros({4});
  expect_error_naming([&] { leaky_relu_backward(g, x, 0.2); }, {"leaky_relu_backward", "[2, 3]", "[4]"});
  expect_error_naming([&] { tanh_backward(g, x); }, {"tanh_backward", "[2, 3]", "[4]"});
  expect_error_naming([&] { sigmoid_backward(g, Tensor::zeros({2, 3}, DType::Float64)); }, {"sigmoid_backward", "dtypes"});
}

TEST(ActivationBackwardOps, SecondDerivativeStaysFused) {
  // create_graph records the fused backward op itself, not the composite formula (mul, leaky_step,
  // square, ...): the gradient penalty's double backward then runs the same one-pass kernels.
  Tensor x = uniform_away_from({4, 3}, 52, -2, 2, {0.0}).requires_grad_();
  Tensor up = rand64({4, 3}, 53, -1, 1);  // requires grad: the backward is differentiated in it too
  for (const char* name : {"leaky_relu", "relu", "tanh", "sigmoid"}) {
    const std::string op = name;
    Tensor y = op == "leaky_relu" ? leaky_relu(x, 0.2) : op == "relu" ? relu(x) : op == "tanh" ? tanh(x) : sigmoid(x);
    Tensor g = grad({y}, {x}, {up}, /*create_graph=*/true)[0];
    ASSERT_TRUE(g.grad_fn()) << op;
    const std::string fused = (op == "relu" ? std::string("leaky_relu") : op) + "_backward";
    EXPECT_EQ(g.grad_fn()->name, fused) << op;
    auto ops = recorded_ops(g);
    EXPECT_EQ(ops.count("mul"), 0u) << op << ": the first derivative was built from composite ops";
    // Second order: tanh's and sigmoid's d/dy flows into their forward node, whose rule is the
    // fused op again; d/dg of every fused backward is the same fused op.
    Tensor h = grad({sum(g * g)}, {up}, {}, /*create_graph=*/true)[0];
    EXPECT_EQ(recorded_ops(h).count(fused), 2u) << op << ": d/dg of " << fused << " is not " << fused;
  }
}

TEST(Activation, ExtremeInputsStayFiniteAndCorrect) {
  // Long double holds e^1000, so the textbook references stay exact out to |x| = 1000.
  std::vector<double> xs = {-1000.0, -100.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 100.0, 1000.0};
  for (DType dt : both_dtypes()) {
    Tensor x = Tensor::from_vector(xs, {static_cast<int64_t>(xs.size())}).to(dt).requires_grad_();
    for (const auto& c : act_cases()) {
      Tensor y = c.op(x);
      auto yv = y.to_double_vector();
      auto gv = grad({sum(y)}, {x})[0].to_double_vector();
      for (size_t i = 0; i < xs.size(); ++i) {
        std::string at = std::string(c.name) + "(" + std::to_string(xs[i]) + ") " + dtype_name(dt);
        ASSERT_TRUE(std::isfinite(yv[i])) << at;
        ASSERT_TRUE(std::isfinite(gv[i])) << "gradient of " << at;
        double want = c.ref(xs[i]);
        EXPECT_NEAR(yv[i], want, 1e-6 * (1 + std::abs(want))) << at;
        EXPECT_NEAR(gv[i], c.deriv(xs[i]), 1e-6) << "gradient of " << at;
      }
    }
  }
}

TEST(Activation, SoftplusAndLogSigmoidKeepTinyValuesAtLargeLogits) {
  // The stable forms keep the exponentially small tails that a naive log(1 + e^x) rounds to 0.
  Tensor x = Tensor::from_vector(std::vector<double>{-100.0, -40.0, 40.0, 100.0}, {4});
  auto sp = softplus(x).to_double_vector(), ls = log_sigmoid(x).to_double_vector();
  EXPECT_NEAR(sp[0] / ref_softplus(-100.0), 1.0, 1e-12);
  EXPECT_NEAR(sp[1] / ref_softplus(-40.0), 1.0, 1e-12);
  EXPECT_NEAR(ls[2] / ref_log_sigmoid(40.0), 1.0, 1e-12);
  EXPECT_NEAR(ls[3] / ref_log_sigmoid(100.0), 1.0, 1e-12);
  // And the float32 path must not underflow the tail to zero at -40 (e^-40 ~ 4e-18 is a normal float).
  auto sp32 = softplus(x.to(DType::Float32)).to_double_vector();
  EXPECT_NEAR(sp32[1] / ref_softplus(-40.0), 1.0, 1e-6);
}

TEST(Activation, NaNPropagates) {
  // A diverged layer must show up as NaN downstream, not be masked to a finite value.
  for (DType dt : both_dtypes()) {
    Tensor x = Tensor::from_vector(std::vector<double>{NAN, 1.0, -1.0}, {3}).to(dt);
    for (const auto& c : act_cases()) {
      auto y = c.op(x).to_double_vector();
      EXPECT_TRUE(std::isnan(y[0])) << c.name << " " << dtype_name(dt);
      EXPECT_NEAR(y[1], c.ref(1.0), 1e-6) << c.name;
      EXPECT_NEAR(y[2], c.ref(-1.0), 1e-6) << c.name;
    }
    EXPECT_TRUE(std::isnan(clamp(x, -0.5, 0.5).to_double_vector()[0])) << dtype_name(dt);
  }
}

// ---- gradients ----

TEST(ActivationGrad, AllActivations) {
  for (const auto& c : act_cases()) {
    // Away from the kink at 0 for the piecewise-linear ones.
    Tensor x = uniform_away_from({3, 5}, 50, -4, 4, {0.0}).requires_grad_();
    auto gc = gradcheck([&](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x});
    EXPECT_TRUE(gc.ok) << c.name << "\n" << gc.report;
  }
}

TEST(ActivationGradGrad, SmoothActivations) {
  Tensor x = rand64({3, 5}, 60, -3, 3);
  for (const char* name : {"tanh", "sigmoid", "softplus", "log_sigmoid"})
    for (const auto& c : act_cases())
      if (std::string(c.name) == name) {
        auto gg = gradgradcheck([&](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x});
        EXPECT_TRUE(gg.ok) << c.name << "\n" << gg.report;
      }
}

TEST(ActivationGradGrad, LeakyReluCrossTerms) {
  // d2/dx2 leaky_relu = 0 away from 0, but a layer's input gradient depends on the weights:
  // d/dw of (dL/dx) is what the WGAN-GP penalty needs.
  Tensor x = uniform_away_from({4, 3}, 70, -2, 2, {0.0}).requires_grad_();
  Tensor w = rand64({3}, 71, 0.5, 1.5);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return leaky_relu(in[0], 0.2) * in[1]; }, inputs({x, w}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return leaky_relu(in[0] * in[1], 0.2); }, inputs({x, w}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(leaky_relu(in[0], 0.2)); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(relu(in[0])); }, inputs({x}));
}

TEST(ActivationGradGrad, AtExtremeLogits) {
  // Second derivatives must also stay finite where sigmoid saturates.
  Tensor x = Tensor::from_vector(std::vector<double>{-100.0, -20.0, 20.0, 100.0}, {4}).requires_grad_();
  for (const auto& c : act_cases()) {
    Tensor g = grad({sum(c.op(x))}, {x}, {}, /*create_graph=*/true)[0];
    if (!g.requires_grad()) continue;  // piecewise linear: no second-order graph
    Tensor h = grad({sum(g)}, {x}, {}, false, /*allow_unused=*/true)[0];
    if (!h.defined()) continue;
    for (double v : h.to_double_vector()) EXPECT_TRUE(std::isfinite(v)) << c.name;
  }
}
