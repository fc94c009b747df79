// Element-wise ops: forward against naive loops in float32 and float64, broadcasting in every
// common form, gradients and second derivatives against finite differences.
#include <iterator>
#include <memory>
#include <set>

#include "engine/backend/elementwise.h"
#include "kernels/philox.h"
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double lo, hi;  // input range where the op is defined and smooth
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double v) { return -v; }, -3, 3},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double v) { return std::exp(v); }, -4, 4},
      {"log", [](const Tensor& x) { return log(x); }, [](double v) { return std::log(v); }, 0.05, 5},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }, 0.05, 5},
      {"pow2.5", [](const Tensor& x) { return pow(x, 2.5); }, [](double v) { return std::pow(v, 2.5); }, 0.1, 3},
      {"pow-1.5", [](const Tensor& x) { return pow(x, -1.5); }, [](double v) { return 1 / (v * std::sqrt(v)); }, 0.2, 3},
      {"pow3", [](const Tensor& x) { return pow(x, 3.0); }, [](double v) { return v * v * v; }, -2, 2},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double v) { return v < 0 ? -v : v; }, -3, 3},
      {"square", [](const Tensor& x) { return square(x); }, [](double v) { return v * v; }, -3, 3},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.7, 0.4); },
       [](double v) { return v < -0.7 ? -0.7 : (v > 0.4 ? 0.4 : v); }, -2, 2},
      {"add_scalar", [](const Tensor& x) { return add(x, 1.75); }, [](double v) { return v + 1.75; }, -3, 3},
      {"mul_scalar", [](const Tensor& x) { return mul(x, -0.3); }, [](double v) { return v * -0.3; }, -3, 3},
      {"sign", [](const Tensor& x) { return sign(x); }, [](double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }, -3, 3},
      {"leaky_step", [](const Tensor& x) { return leaky_step(x, 0.2); }, [](double v) { return v > 0 ? 1.0 : 0.2; }, -3, 3},
      {"inside_mask", [](const Tensor& x) { return inside_mask(x, -0.5, 1.0); },
       [](double v) { return (v > -0.5 && v < 1.0) ? 1.0 : 0.0; }, -3, 3},
  };
}

}  // namespace

TEST(Elementwise, UnaryForwardMatchesReference) {
  std::mt19937_64 r(11);
  uint64_t seed = 100;
  for (const auto& c : unary_cases())
    for (DType dt : both_dtypes())
      for (int rank = 0; rank <= 4; ++rank) {
        Tensor x = uniform(random_shape(r, rank), dt, seed++, c.lo, c.hi);
        Tensor y = c.op(x);
        EXPECT_EQ(y.shape(), x.shape()) << c.name;
        EXPECT_EQ(y.dtype(), dt) << c.name;
        expect_matches(y, ref_unary(x.to_double_vector(), c.ref), std::string(c.name) + " " + dtype_name(dt));
      }
}

TEST(Elementwise, UnaryForwardOnLargeTensorUsesEveryThreadCorrectly) {
  // Above the parallel grain, so the OpenMP split and its chunk boundaries are exercised.
  for (DType dt : both_dtypes()) {
    Tensor x = uniform({3, 40009}, dt, 7, -3, 3);
    expect_matches(exp(x), ref_unary(x.to_double_vector(), [](double v) { return std::exp(v); }));
    Tensor y = uniform({40009}, dt, 8, -3, 3);
    expect_matches(mul(x, y), ref_binary(x.to_double_vector(), x.shape(), y.to_double_vector(), y.shape(),
                                         [](double a, double b) { return a * b; }));
  }
}

TEST(Elementwise, PowHandlesIntegerExponentsOfNegativeBases) {
  Tensor x = Tensor::from_vector(std::vector<double>{-2.0, -0.5, 0.0, 1.5}, {4});
  expect_close(pow(x, 2.0), {4.0, 0.25, 0.0, 2.25}, 1e-15);
  expect_close(pow(x, 3.0), {-8.0, -0.125, 0.0, 3.375}, 1e-15);
  expect_close(pow(x, 0.0), {1.0, 1.0, 1.0, 1.0}, 0.0);
}

TEST(Elementwise, PowWithZeroExponentHasZeroGradientEverywhere) {
  // x^0 = 1, so the gradient is 0 even at x = 0 (where p x^(p-1) would be 0 * inf).
  Tensor x = Tensor::from_vector(std::vector<double>{0.0, 2.0, -1.0}, {3}).requires_grad_();
  sum(pow(x, 0.0)).backward();
  expect_close(x.grad(), {0.0, 0.0, 0.0}, 0.0);
}

