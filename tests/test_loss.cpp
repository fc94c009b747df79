// Losses: binary cross-entropy on logits (tensor and constant targets) and MSE, every reduction,
// stability at extreme logits, gradients and second derivatives.
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

// -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], in long double from the textbook formula.
double ref_bce(double x, double t) {
  long double p = 1.0L / (1.0L + std::exp(-static_cast<long double>(x)));
  long double q = 1.0L / (1.0L + std::exp(static_cast<long double>(x)));  // 1 - p without cancellation
  return static_cast<double>(-(t * std::log(p) + (1 - t) * std::log(q)));
}
double ref_sigmoid(double x) { return static_cast<double>(1.0L / (1.0L + std::exp(-static_cast<long double>(x)))); }

std::vector<double> reduce_ref(const std::vector<double>& v, Reduction r) {
  if (r == Reduction::None) return v;
  double s = 0;
  for (double e : v) s += e;
  return {r == Reduction::Sum ? s : s / static_cast<double>(v.size())};
}

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

}  // namespace

TEST(Loss, BceWithLogitsTensorTargets) {
  std::mt19937_64 r(2);
  uint64_t seed = 10;
  for (DType dt : both_dtypes())
    for (Reduction red : kReductions) {
      Shape s = random_shape(r, 2);
      Tensor x = uniform(s, dt, seed++, -6, 6), t = uniform(s, dt, seed++, 0, 1);
      auto per = ref_binary(x.to_double_vector(), s, t.to_double_vector(), s, ref_bce);
      Tensor l = bce_with_logits(x, t, red);
      EXPECT_EQ(l.shape(), red == Reduction::None ? s : Shape{});
      expect_matches(l, reduce_ref(per, red), "bce " + shape_str(s));
    }
}

TEST(Loss, BceWithLogitsConstantTarget) {
  for (DType dt : both_dtypes())
    for (double target : {0.0, 1.0, 0.9})
      for (Reduction red : kReductions) {
        Tensor x = uniform({5, 3}, dt, 20, -6, 6);
        auto per = ref_unary(x.to_double_vector(), [&](double v) { return ref_bce(v, target); });
        expect_matches(bce_with_logits(x, target, red), reduce_ref(per, red), "bce target " + std::to_string(target));
      }
}

TEST(Loss, MseLoss) {
  for (DType dt : both_dtypes())
    for (Reduction red : kReductions) {
      Tensor a = uniform({4, 7}, dt, 30), b = uniform({4, 7}, dt, 31);
      auto per = ref_binary(a.to_double_vector(), a.shape(), b.to_double_vector(), b.shape(),
                            [](double u, double v) { return (u - v) * (u - v); });
      expect_matches(mse_loss(a, b, red), reduce_ref(per, red), "mse");
    }
}

TEST(Loss, BceAtExtremeLogitsIsFiniteAndCorrect) {
  // A saturated discriminator: logits of +-100 (and beyond) against both targets.
  std::vector<double> logits = {-1000.0, -100.0, -50.0, 50.0, 100.0, 1000.0};
  for (DType dt : both_dtypes())
    for (double target : {0.0, 1.0}) {
      Tensor x = Tensor::from_vector(logits, {6}).to(dt).requires_grad_();
      Tensor t = Tensor::full({6}, target, dt);
      for (int form = 0; form < 2; ++form) {
        Tensor l = form ? bce_with_logits(x, target, Reduction::None) : bce_with_logits(x, t, Reduction::None);
        Tensor g = grad({sum(l)}, {x})[0];
        auto lv = l.to_double_vector(), gv = g.to_double_vector();
        for (size_t i = 0; i < logits.size(); ++i) {
          std::string at = "bce(" + std::to_string(logits[i]) + ", " + std::to_string(target) + ") " + dtype_name(dt);
          ASSERT_TRUE(std::isfinite(lv[i])) << at;
          ASSERT_TRUE(std::isfinite(gv[i])) << at;
          double want = ref_bce(logits[i], target);  // ~|x| when wrong, ~e^-|x| when right
          EXPECT_NEAR(lv[i], want, 1e-6 * (1 + want)) << at;
          EXPECT_NEAR(gv[i], ref_sigmoid(logits[i]) - target, 1e-7) << at;
        }
      }
    }
}

