// batch_norm, instance_norm and layer_norm: forward against naive float64 loops, running
// statistics against a hand-rolled update, first and second derivatives against finite
// differences, error messages.
#include <algorithm>
#include <functional>
#include <string>

#include "engine/autograd/node.h"
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

// Per-channel statistics of x viewed as [N, C, S], straight from the definitions.
struct NaiveStats {
  std::vector<double> mean, var;  // biased variance
};

NaiveStats naive_stats(const std::vector<double>& x, int64_t N, int64_t C, int64_t S) {
  NaiveStats st{std::vector<double>(C, 0.0), std::vector<double>(C, 0.0)};
  const double M = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) st.mean[c] += x[(n * C + c) * S + s];
    st.mean[c] /= M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        double d = x[(n * C + c) * S + s] - st.mean[c];
        st.var[c] += d * d;
      }
    st.var[c] /= M;
  }
  return st;
}

// y = (x - mean) / sqrt(var + eps) * w + b with per-channel mean/var; empty w/b mean 1/0.
std::vector<double> naive_normalise(const std::vector<double>& x, int64_t N, int64_t C, int64_t S,
                                    const std::vector<double>& mean, const std::vector<double>& var,
                                    const std::vector<double>& w, const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t s = 0; s < S; ++s) {
        int64_t i = (n * C + c) * S + s;
        y[i] = (x[i] - mean[c]) / std::sqrt(var[c] + eps) * (w.empty() ? 1.0 : w[c]) + (b.empty() ? 0.0 : b[c]);
      }
  return y;
}

int64_t spatial(const Shape& s) {
  int64_t S = 1;
  for (size_t d = 2; d < s.size(); ++d) S *= s[d];
  return S;
}

Tensor from64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s); }

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

void expect_error_containing(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a gan::Error";
  } catch (const Error& e) {
    std::string m = e.what();
    for (const auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << "message: " << m << "\nmissing: " << p;
  }
}

}  // namespace

// ---------------------------------------------------------------- batch norm forward

TEST(BatchNorm, HandComputedColumn) {
  // x = 1, 2, 3, 4 in one channel: mean 2.5, biased var 1.25, unbiased var 5/3.
  Tensor x = from64({1, 2, 3, 4}, {4, 1});
  Tensor rm = from64({0.0}, {1}), rv = from64({1.0}, {1});
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-12);
  double sd = std::sqrt(1.25 + 1e-12);
  expect_close(y, {-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd}, 1e-12);
  expect_close(rm, {0.1 * 2.5}, 1e-15);
  expect_close(rv, {0.9 + 0.1 * 5.0 / 3.0}, 1e-15);
}

TEST(BatchNorm, TrainingForwardMatchesNaive) {
  struct Case {
    Shape shape;
    bool weight, bias;
  };
  // Odd sizes, rank 2 and 4, and one big enough to split channels across threads.
  const std::vector<Case> cases = {{{5, 3, 7, 9}, true, true},    {{13, 7}, true, true},
                                   {{3, 5, 1, 11}, false, false}, {{2, 4, 3, 3}, true, false},
                                   {{6, 2, 5, 1}, false, true},   {{8, 61, 9, 11}, true, true}};
  uint64_t seed = 100;
  for (const auto& cs : cases) {
    const int64_t N = cs.shape[0], C = cs.shape[1], S = spatial(cs.shape);
    // Shifted and scaled so mean and variance are far from 0 and 1.
    Tensor x = add(mul(randn64(cs.shape, seed++, false), 2.5), 1.7);
    Tensor w = cs.weight ? rand64({C}, seed++, 0.5, 1.5, false) : Tensor();
    Tensor b = cs.bias ? randn64({C}, seed++, false) : Tensor();
    const double eps = 1e-5;
    Tensor y = batch_norm(x, w, b, Tensor(), Tensor(), true, 0.1, eps);
    ASSERT_EQ(y.shape(), cs.shape);
    auto xv = x.to_double_vector();
    NaiveStats st = naive_stats(xv, N, C, S);
    auto ref = naive_normalise(xv, N, C, S, st.mean, st.var, w.defined() ? w.to_double_vector() : std::vector<double>{},
                               b.defined() ? b.to_double_vector() : std::vector<double>{}, eps);
    EXPECT_LT(max_abs_diff(y.to_double_vector(), ref), 1e-12) << shape_str(cs.shape);
  }
}

