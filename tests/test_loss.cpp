// Losses: binary cross-entropy on logits (tensor and constant targets), MSE and L1, every
// reduction, stability at extreme logits, gradients and second derivatives.
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

TEST(Loss, L1Loss) {
  // By hand: |1 - 3| + |-2 - -2| + |0.5 - -1| = 2 + 0 + 1.5.
  for (DType dt : both_dtypes()) {
    Tensor a = Tensor::from_vector(std::vector<double>{1, -2, 0.5}, {3}).to(dt);
    Tensor b = Tensor::from_vector(std::vector<double>{3, -2, -1}, {3}).to(dt);
    expect_matches(l1_loss(a, b, Reduction::None), {2, 0, 1.5}, 0, 0, "l1 none");
    expect_matches(l1_loss(a, b, Reduction::Sum), {3.5}, 0, 0, "l1 sum");
    expect_matches(l1_loss(a, b), {3.5 / 3}, 1e-6, 0, "l1 mean");
    EXPECT_EQ(l1_loss(a, b).shape(), Shape{});
  }
  for (DType dt : both_dtypes())
    for (Reduction red : kReductions) {
      Tensor a = uniform({4, 3, 5, 7}, dt, 32), b = uniform({4, 3, 5, 7}, dt, 33);
      auto per = ref_binary(a.to_double_vector(), a.shape(), b.to_double_vector(), b.shape(),
                            [](double u, double v) { return std::abs(u - v); });
      expect_matches(l1_loss(a, b, red), reduce_ref(per, red), "l1");
    }
}

TEST(Loss, L1GradientIsSignAndZeroWhereEqual) {
  // d/dinput = sign(input - target) / numel (Mean), 0 where input == target (torch's sign(0) = 0),
  // and the target's gradient its negation.
  Tensor a = Tensor::from_vector(std::vector<double>{1, -2, 0.5, 4}, {2, 2}).requires_grad_();
  Tensor b = Tensor::from_vector(std::vector<double>{3, -2, -1, 4}, {2, 2}).requires_grad_();
  auto g = grad({l1_loss(a, b)}, {a, b});
  EXPECT_EQ(g[0].to_double_vector(), (std::vector<double>{-0.25, 0, 0.25, 0}));
  EXPECT_EQ(g[1].to_double_vector(), (std::vector<double>{0.25, 0, -0.25, 0}));
  auto gs = grad({l1_loss(a, b, Reduction::Sum)}, {a})[0];
  EXPECT_EQ(gs.to_double_vector(), (std::vector<double>{-1, 0, 1, 0}));
  Tensor up = Tensor::from_vector(std::vector<double>{2, 3, 5, 7}, {2, 2});
  auto gn = grad({l1_loss(a, b, Reduction::None)}, {a}, {up})[0];
  EXPECT_EQ(gn.to_double_vector(), (std::vector<double>{-2, 0, 5, 0}));
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
  expect_error_naming([&] { l1_loss(a, b); }, {"l1_loss", "[3, 2]", "[2, 3]"});
  expect_error_naming([&] { l1_loss(a, Tensor::zeros({3, 2}, DType::Float64)); }, {"l1_loss", "float32", "float64"});
  expect_error_naming([&] { l1_loss(Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({1, 3, 4})); },
                      {"l1_loss", "[1, 3, 4, 4]", "[1, 3, 4]"});
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
    // |x - y| has a kink where they meet: y is drawn independently of x, so no pair is within the
    // finite-difference step of it (the gradcheck would flag one).
    auto g4 = gradcheck([&](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1], red); }, {x, y});
    EXPECT_TRUE(g4.ok) << g4.report;
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
  // L1's second derivative is 0 away from the kink; through a nonlinearity it is not.
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return l1_loss(tanh(in[0]), in[1]); }, inputs({x, y}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1], Reduction::None); },
                       inputs({x, y}));
}

// ---- softmax cross-entropy ----

