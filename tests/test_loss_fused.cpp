// The fused losses: binary cross-entropy (value and gradient against a naive long-double reference,
// the composite formula, extreme logits) and softmax cross-entropy (its fused gradient and that
// gradient's own backward against the composite logsumexp formula, to third order), with first and
// second derivatives against finite differences.
#include <cmath>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine/autograd/node.h"
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

// -t log(sigmoid(x)) - (1 - t) log(1 - sigmoid(x)), written as t log(1 + e^-x) + (1 - t) log(1 + e^x):
// a different formula from the engine's max/abs form, exact in long double for |x| <= 100.
long double naive_bce(long double x, long double t) {
  return t * std::log1p(std::exp(-x)) + (1 - t) * std::log1p(std::exp(x));
}
long double naive_sigmoid(long double x) { return 1 / (1 + std::exp(-x)); }

struct Naive {
  double sum;
  std::vector<double> grad;  // d(sum)/dx
};

Naive naive(const std::vector<double>& x, const std::vector<double>& t) {
  long double s = 0;
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    s += naive_bce(x[i], t[i]);
    g[i] = static_cast<double>(naive_sigmoid(x[i]) - t[i]);
  }
  return {static_cast<double>(s), g};
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

}  // namespace

TEST(BceFused, ValueMatchesNaiveAndComposite) {
  for (const Shape& s : {Shape{7}, Shape{5, 3}, Shape{3, 1, 7, 5}}) {
    Tensor x = mul(randn64(s, 1, false), 4.0);
    Tensor t = rand64(s, 2, 0.0, 1.0, false);
    Naive ref = naive(x.to_double_vector(), t.to_double_vector());
    const double n = static_cast<double>(x.numel());
    Tensor mean_fused = bce_with_logits(x, t, Reduction::Mean);
    Tensor sum_fused = bce_with_logits(x, t, Reduction::Sum);
    Tensor per = bce_with_logits(x, t, Reduction::None);  // the composite path
    EXPECT_EQ(per.shape(), s);
    EXPECT_EQ(mean_fused.dim(), 0);
    EXPECT_LT(rel(mean_fused.item(), ref.sum / n), 1e-14);
    EXPECT_LT(rel(sum_fused.item(), ref.sum), 1e-14);
    EXPECT_LT(rel(sum(per).item(), ref.sum), 1e-14);
    EXPECT_LT(rel(mean(per).item(), mean_fused.item()), 1e-14);
  }
}

TEST(BceFused, ConstantTargetMatchesNaive) {
  Tensor x = mul(randn64({6, 5}, 3, false), 3.0);
  for (double target : {0.0, 1.0, 0.9, 0.1}) {
    std::vector<double> t(30, target);
    Naive ref = naive(x.to_double_vector(), t);
    EXPECT_LT(rel(bce_with_logits(x, target, Reduction::Mean).item(), ref.sum / 30), 1e-14) << target;
    EXPECT_LT(rel(bce_with_logits(x, target, Reduction::Sum).item(), ref.sum), 1e-14) << target;
    EXPECT_LT(rel(sum(bce_with_logits(x, target, Reduction::None)).item(), ref.sum), 1e-14) << target;
    // The tensor-target overload agrees with the constant one.
    Tensor tt = Tensor::full({6, 5}, target, DType::Float64);
    EXPECT_LT(rel(bce_with_logits(x, tt).item(), bce_with_logits(x, target).item()), 1e-15) << target;
  }
}