TEST(BatchNorm, Float32MatchesFloat64ReferenceWithLargeMean) {
  // A mean 50x the standard deviation: the one-pass E[x^2] - E[x]^2 would lose the variance.
  const Shape s{7, 5, 6, 3};
  Tensor x64 = add(randn64(s, 7, false), 50.0);
  Tensor w64 = randn64({5}, 8, false), b64 = randn64({5}, 9, false);
  Tensor y32 =
      batch_norm(x64.to(DType::Float32), w64.to(DType::Float32), b64.to(DType::Float32), Tensor(), Tensor(), true);
  auto xv = x64.to_double_vector();
  NaiveStats st = naive_stats(xv, 7, 5, 18);
  auto ref = naive_normalise(xv, 7, 5, 18, st.mean, st.var, w64.to_double_vector(), b64.to_double_vector(), 1e-5);
  EXPECT_LT(rel_error(y32, from64(ref, s)), 2e-5);
}

TEST(BatchNorm, RunningStatsFollowPyTorchUpdateOverSteps) {
  const Shape s{6, 4, 3, 5};
  const int64_t N = 6, C = 4, S = 15;
  const double m = 0.3;
  Tensor rm = randn64({C}, 20, false), rv = rand64({C}, 21, 0.5, 2.0, false);
  std::vector<double> ref_m = rm.to_double_vector(), ref_v = rv.to_double_vector();
  for (int step = 0; step < 4; ++step) {
    Tensor x = add(mul(randn64(s, 30 + step, false), 1.0 + step), 0.5 * step - 1.0);
    batch_norm(x, Tensor(), Tensor(), rm, rv, true, m, 1e-5);
    NaiveStats st = naive_stats(x.to_double_vector(), N, C, S);
    for (int64_t c = 0; c < C; ++c) {
      ref_m[c] = (1 - m) * ref_m[c] + m * st.mean[c];
      ref_v[c] = (1 - m) * ref_v[c] + m * st.var[c] * (N * S) / (N * S - 1.0);
    }
  }
  EXPECT_LT(max_abs_diff(rm.to_double_vector(), ref_m), 1e-12);
  EXPECT_LT(max_abs_diff(rv.to_double_vector(), ref_v), 1e-12);
}

TEST(BatchNorm, RunningStatsFloat32) {
  const Shape s{9, 3, 4, 4};
  Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  Tensor x64 = add(mul(randn64(s, 40, false), 3.0), 2.0);
  batch_norm(x64.to(DType::Float32), Tensor(), Tensor(), rm, rv, true);
  NaiveStats st = naive_stats(x64.to_double_vector(), 9, 3, 16);
  for (int64_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(rm.to_double_vector()[c], 0.1 * st.mean[c], 1e-6);
    EXPECT_NEAR(rv.to_double_vector()[c], 0.9 + 0.1 * st.var[c] * 144 / 143.0, 1e-5);
  }
}

TEST(BatchNorm, EvalUsesRunningStatsAndLeavesThemAlone) {
  for (const Shape& s : {Shape{5, 3, 4, 7}, Shape{11, 6}, Shape{1, 4, 1, 1}}) {
    const int64_t N = s[0], C = s[1], S = spatial(s);
    Tensor x = randn64(s, 50, false);
    Tensor w = randn64({C}, 51, false), b = randn64({C}, 52, false);
    Tensor rm = randn64({C}, 53, false), rv = rand64({C}, 54, 0.2, 3.0, false);
    auto rm0 = rm.to_double_vector(), rv0 = rv.to_double_vector();
    Tensor y = batch_norm(x, w, b, rm, rv, false, 0.1, 1e-3);
    auto ref =
        naive_normalise(x.to_double_vector(), N, C, S, rm0, rv0, w.to_double_vector(), b.to_double_vector(), 1e-3);
    EXPECT_LT(max_abs_diff(y.to_double_vector(), ref), 1e-12) << shape_str(s);
    EXPECT_EQ(rm.to_double_vector(), rm0);
    EXPECT_EQ(rv.to_double_vector(), rv0);
    // Without affine parameters.
    Tensor y2 = batch_norm(x, Tensor(), Tensor(), rm, rv, false, 0.1, 1e-3);
    auto ref2 = naive_normalise(x.to_double_vector(), N, C, S, rm0, rv0, {}, {}, 1e-3);
    EXPECT_LT(max_abs_diff(y2.to_double_vector(), ref2), 1e-12) << shape_str(s);
  }
}