namespace {

// -sum_k q_k log p_k with p = exp(x) / sum exp(x) and q = (1 - s) onehot(t) + s / K, in long double
// straight from the definition (no max subtraction: the test logits are moderate).
struct XentRef {
  std::vector<double> rows;  // each row's loss
  std::vector<double> grad;  // d(sum of rows)/d logits = p - q
};

XentRef ref_xent(const std::vector<double>& x, const std::vector<double>& t, int64_t n, int64_t k, double s) {
  XentRef r;
  for (int64_t i = 0; i < n; ++i) {
    long double z = 0;
    for (int64_t j = 0; j < k; ++j) z += std::exp(static_cast<long double>(x[i * k + j]));
    long double loss = 0;
    for (int64_t j = 0; j < k; ++j) {
      const long double p = std::exp(static_cast<long double>(x[i * k + j])) / z;
      const long double q = (j == static_cast<int64_t>(t[i]) ? 1.0L - s : 0.0L) + s / static_cast<long double>(k);
      loss -= q * std::log(p);
      r.grad.push_back(static_cast<double>(p - q));
    }
    r.rows.push_back(static_cast<double>(loss));
  }
  return r;
}

Tensor class_ids(int64_t n, int64_t k, uint64_t seed, DType dt = DType::Float32) {
  std::mt19937_64 r(seed);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = static_cast<double>(r() % static_cast<uint64_t>(k));
  return Tensor::from_vector(v, {n}).to(dt);
}

}  // namespace

TEST(SoftmaxCrossEntropy, HandComputedTwoByThree) {
  // logits [[1, 2, 3], [1, -1, 0]], targets [2, 1]. Row logsumexps: 3 + log(1 + e^-1 + e^-2) and
  // 1 + log(1 + e^-1 + e^-2) (the same offsets from each row's max).
  const double c = std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 1, -1, 0}, {2, 3}).requires_grad_();
  Tensor t = Tensor::from_vector(std::vector<double>{2, 1}, {2});
  // No smoothing: row 0: lse - 3 = c; row 1: lse - (-1) = 2 + c.
  expect_close(softmax_cross_entropy(x, t, 0.0, Reduction::None), {c, 2 + c}, 1e-15);
  expect_close(softmax_cross_entropy(x, t, 0.0, Reduction::Sum), {2 + 2 * c}, 1e-15);
  Tensor l = softmax_cross_entropy(x, t);
  expect_close(l, {1 + c}, 1e-15);
  // Smoothing 0.3 over 3 classes: q = 0.7 onehot + 0.1, so loss = lse - 0.7 x_t - 0.1 sum(x):
  // row 0: 3 + c - 2.1 - 0.6; row 1: 1 + c + 0.7 - 0.
  expect_close(softmax_cross_entropy(x, t, 0.3, Reduction::None), {0.3 + c, 1.7 + c}, 1e-14);
  // Gradient of the mean: (softmax - onehot) / 2; softmax of row 0 is [e^-2, e^-1, 1] / (1 + e^-1 + e^-2),
  // of row 1 [1, e^-2, e^-1] / (1 + e^-1 + e^-2).
  const double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  l.backward();
  expect_close(x.grad(), {std::exp(-2.0) / z / 2, std::exp(-1.0) / z / 2, (1 / z - 1) / 2,  //
                          1 / z / 2, (std::exp(-2.0) / z - 1) / 2, std::exp(-1.0) / z / 2},
               1e-15);
}

TEST(SoftmaxCrossEntropy, MatchesFloat64LoopEveryReductionAndSmoothing) {
  std::mt19937_64 r(7);
  uint64_t seed = 300;
  for (DType dt : both_dtypes())
    for (double s : {0.0, 0.1, 0.45})
      for (Reduction red : kReductions) {
        const int64_t n = 1 + static_cast<int64_t>(r() % 9), k = 1 + static_cast<int64_t>(r() % 12);
        Tensor x = uniform({n, k}, dt, seed++, -5, 5).requires_grad_();
        Tensor t = class_ids(n, k, seed++, r() % 2 ? DType::Float32 : DType::Float64);
        XentRef ref = ref_xent(x.to_double_vector(), t.to_double_vector(), n, k, s);
        const std::string at = "[" + std::to_string(n) + ", " + std::to_string(k) + "] s " + std::to_string(s) + " " +
                               dtype_name(dt);
        Tensor l = softmax_cross_entropy(x, t, s, red);
        EXPECT_EQ(l.shape(), red == Reduction::None ? Shape{n} : Shape{}) << at;
        auto want = reduce_ref(ref.rows, red);
        expect_matches(l, want, dt == DType::Float32 ? 2e-6 : 1e-13, dt == DType::Float32 ? 2e-6 : 1e-13, at);
        // d(sum of outputs)/dx: (p - q) * (1/N for the mean).
        Tensor g = grad({sum(l)}, {x})[0];
        const double scale = red == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0;
        expect_matches(g, ref_unary(ref.grad, [scale](double v) { return v * scale; }),
                       dt == DType::Float32 ? 2e-6 : 1e-13, dt == DType::Float32 ? 2e-7 : 1e-15, at + " grad");
      }
}