namespace {

struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }, [](double a, double b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }, [](double a, double b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }, [](double a, double b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }, [](double a, double b) { return a / b; }},
  };
}

// Shape pairs covering every broadcasting form the models use.
std::vector<std::pair<Shape, Shape>> broadcast_pairs() {
  return {
      {{5, 3}, {5, 3}},               // same shape
      {{4, 3, 5}, {}},                // 0-d scalar on the right
      {{}, {2, 7}},                   // 0-d scalar on the left
      {{1}, {3, 2}},                  // one-element tensor of rank 1
      {{3, 5, 4, 3}, {1, 5, 1, 1}},   // per-channel [1, C, 1, 1] against [N, C, H, W]
      {{1, 5, 1, 1}, {3, 5, 4, 3}},   // the same, channel tensor first
      {{6, 7}, {1, 7}},               // row
      {{6, 7}, {6, 1}},               // column
      {{7}, {3, 6, 7}},               // rank extension
      {{3, 6, 7}, {6, 1}},            // rank extension plus a broadcast dim
      {{5, 1}, {1, 4}},               // both sides broadcast (outer product)
      {{2, 1, 3}, {1, 4, 1}},         // interleaved broadcast dims
  };
}

}  // namespace

TEST(Elementwise, BinaryForwardBroadcastsLikeNumPy) {
  uint64_t seed = 300;
  for (const auto& c : binary_cases())
    for (DType dt : both_dtypes())
      for (const auto& [sa, sb] : broadcast_pairs()) {
        Tensor a = uniform(sa, dt, seed++, -2, 2);
        // Divisors kept away from 0 so the float32 reference is well conditioned.
        Tensor b = std::string(c.name) == "div" ? uniform(sb, dt, seed++, 0.5, 2.5) : uniform(sb, dt, seed++, -2, 2);
        Tensor z = c.op(a, b);
        std::string what = std::string(c.name) + " " + shape_str(sa) + " " + shape_str(sb) + " " + dtype_name(dt);
        EXPECT_EQ(z.shape(), ref_broadcast_shape(sa, sb)) << what;
        expect_matches(z, ref_binary(a.to_double_vector(), sa, b.to_double_vector(), sb, c.ref), what);
      }
}

// One operand broadcast along a single block of dims (bias, per-sample weight, row, column) on
// tensors big enough to be split across threads, in both operand orders.
TEST(Elementwise, BlockBroadcastOnLargeTensorsMatchesReference) {
  const std::pair<Shape, Shape> pairs[] = {
      {{40, 33, 7, 5}, {1, 33, 1, 1}},  // per-channel, 1155 rows of 35
      {{40, 33, 7, 5}, {40, 1, 1, 1}},  // per-sample
      {{300, 129}, {129}},              // row
      {{300, 129}, {300, 1}},           // column
      {{6, 35, 9, 31}, {1, 35, 9, 1}},  // a block of two dims
  };
  uint64_t seed = 700;
  for (const auto& c : binary_cases())
    for (DType dt : both_dtypes())
      for (const auto& [sf, ss] : pairs)
        for (bool small_first : {false, true}) {
          const Shape sa = small_first ? ss : sf, sb = small_first ? sf : ss;
          Tensor a = uniform(sa, dt, seed++, -2, 2);
          Tensor b = std::string(c.name) == "div" ? uniform(sb, dt, seed++, 0.5, 2.5) : uniform(sb, dt, seed++, -2, 2);
          expect_matches(c.op(a, b), ref_binary(a.to_double_vector(), sa, b.to_double_vector(), sb, c.ref),
                         std::string(c.name) + " " + shape_str(sa) + " " + shape_str(sb) + " " + dtype_name(dt));
        }
}

TEST(Elementwise, BinaryOnRandomBroadcastableShapes) {
  std::mt19937_64 r(21);
  std::bernoulli_distribution drop(0.4);
  for (int t = 0; t < 40; ++t) {
    int rank = 1 + static_cast<int>(r() % 4);
    Shape full = random_shape(r, rank);
    Shape sa = full, sb = full;
    for (auto& e : sa) if (drop(r)) e = 1;
    for (auto& e : sb) if (drop(r)) e = 1;
    sb.erase(sb.begin(), sb.begin() + static_cast<int64_t>(r() % sb.size()));  // sometimes a lower rank
    DType dt = t % 2 ? DType::Float32 : DType::Float64;
    Tensor a = uniform(sa, dt, 500 + t), b = uniform(sb, dt, 600 + t);
    expect_matches(sub(a, b), ref_binary(a.to_double_vector(), sa, b.to_double_vector(), sb,
                                         [](double x, double y) { return x - y; }),
                   shape_str(sa) + " - " + shape_str(sb));
  }
}