TEST(BceFused, ExtremeLogitsStayFiniteAndExact) {
  const std::vector<double> xs = {-100, -60, -30, -5, -1e-3, 0, 1e-3, 5, 30, 60, 100, 100, -100};
  const std::vector<double> ts = {0, 1, 0.5, 1, 0, 0.3, 1, 0, 1, 0, 1, 0, 1};
  const Shape s{static_cast<int64_t>(xs.size())};
  Naive ref = naive(xs, ts);
  for (DType dt : {DType::Float64, DType::Float32}) {
    const double tol = dt == DType::Float64 ? 1e-14 : 2e-6;
    Tensor x = Tensor::from_vector(xs, s).to(dt).requires_grad_();
    Tensor t = Tensor::from_vector(ts, s).to(dt);
    Tensor loss = bce_with_logits(x, t, Reduction::Sum);
    EXPECT_TRUE(std::isfinite(loss.item()));
    EXPECT_LT(rel(loss.item(), ref.sum), tol) << dtype_name(dt);
    loss.backward();
    auto g = x.grad().to_double_vector();
    for (size_t i = 0; i < xs.size(); ++i) {
      EXPECT_TRUE(std::isfinite(g[i])) << "x = " << xs[i];
      EXPECT_NEAR(g[i], ref.grad[i], tol) << "x = " << xs[i] << " " << dtype_name(dt);
    }
    // The composite path on the same logits.
    Tensor per = bce_with_logits(x.detach(), t, Reduction::None);
    EXPECT_LT(rel(sum(per).item(), ref.sum), tol) << dtype_name(dt);
  }
  // Each extreme term on its own: log(1 + e^100) = 100 + 3.7e-44 (to double precision, 100).
  Tensor one = Tensor::from_vector(std::vector<double>{100.0}, {1});
  EXPECT_DOUBLE_EQ(bce_with_logits(one, 0.0).item(), 100.0);
  EXPECT_NEAR(bce_with_logits(one, 1.0).item(), std::exp(-100.0), 1e-50);
}

TEST(BceFused, GradientIsPreScaledByReduction) {
  const Shape s{4, 7};
  Tensor x = mul(randn64(s, 10, false), 2.0).requires_grad_();
  Tensor t = rand64(s, 11, 0.0, 1.0, false);
  Naive ref = naive(x.to_double_vector(), t.to_double_vector());
  // Mean, with an upstream factor 3: the plain backward is one multiply of the fused gradient.
  mul(bce_with_logits(x, t, Reduction::Mean), 3.0).backward();
  auto g = x.grad().to_double_vector();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], 3.0 * ref.grad[i] / 28.0, 1e-15);
  x.zero_grad();
  bce_with_logits(x, t, Reduction::Sum).backward();
  g = x.grad().to_double_vector();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], ref.grad[i], 1e-15);
}

TEST(BceFused, RecordsOneFusedNode) {
  Tensor x = randn64({5}, 20);
  Tensor loss = bce_with_logits(x, 1.0);
  ASSERT_TRUE(loss.grad_fn());
  EXPECT_EQ(loss.grad_fn()->name, "bce_with_logits");
  EXPECT_EQ(loss.grad_fn()->next.size(), 2u);
}

TEST(BceFused, Gradcheck) {
  Tensor x = mul(randn64({3, 5}, 30, false), 3.0).requires_grad_();
  Tensor t = rand64({3, 5}, 31, 0.0, 1.0);
  for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
    EXPECT_GRADCHECK([r](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1], r); },
                     (std::vector<Tensor>{x, t}));
    for (double target : {0.0, 1.0, 0.85})
      EXPECT_GRADCHECK(([r, target](const std::vector<Tensor>& in) { return bce_with_logits(in[0], target, r); }),
                       (std::vector<Tensor>{x}));
  }
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1], Reduction::None); },
                   (std::vector<Tensor>{x, t}));
}

TEST(BceFused, SecondDerivative) {
  Tensor x = mul(randn64({2, 5}, 40, false), 2.0).requires_grad_();
  Tensor t = rand64({2, 5}, 41, 0.0, 1.0);
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    EXPECT_GRADGRADCHECK([r](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1], r); },
                         (std::vector<Tensor>{x, t}));
    EXPECT_GRADGRADCHECK([r](const std::vector<Tensor>& in) { return bce_with_logits(in[0], 1.0, r); },
                         (std::vector<Tensor>{x}));
  }
}