TEST(SoftmaxCrossEntropy, ExtremeLogitsStayFiniteAndExact) {
  // Logits of +-1000 overflow exp() without the row max; the loss of a confident right answer is
  // ~0, of a confident wrong one ~2000.
  for (DType dt : both_dtypes()) {
    Tensor x = Tensor::from_vector(std::vector<double>{1000, -1000, 0, 1000, -1000, 999}, {2, 3}).to(dt).requires_grad_();
    Tensor t = Tensor::from_vector(std::vector<double>{0, 1}, {2});
    Tensor l = softmax_cross_entropy(x, t, 0.0, Reduction::None);
    auto v = l.to_double_vector();
    ASSERT_TRUE(std::isfinite(v[0]) && std::isfinite(v[1])) << dtype_name(dt);
    EXPECT_NEAR(v[0], 0.0, 1e-12);
    // Row 1: lse = 1000 + log(1 + e^-1), minus x_1 = -1000.
    EXPECT_NEAR(v[1], 2000 + std::log1p(std::exp(-1.0)), dt == DType::Float32 ? 1e-3 : 1e-10);
    Tensor g = grad({sum(l)}, {x})[0];
    for (double e : g.to_double_vector()) EXPECT_TRUE(std::isfinite(e)) << dtype_name(dt);
  }
}

TEST(SoftmaxCrossEntropy, ErrorsNameTheOpShapesAndValues) {
  Tensor x = Tensor::zeros({3, 4});
  Tensor t = Tensor::from_vector(std::vector<float>{0, 1, 3}, {3});
  expect_error_naming([&] { softmax_cross_entropy(Tensor::zeros({4}), t); }, {"softmax_cross_entropy", "[4]", "[N, K]"});
  expect_error_naming([&] { softmax_cross_entropy(Tensor::zeros({3, 0}), t); }, {"softmax_cross_entropy", "[3, 0]"});
  expect_error_naming([&] { softmax_cross_entropy(x, Tensor::zeros({4})); }, {"softmax_cross_entropy", "[3]", "[4]"});
  expect_error_naming([&] { softmax_cross_entropy(x, Tensor::zeros({3, 1})); }, {"softmax_cross_entropy", "[3, 1]"});
  expect_error_naming([&] { softmax_cross_entropy(x, Tensor::from_vector(std::vector<float>{0, 4, 1}, {3})); },
                      {"softmax_cross_entropy", "targets[1]", "4", "[0, 4)"});
  expect_error_naming([&] { softmax_cross_entropy(x, Tensor::from_vector(std::vector<float>{0, 1, -1}, {3})); },
                      {"softmax_cross_entropy", "targets[2]", "-1"});
  expect_error_naming([&] { softmax_cross_entropy(x, Tensor::from_vector(std::vector<float>{0.5f, 1, 1}, {3})); },
                      {"softmax_cross_entropy", "targets[0]", "0.5"});
  expect_error_naming([&] { softmax_cross_entropy(x, t, 1.0); }, {"softmax_cross_entropy", "label_smoothing", "1"});
  expect_error_naming([&] { softmax_cross_entropy(x, t, -0.1); }, {"softmax_cross_entropy", "-0.1", "[0, 1)"});
  expect_error_naming([&] { softmax_cross_entropy(Tensor::zeros({0, 4}), Tensor::zeros({0})); },
                      {"softmax_cross_entropy", "empty", "[0, 4]"});
  EXPECT_EQ(softmax_cross_entropy(Tensor::zeros({0, 4}), Tensor::zeros({0}), 0.0, Reduction::Sum).item(), 0.0);
}

TEST(Softmax, MatchesLoopAndRowsSumToOne) {
  for (DType dt : both_dtypes()) {
    Tensor x = uniform({7, 5}, dt, 320, -8, 8);
    auto xv = x.to_double_vector();
    std::vector<double> ref;
    for (int64_t i = 0; i < 7; ++i) {
      long double z = 0;
      for (int64_t j = 0; j < 5; ++j) z += std::exp(static_cast<long double>(xv[i * 5 + j]));
      for (int64_t j = 0; j < 5; ++j) ref.push_back(static_cast<double>(std::exp(static_cast<long double>(xv[i * 5 + j])) / z));
    }
    Tensor p = softmax(x);
    expect_matches(p, ref, dt == DType::Float32 ? 2e-6 : 1e-14, 1e-7, "softmax");
    expect_matches(sum(p, {1}), std::vector<double>(7, 1.0), dt == DType::Float32 ? 1e-6 : 1e-14, 0, "row sums");
  }
  expect_error_naming([] { softmax(Tensor::zeros({2, 3, 4})); }, {"softmax", "[2, 3, 4]"});
}