TEST(Elementwise, IncompatibleShapesThrowNamingOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3, 5}), b = Tensor::zeros({3, 4});
  expect_error_naming([&] { add(a, b); }, {"add", "[2, 3, 5]", "[3, 4]"});
  expect_error_naming([&] { sub(a, b); }, {"sub", "[2, 3, 5]", "[3, 4]"});
  expect_error_naming([&] { mul(b, a); }, {"mul", "[3, 4]", "[2, 3, 5]"});
  expect_error_naming([&] { div(a, b); }, {"div", "[2, 3, 5]", "[3, 4]"});
  expect_error_naming([&] { broadcast_to(a, {2, 4, 5}); }, {"broadcast_to", "[2, 3, 5]", "[2, 4, 5]"});
  expect_error_naming([&] { sum_to(a, {2, 1, 4}); }, {"sum_to", "[2, 3, 5]", "[2, 1, 4]"});
  // A broadcast the other way round is not a reduction.
  expect_error_naming([&] { sum_to(Tensor::zeros({1, 3}), {4, 3}); }, {"sum_to", "[1, 3]", "[4, 3]"});
}

TEST(Elementwise, ClampWithInvertedBoundsThrows) {
  expect_error_naming([] { clamp(Tensor::zeros({2}), 1.0, -1.0); }, {"clamp", "1", "-1"});
}

TEST(Elementwise, MixedDtypesThrowNamingOp) {
  Tensor a = Tensor::zeros({2}, DType::Float32), b = Tensor::zeros({2}, DType::Float64);
  expect_error_naming([&] { div(a, b); }, {"div", "float32", "float64"});
}

TEST(Elementwise, ScalarOperatorsMatchReference) {
  for (DType dt : both_dtypes()) {
    Tensor x = uniform({3, 5}, dt, 41, 0.5, 2);
    auto v = x.to_double_vector();
    expect_matches(x + 2.5, ref_unary(v, [](double a) { return a + 2.5; }));
    expect_matches(2.5 + x, ref_unary(v, [](double a) { return a + 2.5; }));
    expect_matches(x - 1.25, ref_unary(v, [](double a) { return a - 1.25; }));
    expect_matches(1.25 - x, ref_unary(v, [](double a) { return 1.25 - a; }));
    expect_matches(x * 3.0, ref_unary(v, [](double a) { return a * 3; }));
    expect_matches(3.0 * x, ref_unary(v, [](double a) { return a * 3; }));
    expect_matches(x / 4.0, ref_unary(v, [](double a) { return a / 4; }));
    expect_matches(-x, ref_unary(v, [](double a) { return -a; }));
  }
}

TEST(Elementwise, CastBroadcastToAndSumTo) {
  Tensor x = uniform({3, 1, 4}, DType::Float64, 51);
  Tensor f = cast(x, DType::Float32);
  EXPECT_EQ(f.dtype(), DType::Float32);
  expect_matches(f, x.to_double_vector(), 1e-7, 0, "cast");
  EXPECT_TRUE(cast(x, DType::Float64).same_as(x));

  Tensor b = broadcast_to(x, {2, 3, 5, 4});
  auto xv = x.to_double_vector();
  std::vector<double> ref(2 * 3 * 5 * 4);
  for (int64_t i = 0; i < static_cast<int64_t>(ref.size()); ++i) ref[i] = xv[broadcast_source(unravel(i, {2, 3, 5, 4}), {3, 1, 4})];
  expect_matches(b, ref, "broadcast_to");

  // sum_to is the adjoint of broadcast_to: sum over the broadcast dims.
  for (DType dt : both_dtypes()) {
    Tensor big = uniform({2, 3, 5, 4}, dt, 52);
    auto bv = big.to_double_vector();
    std::vector<double> expect(3 * 4, 0.0);
    for (int64_t i = 0; i < big.numel(); ++i) {
      auto idx = unravel(i, {2, 3, 5, 4});
      expect[idx[1] * 4 + idx[3]] += bv[i];
    }
    Tensor s = sum_to(big, {3, 1, 4});
    EXPECT_EQ(s.shape(), (Shape{3, 1, 4}));
    expect_matches(s, expect, "sum_to");
  }
}