TEST(BceFused, FusedBackwardEqualsComposite) {
  // The fused gradient (from the forward pass) against the gradient of the composite formula
  // (Reduction::None, then an explicit mean), first and second order.
  for (DType dt : {DType::Float64, DType::Float32}) {
    Tensor x = mul(randn64({9, 4}, 50, false), 5.0).to(dt).requires_grad_();
    Tensor t = rand64({9, 4}, 51, 0.0, 1.0, false).to(dt).requires_grad_();
    auto fused = grad({bce_with_logits(x, t)}, {x, t}, {}, /*create_graph=*/true);
    auto composite = grad({mean(bce_with_logits(x, t, Reduction::None))}, {x, t}, {}, /*create_graph=*/true);
    const double tol = dt == DType::Float64 ? 1e-14 : 1e-6;
    EXPECT_LT(rel_error(fused[0], composite[0]), tol) << dtype_name(dt);
    EXPECT_LT(rel_error(fused[1], composite[1]), tol) << dtype_name(dt);
    Tensor u = randn64({9, 4}, 52, false).to(dt);
    auto fused2 = grad({sum(fused[0] * u)}, {x, t});
    auto composite2 = grad({sum(composite[0] * u)}, {x, t});
    EXPECT_LT(rel_error(fused2[0], composite2[0]), 10 * tol) << dtype_name(dt);
    EXPECT_LT(rel_error(fused2[1], composite2[1]), 10 * tol) << dtype_name(dt);
    EXPECT_FALSE(grad({bce_with_logits(x, t)}, {x})[0].requires_grad());
  }
}

TEST(BceFused, CreateGraphRecordsTheFusedGradient) {
  // The first derivative is the forward pass's dlogits (as the op bce_with_logits_backward) times
  // the upstream gradient, not a recomputed sigmoid(x) - t.
  Tensor x = randn64({3, 4}, 53), t = rand64({3, 4}, 54, 0.0, 1.0, false);
  Tensor g = grad({bce_with_logits(x, t)}, {x}, {}, /*create_graph=*/true)[0];
  auto ops = recorded_ops(g);
  EXPECT_EQ(ops.count("bce_with_logits_backward"), 1u);
  EXPECT_EQ(ops.count("sigmoid"), 0u);
}

TEST(BceFused, LargeInputSplitsAcrossThreads) {
  // Large enough for the blocked parallel sum; float32 inputs, float64 reference.
  const int64_t n = 100003;
  Tensor x64 = mul(randn64({n}, 60, false), 6.0);
  Tensor t64 = rand64({n}, 61, 0.0, 1.0, false);
  Tensor x = x64.to(DType::Float32).requires_grad_();
  Tensor t = t64.to(DType::Float32);
  Tensor loss = bce_with_logits(x, t);
  // The reference sees the same float32-rounded inputs.
  Naive ref = naive(x.detach().to_double_vector(), t.to_double_vector());
  EXPECT_LT(rel(loss.item(), ref.sum / n), 1e-6);
  loss.backward();
  std::vector<double> expected(ref.grad);
  for (double& v : expected) v /= n;
  EXPECT_LT(rel_error(x.grad(), Tensor::from_vector(expected, {n})), 1e-6);
}

TEST(BceFused, Errors) {
  Tensor x = randn64({3, 4}, 70, false);
  try {
    bce_with_logits(x, randn64({4, 3}, 71, false));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bce_with_logits"), std::string::npos) << m;
    EXPECT_NE(m.find("[3, 4]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 3]"), std::string::npos) << m;
  }
  EXPECT_THROW(bce_with_logits(x, 1.5), Error);
  EXPECT_THROW(bce_with_logits(x, -0.1), Error);
  EXPECT_THROW(bce_with_logits(x, Tensor::ones({3, 4})), Error);  // float32 targets, float64 logits
  EXPECT_THROW(bce_with_logits(Tensor::empty({0}, DType::Float64), 1.0), Error);
}