TEST(BatchNorm, TrainingWithoutRunningStatsStillNormalises) {
  Tensor x = randn64({4, 3, 2, 5}, 60, false);
  Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  // Each channel of the output has mean 0 and biased variance var / (var + eps) ~ 1.
  NaiveStats in = naive_stats(x.to_double_vector(), 4, 3, 10);
  NaiveStats out = naive_stats(y.to_double_vector(), 4, 3, 10);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(out.mean[c], 0.0, 1e-12);
    EXPECT_NEAR(out.var[c], in.var[c] / (in.var[c] + 1e-5), 1e-12);
  }
}

TEST(BatchNorm, RecordsOneNode) {
  Tensor x = randn64({3, 2, 2, 2}, 61), w = randn64({2}, 62);
  Tensor y = batch_norm(x, w, Tensor(), Tensor(), Tensor(), true);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_EQ(y.grad_fn()->name, "batch_norm");
}

// ---------------------------------------------------------------- batch norm gradients

TEST(BatchNorm, TrainingGradcheck) {
  Tensor x = randn64({4, 3, 3, 2}, 70), w = rand64({3}, 71, 0.5, 1.5), b = randn64({3}, 72);
  auto f = [](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true); };
  EXPECT_GRADCHECK(f, (std::vector<Tensor>{x, w, b}));
  Tensor x2 = randn64({7, 5}, 73), w2 = randn64({5}, 74), b2 = randn64({5}, 75);
  EXPECT_GRADCHECK(f, (std::vector<Tensor>{x2, w2, b2}));
  // Affine off, and running stats being updated on every probe (they must not affect training).
  Tensor rm = Tensor::zeros({3}, DType::Float64), rv = Tensor::ones({3}, DType::Float64);
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), rm, rv, true); },
                   (std::vector<Tensor>{x}));
  // Gradient for weight/bias only (x constant): the kernel must not need dx.
  Tensor xc = randn64({5, 3, 2, 3}, 76, false);
  EXPECT_GRADCHECK(f, (std::vector<Tensor>{xc, w, b}));
}

TEST(BatchNorm, EvalGradcheck) {
  Tensor x = randn64({3, 4, 2, 3}, 80), w = randn64({4}, 81), b = randn64({4}, 82);
  Tensor rm = randn64({4}, 83, false), rv = rand64({4}, 84, 0.5, 2.0, false);
  auto f = [&](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], rm, rv, false); };
  EXPECT_GRADCHECK(f, (std::vector<Tensor>{x, w, b}));
  EXPECT_GRADGRADCHECK(f, (std::vector<Tensor>{x, w, b}));
}

TEST(BatchNorm, EvalGradientUsesStatsOfItsForward) {
  // A training step between forward and backward rewrites the running stats in place; the eval
  // gradient must still be that of the function that was evaluated.
  Tensor x = randn64({3, 2}, 85), w = randn64({2}, 86);
  Tensor rm = randn64({2}, 87, false), rv = rand64({2}, 88, 0.5, 2.0, false);
  auto rm0 = rm.to_double_vector(), rv0 = rv.to_double_vector();
  Tensor y = batch_norm(x, w, Tensor(), rm, rv, false);
  batch_norm(randn64({5, 2}, 89, false), Tensor(), Tensor(), rm, rv, true, 0.9);
  sum(y).backward();
  auto gx = x.grad().to_double_vector(), wv = w.to_double_vector();
  for (int n = 0; n < 3; ++n)
    for (int c = 0; c < 2; ++c) EXPECT_NEAR(gx[n * 2 + c], wv[c] / std::sqrt(rv0[c] + 1e-5), 1e-12);
}

TEST(BatchNorm, TrainingSecondDerivative) {
  Tensor x = randn64({3, 2, 2, 3}, 90), w = rand64({2}, 91, 0.5, 1.5), b = randn64({2}, 92);
  auto f = [](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true); };
  EXPECT_GRADGRADCHECK(f, (std::vector<Tensor>{x, w, b}));
  Tensor x2 = randn64({5, 3}, 93);
  EXPECT_GRADGRADCHECK(
      [](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
      (std::vector<Tensor>{x2}));
}