TEST(Elementwise, LikeConstructors) {
  Tensor x = uniform({2, 3}, DType::Float64, 61);
  Tensor z = zeros_like(x), o = ones_like(x);
  EXPECT_EQ(z.shape(), x.shape());
  EXPECT_EQ(o.dtype(), DType::Float64);
  expect_close(z, std::vector<double>(6, 0.0), 0);
  expect_close(o, std::vector<double>(6, 1.0), 0);
}

TEST(Elementwise, OpsOnEmptyTensors) {
  Tensor a = Tensor::zeros({0, 3}), b = Tensor::zeros({1, 3});
  EXPECT_EQ(add(a, b).shape(), (Shape{0, 3}));
  EXPECT_EQ(exp(a).numel(), 0);
  EXPECT_EQ(sum_to(a, {1, 3}).to_double_vector(), std::vector<double>(3, 0.0));
}

// ---- primitives used outside the ops (optimizers, initialisation) ----

TEST(ElementwisePrimitives, AddInplaceScaled) {
  for (DType dt : both_dtypes()) {
    Tensor out = uniform({5, 41}, dt, 131), x = uniform({5, 41}, dt, 132);
    auto o = out.to_double_vector(), xv = x.to_double_vector();
    cpu::add_inplace(out, x, -0.375);
    expect_matches(out, ref_binary(o, {205}, xv, {205}, [](double a, double b) { return a - 0.375 * b; }));
  }
}

TEST(ElementwisePrimitives, RandomNormalWithMeanAndStd) {
  Tensor t = Tensor::empty({1001}, DType::Float64);
  cpu::random_normal(t, 17, 3, 2.5, 0.25);
  auto v = t.to_double_vector();
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], 2.5 + 0.25 * rng::normal_at(17, 3, i));
}

// ---- gradients ----

TEST(ElementwiseGrad, UnaryGradients) {
  uint64_t seed = 700;
  for (const auto& c : unary_cases()) {
    std::string n = c.name;
    if (n == "sign" || n == "leaky_step" || n == "inside_mask") continue;  // not recorded
    Tensor x = (n == "abs")     ? uniform_away_from({3, 5}, seed++, -3, 3, {0.0}).requires_grad_()
               : (n == "clamp") ? uniform_away_from({3, 5}, seed++, -2, 2, {-0.7, 0.4}).requires_grad_()
                                : rand64({3, 5}, seed++, c.lo, c.hi);
    auto gc = gradcheck([&](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x});
    EXPECT_TRUE(gc.ok) << c.name << ":\n" << gc.report;
  }
}

TEST(ElementwiseGrad, PiecewiseConstantOpsAreNotRecorded) {
  Tensor x = randn64({4}, 71);
  EXPECT_FALSE(sign(x).requires_grad());
  EXPECT_FALSE(leaky_step(x, 0.1).requires_grad());
  EXPECT_FALSE(inside_mask(x, -1, 1).requires_grad());
}

TEST(ElementwiseGrad, BinaryGradientsUnderBroadcasting) {
  uint64_t seed = 800;
  for (const auto& c : binary_cases())
    for (const auto& [sa, sb] : broadcast_pairs()) {
      Tensor a = randn64(sa, seed++);
      Tensor b = std::string(c.name) == "div" ? rand64(sb, seed++, 0.5, 2.0) : randn64(sb, seed++);
      auto gc = gradcheck([&](const std::vector<Tensor>& in) { return c.op(in[0], in[1]); }, {a, b});
      EXPECT_TRUE(gc.ok) << c.name << " " << shape_str(sa) << " " << shape_str(sb) << ":\n" << gc.report;
      // The gradient of a broadcast input has the input's own shape.
      Tensor y = sum(c.op(a, b));
      auto g = grad({y}, {a, b});
      EXPECT_EQ(g[0].shape(), sa);
      EXPECT_EQ(g[1].shape(), sb);
    }
}

TEST(ElementwiseGrad, OneSideConstant) {
  Tensor a = randn64({3, 4}, 81), b = rand64({4}, 82, 0.5, 1.5, /*requires_grad=*/false);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return div(in[0], in[1]); }, inputs({a, b}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return div(in[1], in[0] * in[0] + 1.0); }, inputs({a, b}));
}

TEST(ElementwiseGrad, CastBroadcastToSumTo) {
  Tensor x = randn64({3, 1, 4}, 91);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return broadcast_to(in[0], {2, 3, 5, 4}); }, inputs({x}));
  Tensor y = randn64({2, 3, 5, 4}, 92);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return sum_to(in[0], {3, 1, 4}); }, inputs({y}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return sum_to(in[0], {5, 1}); }, inputs({y}));
  // A round trip through float32 and back keeps the gradient's dtype and value (identity here).
  Tensor z = randn64({5}, 93);
  Tensor w = cast(cast(z, DType::Float32), DType::Float64);
  auto g = grad({sum(w * w.detach())}, {z});
  EXPECT_EQ(g[0].dtype(), DType::Float64);
  EXPECT_LT(rel_error(g[0], w.detach()), 1e-15);
}