// ---- softmax cross-entropy: the fused pass and its differentiable backward ----

namespace {

Tensor xent_ids(int64_t n, int64_t k, uint64_t seed) {
  std::mt19937_64 r(seed);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = static_cast<double>(r() % static_cast<uint64_t>(k));
  return Tensor::from_vector(v, {n});
}

// The same loss from plain ops: log(sum exp x) - sum(q x), with q built by a loop. Differentiable
// through exp/log/sum only (logits kept moderate so exp does not overflow).
Tensor composite_xent(const Tensor& x, const Tensor& t, double s, Reduction red) {
  const int64_t n = x.shape()[0], k = x.shape()[1];
  auto tv = t.to_double_vector();
  std::vector<double> q(static_cast<size_t>(n * k), s / static_cast<double>(k));
  for (int64_t i = 0; i < n; ++i) q[static_cast<size_t>(i * k + static_cast<int64_t>(tv[i]))] += 1 - s;
  Tensor qt = Tensor::from_vector(q, {n, k}).to(x.dtype());
  Tensor rows = sub(log(sum(exp(x), {1})), sum(mul(qt, x), {1}));
  return red == Reduction::None ? rows : red == Reduction::Sum ? sum(rows) : mean(rows);
}

}  // namespace

TEST(SoftmaxXentFused, RecordsOneFusedNodeAndItsBackward) {
  Tensor x = randn64({4, 6}, 80), t = xent_ids(4, 6, 81);
  Tensor loss = softmax_cross_entropy(x, t, 0.1);
  ASSERT_TRUE(loss.grad_fn());
  EXPECT_EQ(loss.grad_fn()->name, "softmax_cross_entropy");
  EXPECT_EQ(loss.grad_fn()->next.size(), 1u);  // targets are no input of the node
  Tensor g = grad({loss}, {x}, {}, /*create_graph=*/true)[0];
  auto ops = recorded_ops(g);
  EXPECT_EQ(ops.count("softmax_cross_entropy_backward"), 1u);
  EXPECT_EQ(ops.count("exp"), 0u);
  // Without a graph the loss is a plain value, and no gradient buffer was needed.
  Tensor plain = softmax_cross_entropy(x.detach(), t, 0.1);
  EXPECT_FALSE(plain.requires_grad());
  EXPECT_LT(rel(plain.item(), loss.item()), 1e-15);
}

TEST(SoftmaxXentFused, GradientIsPreScaledAndUpstreamScaled) {
  Tensor x = randn64({5, 4}, 82), t = xent_ids(5, 4, 83);
  // Mean with an upstream factor 3, and None with a per-row upstream gradient.
  Tensor gm = grad({mul(softmax_cross_entropy(x, t), 3.0)}, {x})[0];
  Tensor gc = grad({mul(composite_xent(x, t, 0.0, Reduction::Mean), 3.0)}, {x})[0];
  EXPECT_LT(rel_error(gm, gc), 1e-14);
  Tensor w = randn64({5}, 84, false);
  Tensor gn = grad({softmax_cross_entropy(x, t, 0.2, Reduction::None)}, {x}, {w})[0];
  Tensor gnc = grad({composite_xent(x, t, 0.2, Reduction::None)}, {x}, {w})[0];
  EXPECT_LT(rel_error(gn, gnc), 1e-14);
}