TEST(BatchNorm, FusedBackwardEqualsReference) {
  // The fused three-term kernel against the same gradient written in differentiable ops, with and
  // without the forward's saved statistics, with and without weight.
  for (DType dt : {DType::Float64, DType::Float32}) {
    Tensor x = add(mul(randn64({6, 5, 3, 7}, 100, false), 2.0), 0.3).to(dt);
    Tensor w = randn64({5}, 101, false).to(dt);
    Tensor gy = randn64({6, 5, 3, 7}, 103, false).to(dt);
    const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
    for (const Tensor& weight : {w, Tensor()}) {
      auto ref = batch_norm_backward_reference(gy, x, weight);
      auto fused = batch_norm_backward(gy, x, weight);
      for (int i = 0; i < 3; ++i) EXPECT_LT(rel_error(fused[i], ref[i]), tol) << "output " << i << " " << dtype_name(dt);
    }
    // What the layer's backward passes: the statistics its forward saved.
    Tensor xr = x.detach().requires_grad_(), wr = w.detach().requires_grad_();
    auto via_layer = grad({batch_norm(xr, wr, Tensor(), Tensor(), Tensor(), true)}, {xr, wr}, {gy});
    auto ref = batch_norm_backward_reference(gy, x, w);
    EXPECT_LT(rel_error(via_layer[0], ref[0]), tol) << dtype_name(dt);
    EXPECT_LT(rel_error(via_layer[1], ref[1]), tol) << dtype_name(dt);
  }
}

TEST(BatchNorm, BackwardOpGradchecks) {
  // batch_norm_backward is differentiable in the upstream gradient, the input and the weight; its
  // derivative is the reference formula's (reference_vjp).
  Tensor g = randn64({4, 3, 2, 2}, 104), x = randn64({4, 3, 2, 2}, 105), w = rand64({3}, 106, 0.5, 1.5);
  for (int out = 0; out < 3; ++out) {
    auto f = [out](const std::vector<Tensor>& in) { return batch_norm_backward(in[0], in[1], in[2])[out]; };
    EXPECT_GRADCHECK(f, inputs({g, x, w}));
  }
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return batch_norm_backward(in[0], in[1], in[2])[0]; },
                       inputs({g, x, w}));
}

TEST(BatchNorm, BackwardOpErrorsNameTheOpAndShapes) {
  Tensor x = randn64({4, 3, 2}, 116, false);
  expect_error_containing([&] { batch_norm_backward(randn64({4, 3}, 117, false), x, Tensor()); },
                          {"batch_norm_backward", "[4, 3]", "[4, 3, 2]"});
  expect_error_containing([&] { batch_norm_backward(x, x, randn64({2}, 118, false)); }, {"weight", "[2]", "3 channels"});
}

TEST(BatchNorm, CreateGraphRecordsTheFusedBackward) {
  Tensor x = randn64({4, 3, 2}, 107), w = rand64({3}, 108, 0.5, 1.5);
  Tensor up = randn64({4, 3, 2}, 109, false);
  Tensor gx = grad({batch_norm(x, w, Tensor(), Tensor(), Tensor(), true)}, {x}, {up}, /*create_graph=*/true)[0];
  ASSERT_TRUE(gx.grad_fn());
  EXPECT_EQ(gx.grad_fn()->name, "batch_norm_backward");
  EXPECT_EQ(recorded_ops(gx).count("pow"), 0u) << "the first derivative was built from the reference formula";
}

TEST(BatchNorm, SecondDerivativeWhenTheUpstreamGradientDependsOnTheInput) {
  // In y = batch_norm(x) * x the gradient reaching batch_norm_backward is itself a function of x:
  // the rule's derivative in x must be the partial one, the chain rule adds the rest.
  Tensor x = randn64({4, 2, 3}, 114), w = rand64({2}, 115, 0.5, 1.5);
  EXPECT_GRADGRADCHECK(
      [](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], Tensor(), Tensor(), Tensor(), true) * in[0]; },
      inputs({x, w}));
}