TEST(Loss, ReducedBceAtExtremeLogits) {
  // The reduced forms take another code path (one fused pass for value and gradient).
  std::vector<double> logits = {-1000.0, -100.0, -50.0, 50.0, 100.0, 1000.0};
  for (DType dt : both_dtypes())
    for (double target : {0.0, 1.0})
      for (Reduction red : {Reduction::Sum, Reduction::Mean})
        for (int form = 0; form < 2; ++form) {
          Tensor x = Tensor::from_vector(logits, {6}).to(dt).requires_grad_();
          Tensor t = Tensor::full({6}, target, dt);
          Tensor l = form ? bce_with_logits(x, target, red) : bce_with_logits(x, t, red);
          double scale = red == Reduction::Mean ? 1.0 / 6 : 1.0, want = 0;
          for (double v : logits) want += ref_bce(v, target) * scale;
          std::string at = std::string("target ") + std::to_string(target) + (form ? " constant " : " tensor ") +
                           (red == Reduction::Sum ? "sum " : "mean ") + dtype_name(dt);
          ASSERT_TRUE(std::isfinite(l.item())) << at;
          EXPECT_NEAR(l.item(), want, 1e-6 * want) << at;
          l.backward();
          auto gv = x.grad().to_double_vector();
          for (size_t i = 0; i < logits.size(); ++i) {
            ASSERT_TRUE(std::isfinite(gv[i])) << at;
            EXPECT_NEAR(gv[i], (ref_sigmoid(logits[i]) - target) * scale, 1e-7) << at << " element " << i;
          }
        }
}

TEST(Loss, FirstOrderAndCreateGraphGradientsAgree) {
  // A plain backward may use the fused gradient; under create_graph it is rebuilt from ops.
  Tensor x = uniform({5, 4}, DType::Float64, 45, -6, 6).requires_grad_();
  Tensor t = uniform({5, 4}, DType::Float64, 46, 0, 1).requires_grad_();
  for (Reduction red : {Reduction::Sum, Reduction::Mean}) {
    auto plain = grad({bce_with_logits(x, t, red) * 1.7}, {x, t});
    auto graph = grad({bce_with_logits(x, t, red) * 1.7}, {x, t}, {}, /*create_graph=*/true);
    EXPECT_LT(rel_error(graph[0], plain[0]), 1e-14);
    EXPECT_LT(rel_error(graph[1], plain[1]), 1e-14);
    Tensor pc = grad({bce_with_logits(x, 0.8, red) * 1.7}, {x})[0];
    Tensor gc = grad({bce_with_logits(x, 0.8, red) * 1.7}, {x}, {}, true)[0];
    EXPECT_LT(rel_error(gc, pc), 1e-14);
  }
}

TEST(Loss, GradientIsSigmoidMinusTargetScaledByReduction) {
  Tensor x = uniform({6, 5}, DType::Float64, 40, -5, 5).requires_grad_();
  Tensor t = uniform({6, 5}, DType::Float64, 41, 0, 1);
  auto xv = x.to_double_vector(), tv = t.to_double_vector();
  Tensor gm = grad({bce_with_logits(x, t)}, {x})[0];
  Tensor gs = grad({bce_with_logits(x, t, Reduction::Sum)}, {x})[0];
  std::vector<double> ref(xv.size());
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = ref_sigmoid(xv[i]) - tv[i];
  expect_matches(gs, ref, 1e-12, 1e-14, "sum");
  expect_matches(gm, ref_unary(ref, [](double v) { return v / 30.0; }), 1e-12, 1e-14, "mean");
}

TEST(Loss, ErrorsNameOpAndShapes) {
  Tensor a = Tensor::zeros({3, 2}), b = Tensor::zeros({2, 3});
  expect_error_naming([&] { bce_with_logits(a, b); }, {"bce_with_logits", "[3, 2]", "[2, 3]"});
  expect_error_naming([&] { mse_loss(a, b); }, {"mse_loss", "[3, 2]", "[2, 3]"});
  expect_error_naming([&] { mse_loss(a, Tensor::zeros({3, 2}, DType::Float64)); }, {"mse_loss", "float64"});
  expect_error_naming([&] { bce_with_logits(a, 1.5); }, {"bce_with_logits", "1.5"});
  expect_error_naming([&] { bce_with_logits(Tensor::zeros({0}), 1.0); }, {"bce_with_logits", "[0]"});
  expect_error_naming([&] { mse_loss(Tensor::zeros({0}), Tensor::zeros({0})); }, {"mean", "[0]"});
}

// ---- gradients ----

TEST(LossGrad, AllLossesAllReductions) {
  Tensor x = rand64({4, 3}, 50, -4, 4), t = rand64({4, 3}, 51, 0, 1), y = randn64({4, 3}, 52);
  for (Reduction red : kReductions) {
    auto g1 = gradcheck([&](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1], red); }, {x, t});
    EXPECT_TRUE(g1.ok) << g1.report;
    auto g2 = gradcheck([&](const std::vector<Tensor>& in) { return bce_with_logits(in[0], 0.3, red); }, {x});
    EXPECT_TRUE(g2.ok) << g2.report;
    auto g3 = gradcheck([&](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], red); }, {x, y});
    EXPECT_TRUE(g3.ok) << g3.report;
  }
}

TEST(LossGradGrad, BceAndMse) {
  Tensor x = rand64({3, 4}, 60, -4, 4), t = rand64({3, 4}, 61, 0, 1), y = randn64({3, 4}, 62);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1]); }, inputs({x, t}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return bce_with_logits(in[0], 1.0, Reduction::Sum); },
                       inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return bce_with_logits(in[0], 0.0, Reduction::None); },
                       inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); }, inputs({x, y}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], Reduction::None); },
                       inputs({x, y}));
}