TEST(SoftmaxXentFused, FusedBackwardEqualsCompositeFirstAndSecondOrder) {
  for (DType dt : {DType::Float64, DType::Float32})
    for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None})
      for (double s : {0.0, 0.25}) {
        Tensor x = mul(randn64({7, 5}, 85, false), 2.0).to(dt).requires_grad_();
        Tensor t = xent_ids(7, 5, 86);
        Tensor up = red == Reduction::None ? randn64({7}, 87, false).to(dt) : Tensor();
        std::vector<Tensor> ups = up.defined() ? std::vector<Tensor>{up} : std::vector<Tensor>{};
        Tensor fused = grad({softmax_cross_entropy(x, t, s, red)}, {x}, ups, /*create_graph=*/true)[0];
        Tensor comp = grad({composite_xent(x, t, s, red)}, {x}, ups, /*create_graph=*/true)[0];
        const double tol = dt == DType::Float64 ? 1e-13 : 2e-6;
        EXPECT_LT(rel_error(fused, comp), tol) << dtype_name(dt) << " s " << s;
        Tensor u = randn64({7, 5}, 88, false).to(dt);
        Tensor f2 = grad({sum(mul(fused, u))}, {x})[0];
        Tensor c2 = grad({sum(mul(comp, u))}, {x})[0];
        EXPECT_LT(rel_error(f2, c2), 10 * tol) << dtype_name(dt) << " s " << s;
        // Third order, through softmax's own recorded backward.
        Tensor f2g = grad({sum(mul(fused, u))}, {x}, {}, true)[0];
        Tensor c2g = grad({sum(mul(comp, u))}, {x}, {}, true)[0];
        Tensor f3 = grad({sum(square(f2g))}, {x})[0], c3 = grad({sum(square(c2g))}, {x})[0];
        EXPECT_LT(rel_error(f3, c3), 100 * tol) << dtype_name(dt) << " s " << s;
      }
}

TEST(SoftmaxXentFused, Gradcheck) {
  Tensor x = mul(randn64({4, 5}, 90, false), 2.0).requires_grad_();
  Tensor t = xent_ids(4, 5, 91);
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
    for (double s : {0.0, 0.3})
      EXPECT_GRADCHECK(([r, s, t](const std::vector<Tensor>& in) { return softmax_cross_entropy(in[0], t, s, r); }),
                       inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0]); }, inputs({x}));
}

TEST(SoftmaxXentFused, SecondDerivative) {
  Tensor x = mul(randn64({3, 4}, 92, false), 2.0).requires_grad_();
  Tensor t = xent_ids(3, 4, 93);
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
    for (double s : {0.0, 0.2})
      EXPECT_GRADGRADCHECK(
          ([r, s, t](const std::vector<Tensor>& in) { return softmax_cross_entropy(in[0], t, s, r); }), inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0]); }, inputs({x}));
  // An ACGAN-style classifier head on a critic's features: the loss's gradient in the inputs,
  // differentiated again in the weights and the inputs.
  Tensor w = randn64({4, 6}, 94), h = randn64({3, 6}, 95);
  EXPECT_GRADGRADCHECK(
      ([t](const std::vector<Tensor>& in) { return softmax_cross_entropy(linear(tanh(in[1]), in[0]), t, 0.1); }),
      inputs({w, h}));
}

TEST(SoftmaxXentFused, LargeInputSplitsAcrossThreads) {
  // Many row blocks (8192 logits each); float32 inputs against a float64 composite of the same values.
  const int64_t n = 3001, k = 37;
  Tensor x = mul(randn64({n, k}, 96, false), 3.0).to(DType::Float32).requires_grad_();
  Tensor t = xent_ids(n, k, 97);
  Tensor loss = softmax_cross_entropy(x, t, 0.1);
  Tensor x64 = x.detach().to(DType::Float64).requires_grad_();
  Tensor ref = composite_xent(x64, t, 0.1, Reduction::Mean);
  EXPECT_LT(rel(loss.item(), ref.item()), 1e-6);
  loss.backward();
  EXPECT_LT(rel_error(x.grad(), grad({ref}, {x64})[0]), 1e-5);
  // Thread count does not change the sum: the same loss on one thread, bit for bit.
  Tensor sum_loss = softmax_cross_entropy(x.detach(), t, 0.1, Reduction::Sum);
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Tensor one = softmax_cross_entropy(x.detach(), t, 0.1, Reduction::Sum);
  omp_set_num_threads(threads);
  EXPECT_EQ(one.item(), sum_loss.item());
#endif
}