TEST(BatchNorm, BackwardAccumulatesIntoLeaves) {
  // The fused rule through Tensor::backward, compared with a naive float64 formula.
  const int64_t N = 4, C = 3, S = 5;
  Tensor x = randn64({N, C, S}, 110), w = randn64({C}, 111), b = randn64({C}, 112);
  Tensor gy = randn64({N, C, S}, 113, false);
  sum(mul(batch_norm(x, w, b, Tensor(), Tensor(), true), gy)).backward();
  auto xv = x.to_double_vector(), gv = gy.to_double_vector(), wv = w.to_double_vector();
  NaiveStats st = naive_stats(xv, N, C, S);
  std::vector<double> dx(xv.size()), dw(C, 0.0), db(C, 0.0);
  const double M = N * S;
  for (int64_t c = 0; c < C; ++c) {
    double is = 1 / std::sqrt(st.var[c] + 1e-5);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        int64_t i = (n * C + c) * S + s;
        db[c] += gv[i];
        dw[c] += gv[i] * (xv[i] - st.mean[c]) * is;
      }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        int64_t i = (n * C + c) * S + s;
        double xh = (xv[i] - st.mean[c]) * is;
        dx[i] = wv[c] * is * (gv[i] - db[c] / M - xh * dw[c] / M);
      }
  }
  EXPECT_LT(max_abs_diff(x.grad().to_double_vector(), dx), 1e-12);
  EXPECT_LT(max_abs_diff(w.grad().to_double_vector(), dw), 1e-12);
  EXPECT_LT(max_abs_diff(b.grad().to_double_vector(), db), 1e-12);
}

// ---------------------------------------------------------------- batch norm errors

TEST(BatchNorm, Errors) {
  Tensor x = randn64({4, 3, 2, 2}, 120, false);
  expect_error_containing([&] { batch_norm(x, randn64({4}, 1, false), Tensor(), Tensor(), Tensor(), true); },
                          {"batch_norm", "weight", "[4]", "[4, 3, 2, 2]"});
  expect_error_containing([&] { batch_norm(x, Tensor(), randn64({2}, 1, false), Tensor(), Tensor(), true); },
                          {"batch_norm", "bias", "[2]"});
  expect_error_containing(
      [&] {
        batch_norm(x, Tensor(), Tensor(), Tensor::zeros({5}, DType::Float64), Tensor::ones({3}, DType::Float64), true);
      },
      {"batch_norm", "running_mean", "[5]"});
  expect_error_containing(
      [&] {
        batch_norm(x, Tensor(), Tensor(), Tensor::zeros({3}, DType::Float64), Tensor::ones({3, 1}, DType::Float64),
                   false);
      },
      {"batch_norm", "running_var", "[3, 1]"});
  expect_error_containing(
      [&] { batch_norm(x, Tensor(), Tensor(), Tensor::zeros({3}, DType::Float64), Tensor(), true); },
      {"batch_norm", "together"});
  expect_error_containing([&] { batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false); },
                          {"batch_norm", "evaluation"});
  expect_error_containing([&] { batch_norm(randn64({5}, 1, false), Tensor(), Tensor(), Tensor(), Tensor(), true); },
                          {"batch_norm", "[5]"});
  expect_error_containing([&] { batch_norm(x, Tensor::ones({3}), Tensor(), Tensor(), Tensor(), true); },
                          {"batch_norm", "float32", "float64"});
  // One value per channel cannot be normalised by its own batch statistics (PyTorch's rule too).
  for (const Shape& s : {Shape{1, 3}, Shape{1, 3, 1, 1}})
    expect_error_containing([&] { batch_norm(randn64(s, 1, false), Tensor(), Tensor(), Tensor(), Tensor(), true); },
                            {"batch_norm: expected more than 1 value per channel", shape_str(s)});
  // ... but in evaluation mode a single sample is fine.
  Tensor rm = Tensor::zeros({3}, DType::Float64), rv = Tensor::ones({3}, DType::Float64);
  EXPECT_NO_THROW(batch_norm(randn64({1, 3}, 1, false), Tensor(), Tensor(), rm, rv, false));
}

// ---------------------------------------------------------------- layer norm

namespace {

std::vector<double> naive_layer_norm(const std::vector<double>& x, int64_t rows, int64_t K,
                                     const std::vector<double>& w, const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int64_t k = 0; k < K; ++k) m += x[r * K + k];
    m /= K;
    for (int64_t k = 0; k < K; ++k) v += (x[r * K + k] - m) * (x[r * K + k] - m);
    v /= K;
    for (int64_t k = 0; k < K; ++k)
      y[r * K + k] = (x[r * K + k] - m) / std::sqrt(v + eps) * (w.empty() ? 1.0 : w[k]) + (b.empty() ? 0.0 : b[k]);
  }
  return y;
}

}  // namespace