// ---- second derivatives ----

TEST(ElementwiseGradGrad, ExpLogPowSqrt) {
  Tensor x = rand64({3, 4}, 101, 0.2, 2.0);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return exp(in[0]); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return log(in[0]); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return pow(in[0], 2.5); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return pow(in[0], -0.5); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return pow(in[0], 3.0); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return sqrt(in[0]); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(in[0]); }, inputs({x}));
}

TEST(ElementwiseGradGrad, MulDivWithBroadcasting) {
  Tensor a = randn64({3, 4, 2}, 111);
  Tensor b = rand64({4, 1}, 112, 0.5, 2.0);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, inputs({a, b}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return div(in[0], in[1]); }, inputs({a, b}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return div(in[1], in[0] * in[0] + 1.0); }, inputs({a, b}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return mul(in[0], in[0]) - in[1] * 2.0; }, inputs({a, b}));
}

TEST(ElementwiseGradGrad, PiecewiseLinearCrossTerms) {
  // abs and clamp have zero second derivative in x, but the gradient still depends on the
  // upstream gradient (which itself depends on x through the product below).
  Tensor x = uniform_away_from({2, 5}, 121, -2, 2, {0.0, -0.7, 0.4}).requires_grad_();
  Tensor w = randn64({2, 5}, 122);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return abs(in[0]) * in[1]; }, inputs({x, w}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return clamp(in[0] * in[1], -0.7, 0.4); },
                       inputs({x, w}));
}

// ---- the op table ----

TEST(ElementwiseTable, NamesAreDistinctAndNameTheRecordedNodes) {
  std::set<std::string> names;
  for (UnaryOp op : kernels::kAllUnaryOps)
    EXPECT_TRUE(names.insert(kernels::op_name(op)).second) << kernels::op_name(op) << " appears twice";
  for (BinaryOp op : kernels::kAllBinaryOps)
    EXPECT_TRUE(names.insert(kernels::op_name(op)).second) << kernels::op_name(op) << " appears twice";
  EXPECT_EQ(names.size(), std::size(kernels::kAllUnaryOps) + std::size(kernels::kAllBinaryOps));
  // The node an op records carries the table's name (what graphs, traces and errors show).
  Tensor x = uniform({2, 3}, DType::Float64, 5, 0.5, 2.0).requires_grad_();
  EXPECT_EQ(exp(x).grad_fn()->name, kernels::op_name(UnaryOp::Exp));
  EXPECT_EQ(clamp(x, 0.7, 1.5).grad_fn()->name, kernels::op_name(UnaryOp::Clamp));
  EXPECT_EQ(mul(x, 3.0).grad_fn()->name, kernels::op_name(UnaryOp::MulScalar));
  EXPECT_EQ(div(x, x).grad_fn()->name, kernels::op_name(BinaryOp::Div));
  EXPECT_EQ(leaky_relu_backward(x, x, 0.2).grad_fn()->name, kernels::op_name(BinaryOp::LeakyReluBackward));
}

TEST(ElementwiseTable, RulesKeepWhatTheTableSaysTheyNeed) {
  // Output ops save their output (the rule reads it back, so it must be the op's own value) and
  // stay differentiable through it; Nothing ops keep no tensor alive.
  Tensor x = uniform({4}, DType::Float64, 6, 0.5, 2.0).requires_grad_();
  ASSERT_EQ(kernels::grad_needs(UnaryOp::Exp), kernels::GradNeeds::Output);
  Tensor y = exp(x);
  auto* node = static_cast<autograd::FunctionNode*>(y.grad_fn().get());
  ASSERT_EQ(node->saved_outputs.size(), 1u);
  EXPECT_EQ(node->saved_outputs[0].raw_data(), y.raw_data());
  ASSERT_EQ(kernels::grad_needs(UnaryOp::Neg), kernels::GradNeeds::Nothing);
  std::weak_ptr<TensorImpl> alive;
  Tensor n;
  {
    Tensor t = x * 2.0;  // an intermediate only neg's rule could hold on to
    alive = t.impl_ptr();
    n = neg(t);
  }
  // t's storage lives on only through the graph edge (its grad_fn), not through neg's rule.
  EXPECT_TRUE(alive.expired());
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return neg(in[0] * 2.0); }, inputs({x}));
}