// ---- Gaussian negative log-likelihood ----

namespace {

constexpr double kLog2Pi = 1.8378770664093454836;

}  // namespace

TEST(GaussianNll, MatchesFormulaEveryReduction) {
  for (DType dt : both_dtypes())
    for (Reduction red : kReductions) {
      Tensor x = uniform({5, 3}, dt, 400), m = uniform({5, 3}, dt, 401), lv = uniform({5, 3}, dt, 402, -2, 2);
      auto xv = x.to_double_vector(), mv = m.to_double_vector(), lvv = lv.to_double_vector();
      std::vector<double> per, unit;
      for (size_t i = 0; i < xv.size(); ++i) {
        const double d = xv[i] - mv[i];
        per.push_back(0.5 * (kLog2Pi + lvv[i] + d * d / std::exp(lvv[i])));
        unit.push_back(0.5 * (kLog2Pi + d * d));
      }
      expect_matches(gaussian_nll(x, m, lv, red), reduce_ref(per, red), "gaussian_nll " + std::string(dtype_name(dt)));
      expect_matches(gaussian_nll(x, m, Tensor(), red), reduce_ref(unit, red), "unit variance");
    }
  // One value by hand: x = 1, mean = 0, log_var = log 4: 0.5 (log 2pi + log 4 + 1/4).
  Tensor one = Tensor::from_vector(std::vector<double>{1}, {1});
  Tensor lv = Tensor::from_vector(std::vector<double>{std::log(4.0)}, {1});
  EXPECT_NEAR(gaussian_nll(one, zeros_like(one), lv).item(), 0.5 * (kLog2Pi + std::log(4.0) + 0.25), 1e-15);
}

TEST(GaussianNll, SharedLogVarBroadcasts) {
  // One log-variance per code dimension: log_var [3] for x [4, 3].
  Tensor x = uniform({4, 3}, DType::Float64, 410), m = uniform({4, 3}, DType::Float64, 411);
  Tensor lv = uniform({3}, DType::Float64, 412, -1, 1);
  auto xv = x.to_double_vector(), mv = m.to_double_vector(), lvv = lv.to_double_vector();
  double total = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double d = xv[i] - mv[i], l = lvv[i % 3];
    total += 0.5 * (kLog2Pi + l + d * d * std::exp(-l));
  }
  EXPECT_NEAR(gaussian_nll(x, m, lv).item(), total / 12, 1e-14);
  EXPECT_EQ(gaussian_nll(x, m, lv, Reduction::None).shape(), (Shape{4, 3}));
}

TEST(GaussianNll, Errors) {
  Tensor x = Tensor::zeros({4, 3});
  expect_error_naming([&] { gaussian_nll(x, Tensor::zeros({3, 4}), Tensor()); }, {"gaussian_nll", "[4, 3]", "[3, 4]"});
  expect_error_naming([&] { gaussian_nll(x, x, Tensor::zeros({4})); }, {"gaussian_nll", "log_var", "[4]", "[4, 3]"});
  expect_error_naming([&] { gaussian_nll(x, x, Tensor::zeros({2, 4, 3})); }, {"gaussian_nll", "[2, 4, 3]"});
  expect_error_naming([&] { gaussian_nll(x, x, Tensor::zeros({4, 3}, DType::Float64)); }, {"gaussian_nll", "float64"});
}

TEST(GaussianNllGrad, AllInputsFirstAndSecondOrder) {
  Tensor x = randn64({3, 4}, 420), m = randn64({3, 4}, 421), lv = rand64({3, 4}, 422, -1, 1);
  Tensor lv_shared = rand64({4}, 423, -1, 1);
  for (Reduction red : kReductions) {
    EXPECT_GRADCHECK([red](const std::vector<Tensor>& in) { return gaussian_nll(in[0], in[1], in[2], red); },
                     inputs({x, m, lv}));
    EXPECT_GRADCHECK([red](const std::vector<Tensor>& in) { return gaussian_nll(in[0], in[1], Tensor(), red); },
                     inputs({x, m}));
  }
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return gaussian_nll(in[0], in[1], in[2]); },
                   inputs({x, m, lv_shared}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return gaussian_nll(in[0], in[1], in[2]); },
                       inputs({x, m, lv}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return gaussian_nll(in[0], in[1], in[2], Reduction::None); },
                       inputs({x, m, lv_shared}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return gaussian_nll(in[0], in[1], Tensor(), Reduction::Sum); },
                       inputs({x, m}));
}