TEST(LayerNorm, ForwardMatchesNaive) {
  struct Case {
    Shape shape;
    int64_t dims;
    bool affine;
  };
  const std::vector<Case> cases = {{{3, 5, 7}, 1, true}, {{3, 5, 7}, 2, true},    {{2, 3, 4, 5}, 3, false},
                                   {{9, 13}, 1, false},  {{4, 3, 3, 3}, 3, true}, {{17}, 1, true}};
  uint64_t seed = 200;
  for (const auto& cs : cases) {
    Shape ns(cs.shape.end() - cs.dims, cs.shape.end());
    int64_t K = numel_of(ns), rows = numel_of(cs.shape) / K;
    Tensor x = add(mul(randn64(cs.shape, seed++, false), 3.0), -2.0);
    Tensor w = cs.affine ? randn64(ns, seed++, false) : Tensor();
    Tensor b = cs.affine ? randn64(ns, seed++, false) : Tensor();
    Tensor y = layer_norm(x, cs.dims, w, b, 1e-5);
    ASSERT_EQ(y.shape(), cs.shape);
    auto ref =
        naive_layer_norm(x.to_double_vector(), rows, K, w.defined() ? w.to_double_vector() : std::vector<double>{},
                         b.defined() ? b.to_double_vector() : std::vector<double>{}, 1e-5);
    EXPECT_LT(max_abs_diff(y.to_double_vector(), ref), 1e-12) << shape_str(cs.shape) << " dims " << cs.dims;
    // float32 against the same float64 reference.
    Tensor y32 = layer_norm(x.to(DType::Float32), cs.dims, w.defined() ? w.to(DType::Float32) : Tensor(),
                            b.defined() ? b.to(DType::Float32) : Tensor(), 1e-5);
    EXPECT_LT(rel_error(y32, from64(ref, cs.shape)), 1e-5);
  }
}

TEST(LayerNorm, WeightOnlyAndBiasOnly) {
  Tensor x = randn64({4, 6}, 210, false), w = randn64({6}, 211, false), b = randn64({6}, 212, false);
  auto xv = x.to_double_vector();
  EXPECT_LT(max_abs_diff(layer_norm(x, 1, w, Tensor()).to_double_vector(),
                         naive_layer_norm(xv, 4, 6, w.to_double_vector(), {}, 1e-5)),
            1e-12);
  EXPECT_LT(max_abs_diff(layer_norm(x, 1, Tensor(), b).to_double_vector(),
                         naive_layer_norm(xv, 4, 6, {}, b.to_double_vector(), 1e-5)),
            1e-12);
}

TEST(LayerNorm, Gradcheck) {
  Tensor x = randn64({3, 4, 5}, 220), w = randn64({4, 5}, 221), b = randn64({4, 5}, 222);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], 2, in[1], in[2]); },
                   (std::vector<Tensor>{x, w, b}));
  Tensor x2 = randn64({5, 7}, 223);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], 1, Tensor(), Tensor()); },
                   (std::vector<Tensor>{x2}));
}

TEST(LayerNorm, SecondDerivative) {
  Tensor x = randn64({3, 2, 4}, 230), w = randn64({2, 4}, 231), b = randn64({2, 4}, 232);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], 2, in[1], in[2]); },
                       (std::vector<Tensor>{x, w, b}));
  Tensor x2 = randn64({4, 5}, 233);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], 1, Tensor(), Tensor()); },
                       (std::vector<Tensor>{x2}));
}

TEST(LayerNorm, Errors) {
  Tensor x = randn64({3, 4, 5}, 240, false);
  expect_error_containing([&] { layer_norm(x, 0, Tensor(), Tensor()); }, {"layer_norm", "[3, 4, 5]"});
  expect_error_containing([&] { layer_norm(x, 4, Tensor(), Tensor()); }, {"layer_norm", "[3, 4, 5]"});
  expect_error_containing(
      [&] {
        layer_norm(x, 2, randn64({5, 4}, 1, false), Tensor());
      },
      {"layer_norm", "weight", "[5, 4]", "[4, 5]"});
  expect_error_containing([&] { layer_norm(x, 1, Tensor(), randn64({4}, 1, false)); },
                          {"layer_norm", "bias", "[4]", "[5]"});
  expect_error_containing([&] { layer_norm(x, 1, Tensor::ones({5}), Tensor()); }, {"layer_norm", "float32"});
}

// ---------------------------------------------------------------- instance norm

namespace {

// Each (n, c) plane of x [N, C, S] normalised by its own mean and biased variance, then weight[c]
// and bias[c] (empty: 1 and 0). Straight from the definition, plane by plane.
std::vector<double> naive_instance_norm(const std::vector<double>& x, int64_t N, int64_t C, int64_t S,
                                        const std::vector<double>& w, const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const double* p = x.data() + (n * C + c) * S;
      double m = 0, v = 0;
      for (int64_t s = 0; s < S; ++s) m += p[s];
      m /= static_cast<double>(S);
      for (int64_t s = 0; s < S; ++s) v += (p[s] - m) * (p[s] - m);
      v /= static_cast<double>(S);
      for (int64_t s = 0; s < S; ++s)
        y[(n * C + c) * S + s] = (p[s] - m) / std::sqrt(v + eps) * (w.empty() ? 1.0 : w[c]) + (b.empty() ? 0.0 : b[c]);
    }
  return y;
}

}  // namespace

TEST(InstanceNorm, HandComputedPlanes) {
  // Two samples of one channel: 1 2 3 4 (mean 2.5, biased var 1.25) and 10 10 10 14 (mean 11,
  // var 3). Each normalised by its own statistics, unlike batch norm which would pool them.
  for (DType dt : {DType::Float64, DType::Float32}) {
    Tensor x = from64({1, 2, 3, 4, 10, 10, 10, 14}, {2, 1, 2, 2}).to(dt);
    const double a = 1 / std::sqrt(1.25 + 1e-5), c = 1 / std::sqrt(3 + 1e-5);
    const std::vector<double> want = {-1.5 * a, -0.5 * a, 0.5 * a, 1.5 * a, -c, -c, -c, 3 * c};
    const double tol = dt == DType::Float64 ? 1e-14 : 1e-6;
    expect_matches(instance_norm(x, Tensor(), Tensor()), want, tol, tol, "plain");
    // weight 2, bias 0.5 for the one channel.
    std::vector<double> aff(want.size());
    for (size_t i = 0; i < want.size(); ++i) aff[i] = 2 * want[i] + 0.5;
    expect_matches(instance_norm(x, Tensor::full({1}, 2.0, dt), Tensor::full({1}, 0.5, dt)), aff, tol, tol, "affine");
  }
}

TEST(InstanceNorm, MatchesNaiveLoops) {
  struct Case {
    Shape shape;
    bool w, b;
  };
  // Odd shapes, CycleGAN-like channel counts, weight-only and bias-only, a 1-D spatial input [N, C, L],
  // and one large enough to split planes over threads.
  const Case cases[] = {{{2, 3, 5, 7}, true, true},  {{1, 4, 3, 3}, false, false}, {{3, 2, 1, 2}, true, false},
                        {{2, 5, 4, 1}, false, true}, {{4, 7, 9}, true, true},      {{2, 64, 17, 19}, true, true}};
  uint64_t seed = 300;
  for (DType dt : {DType::Float64, DType::Float32})
    for (const Case& k : cases) {
      const int64_t N = k.shape[0], C = k.shape[1], S = spatial(k.shape);
      Tensor x = add(mul(randn64(k.shape, seed++, false), 3.0), 1.5).to(dt);
      Tensor w = k.w ? randn64({C}, seed++, false).to(dt) : Tensor();
      Tensor b = k.b ? randn64({C}, seed++, false).to(dt) : Tensor();
      const auto want = naive_instance_norm(x.to_double_vector(), N, C, S, k.w ? w.to_double_vector() : std::vector<double>{},
                                            k.b ? b.to_double_vector() : std::vector<double>{}, 1e-3);
      Tensor y = instance_norm(x, w, b, 1e-3);
      EXPECT_EQ(y.shape(), k.shape);
      EXPECT_EQ(y.dtype(), dt);
      const double tol = dt == DType::Float64 ? 1e-12 : 2e-5;
      expect_matches(y, want, tol, tol, "instance_norm " + shape_str(k.shape) + " " + dtype_name(dt));
    }
}

TEST(InstanceNorm, Float32WithLargeMeanMatchesFloat64) {
  // Planes whose mean is 50x their spread (different per plane): the statistics must not come from
  // E[x^2] - E[x]^2, which loses the variance in float32.
  const Shape s{3, 4, 6, 5};
  auto xv = randn64(s, 310, false).to_double_vector();
  for (size_t i = 0; i < xv.size(); ++i) xv[i] += 50.0 * static_cast<double>(1 + (i / 30) % 3);
  Tensor x64 = from64(xv, s), w64 = randn64({4}, 311, false), b64 = randn64({4}, 312, false);
  Tensor y32 = instance_norm(x64.to(DType::Float32), w64.to(DType::Float32), b64.to(DType::Float32));
  auto ref = naive_instance_norm(xv, 3, 4, 30, w64.to_double_vector(), b64.to_double_vector(), 1e-5);
  EXPECT_LT(rel_error(y32, from64(ref, s)), 2e-5);
}

TEST(InstanceNorm, SamplesAreIndependent) {
  // Changing sample 1 leaves sample 0's output bit for bit the same (batch norm would change it).
  Tensor x = randn64({2, 3, 4, 5}, 320, false), w = randn64({3}, 321, false);
  auto v = x.to_double_vector(), other = randn64({1, 3, 4, 5}, 322, false).to_double_vector();
  std::copy(other.begin(), other.end(), v.begin() + 60);
  Tensor x2 = from64(v, x.shape());
  auto y1 = instance_norm(x, w, Tensor()).to_double_vector(), y2 = instance_norm(x2, w, Tensor()).to_double_vector();
  EXPECT_EQ(std::vector<double>(y1.begin(), y1.begin() + 60), std::vector<double>(y2.begin(), y2.begin() + 60));
  EXPECT_GT(max_abs_diff(std::vector<double>(y1.begin() + 60, y1.end()), std::vector<double>(y2.begin() + 60, y2.end())),
            0.1);
}

TEST(InstanceNorm, RunsTheBatchNormKernelOnThePlanes) {
  // The composite: one batch_norm node on x viewed as [1, N C, S], weight and bias repeated N times.
  Tensor x = randn64({2, 3, 2, 2}, 330), w = randn64({3}, 331), b = randn64({3}, 332);
  auto ops = recorded_ops(instance_norm(x, w, b));
  EXPECT_EQ(ops.count("batch_norm"), 1u);
  EXPECT_EQ(ops.count("pow"), 0u) << "the statistics were built from element-wise ops";
}

TEST(InstanceNorm, Gradcheck) {
  Tensor x = randn64({2, 3, 3, 2}, 340), w = rand64({3}, 341, 0.5, 1.5), b = randn64({3}, 342);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return instance_norm(in[0], in[1], in[2]); },
                   inputs({x, w, b}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return instance_norm(in[0], Tensor(), Tensor()); },
                   inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return instance_norm(in[0], in[1], Tensor(), 1e-2); },
                   inputs({x, w}));
  // x constant: only the repeated weight's and bias's gradients, summed back over the samples.
  Tensor xc = randn64({3, 3, 2, 3}, 343, false);
  EXPECT_GRADCHECK([xc](const std::vector<Tensor>& in) { return instance_norm(xc, in[0], in[1]); }, inputs({w, b}));
}

TEST(InstanceNorm, SecondDerivative) {
  // batch_norm_backward's own rule differentiates the reference formula, so the composite is twice
  // differentiable (a gradient penalty through an instance-normalised critic works).
  Tensor x = randn64({2, 2, 2, 3}, 350), w = rand64({2}, 351, 0.5, 1.5), b = randn64({2}, 352);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return instance_norm(in[0], in[1], in[2]); },
                       inputs({x, w, b}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return tanh(instance_norm(in[0], Tensor(), Tensor())) * in[0]; },
                       inputs({x}));
}

TEST(InstanceNorm, Errors) {
  Tensor x = randn64({2, 3, 4, 4}, 360, false);
  expect_error_containing([&] { instance_norm(randn64({2, 3}, 1, false), Tensor(), Tensor()); },
                          {"instance_norm", "[2, 3]", "[N, C, H, W]"});
  expect_error_containing([&] { instance_norm(x, randn64({2}, 1, false), Tensor()); },
                          {"instance_norm", "weight", "[2]", "[2, 3, 4, 4]", "3 channels"});
  expect_error_containing([&] { instance_norm(x, Tensor(), randn64({3, 1}, 1, false)); },
                          {"instance_norm", "bias", "[3, 1]"});
  expect_error_containing([&] { instance_norm(x, Tensor::ones({3}), Tensor()); }, {"instance_norm", "float32", "float64"});
  expect_error_containing([&] { instance_norm(randn64({2, 3, 1, 1}, 1, false), Tensor(), Tensor()); },
                          {"instance_norm", "more than 1 spatial element", "[2, 3, 1, 1]"});
  expect_error_containing([&] { instance_norm(Tensor::zeros({0, 3, 4, 4}, DType::Float64), Tensor(), Tensor()); },
                          {"instance_norm", "empty", "[0, 3, 4, 4]"});
  expect_error_containing([&] { instance_norm(x, Tensor(), Tensor(), 0.0); }, {"instance_norm", "eps"});
}
