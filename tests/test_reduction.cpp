// Reductions: sum/mean over all or some dims, per-sample norms. Forward against naive loops,
// gradients and second derivatives against finite differences.
#include <algorithm>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

// Naive sum of x (shape xs) over `dims`; the result has x's rank with 1 on the reduced dims.
std::vector<double> ref_sum(const std::vector<double>& x, const Shape& xs, const std::vector<int64_t>& dims) {
  Shape os = xs;
  for (int64_t d : dims) os[d < 0 ? d + xs.size() : d] = 1;
  std::vector<double> out(static_cast<size_t>(numel_of(os)), 0.0);
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
    auto idx = unravel(i, xs);
    for (size_t d = 0; d < xs.size(); ++d)
      if (os[d] == 1) idx[d] = 0;
    out[ravel(idx, os)] += x[i];
  }
  return out;
}

Shape squeeze_dims(const Shape& xs, const std::vector<int64_t>& dims) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(xs.size()); ++d) {
    bool red = false;
    for (int64_t r : dims) red = red || (r < 0 ? r + static_cast<int64_t>(xs.size()) : r) == d;
    if (!red) out.push_back(xs[d]);
  }
  return out;
}

// Every non-empty subset of {0..rank-1}, some written with negative indices.
std::vector<std::vector<int64_t>> dim_subsets(int rank) {
  std::vector<std::vector<int64_t>> all;
  for (int mask = 1; mask < (1 << rank); ++mask) {
    std::vector<int64_t> dims;
    for (int d = 0; d < rank; ++d)
      if (mask & (1 << d)) dims.push_back(mask % 3 == 0 ? d - rank : d);
    all.push_back(dims);
  }
  return all;
}

}  // namespace

TEST(Reduction, SumAllMatchesReference) {
  std::mt19937_64 r(5);
  for (DType dt : both_dtypes())
    for (int rank = 0; rank <= 4; ++rank) {
      Tensor x = uniform(random_shape(r, rank), dt, 10 + rank);
      Tensor s = sum(x);
      EXPECT_EQ(s.shape(), Shape{});
      double ref = 0;
      for (double v : x.to_double_vector()) ref += v;
      expect_matches(s, {ref}, "sum rank " + std::to_string(rank));
      expect_matches(mean(x), {ref / static_cast<double>(x.numel())}, "mean rank " + std::to_string(rank));
    }
}

TEST(Reduction, SumAndMeanOverEveryDimSubset) {
  std::mt19937_64 r(6);
  uint64_t seed = 20;
  for (DType dt : both_dtypes())
    for (int rank = 1; rank <= 4; ++rank) {
      Shape xs = random_shape(r, rank, 1, 6);
      Tensor x = uniform(xs, dt, seed++);
      auto xv = x.to_double_vector();
      for (const auto& dims : dim_subsets(rank)) {
        auto ref = ref_sum(xv, xs, dims);
        std::string what = shape_str(xs) + " dims " + shape_str(dims) + " " + dtype_name(dt);
        Tensor k = sum(x, dims, /*keepdim=*/true);
        Shape keep = xs;
        for (int64_t d : dims) keep[d < 0 ? d + rank : d] = 1;
        EXPECT_EQ(k.shape(), keep) << what;
        expect_matches(k, ref, "sum keepdim " + what);
        Tensor s = sum(x, dims);
        EXPECT_EQ(s.shape(), squeeze_dims(xs, dims)) << what;
        expect_matches(s, ref, "sum " + what);
        int64_t count = numel_of(xs) / numel_of(keep);
        Tensor m = mean(x, dims);
        EXPECT_EQ(m.shape(), squeeze_dims(xs, dims)) << what;
        expect_matches(m, ref_unary(ref, [&](double v) { return v / static_cast<double>(count); }), "mean " + what);
      }
    }
}

TEST(Reduction, LargeReductionsAccumulateAccurately) {
  // One output over > the parallel grain (split across threads), many outputs over a long row,
  // and a per-channel reduction of an NCHW tensor (the batch-norm pattern).
  for (DType dt : both_dtypes()) {
    Tensor x = uniform({70001}, dt, 31, 0.0, 1.0);
    double ref = 0;
    for (double v : x.to_double_vector()) ref += v;
    expect_matches(sum(x), {ref}, 1e-6, 0, "sum of 70001");

    Tensor img = uniform({9, 5, 31, 33}, dt, 32);
    expect_matches(sum(img, {0, 2, 3}), ref_sum(img.to_double_vector(), img.shape(), {0, 2, 3}), 1e-6, 1e-9,
                   "per-channel sum");
    Tensor rows = uniform({3, 50001}, dt, 33);
    expect_matches(sum(rows, {1}), ref_sum(rows.to_double_vector(), rows.shape(), {1}), 1e-6, 1e-9, "row sums");
    expect_matches(sum(rows, {0}), ref_sum(rows.to_double_vector(), rows.shape(), {0}), 1e-6, 1e-9, "column sums");
  }
}

#ifdef _OPENMP
TEST(Reduction, ResultDoesNotDependOnThreadCount) {
  // Partial sums are formed per fixed slice and added in order, whatever the thread count.
  Tensor x = uniform({90001}, DType::Float32, 34);
  Tensor img = uniform({64, 3, 17, 19}, DType::Float32, 35);
  int prev = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = sum(x).item();
  auto one_c = sum(img, {0, 2, 3}).to_double_vector();
  omp_set_num_threads(3);
  auto three = sum(x).item();
  auto three_c = sum(img, {0, 2, 3}).to_double_vector();
  omp_set_num_threads(prev);
  EXPECT_EQ(one, three);
  EXPECT_EQ(one_c, three_c);
}
#endif

TEST(Reduction, EmptyInputs) {
  // The sum over nothing is 0, as in NumPy; a mean over nothing is an error.
  Tensor e = Tensor::zeros({0, 3});
  EXPECT_EQ(sum(e).item(), 0.0);
  expect_close(sum(e, {0}), {0.0, 0.0, 0.0}, 0);
  EXPECT_EQ(sum(e, {1}).shape(), (Shape{0}));
  expect_error_naming([&] { mean(e); }, {"mean", "[0, 3]"});
  expect_error_naming([&] { mean(e, {0}); }, {"mean", "[0, 3]"});
}

TEST(Reduction, BadDimsThrowNamingOp) {
  Tensor x = Tensor::zeros({2, 3});
  expect_error_naming([&] { sum(x, {2}); }, {"sum", "2", "rank 2"});
  expect_error_naming([&] { sum(x, {-3}); }, {"sum", "-3"});
  expect_error_naming([&] { sum(x, {1, -1}); }, {"sum", "twice"});
  expect_error_naming([&] { mean(x, {5}); }, {"mean", "5"});
}

TEST(Reduction, PerSampleNormMatchesReference) {
  std::mt19937_64 r(7);
  uint64_t seed = 40;
  for (DType dt : both_dtypes())
    for (int rank = 1; rank <= 4; ++rank)
      for (double eps : {0.0, 1e-3}) {
        Shape xs = random_shape(r, rank);
        Tensor x = uniform(xs, dt, seed++);
        auto xv = x.to_double_vector();
        int64_t n = xs[0], m = numel_of(xs) / n;
        std::vector<double> ref(n);
        for (int64_t s = 0; s < n; ++s) {
          double acc = 0;
          for (int64_t i = 0; i < m; ++i) acc += xv[s * m + i] * xv[s * m + i];
          ref[s] = std::sqrt(acc + eps);
        }
        Tensor y = per_sample_norm(x, eps);
        EXPECT_EQ(y.shape(), Shape{n});
        expect_matches(y, ref, "per_sample_norm " + shape_str(xs));
      }
}

TEST(Reduction, PerSampleNormErrors) {
  expect_error_naming([] { per_sample_norm(Tensor::scalar(2.0)); }, {"per_sample_norm"});
  expect_error_naming([] { per_sample_norm(Tensor::zeros({2, 3}), -1.0); }, {"per_sample_norm", "eps"});
}

// ---- gradients ----

TEST(ReductionGrad, SumMeanOverDims) {
  Tensor x = randn64({3, 4, 5}, 50);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return sum(in[0]); }, inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return mean(in[0]); }, inputs({x}));
  for (const auto& dims : dim_subsets(3)) {
    auto gs = gradcheck([&](const std::vector<Tensor>& in) { return sum(in[0], dims); }, {x});
    EXPECT_TRUE(gs.ok) << "sum " << shape_str(dims) << gs.report;
    auto gm = gradcheck([&](const std::vector<Tensor>& in) { return mean(in[0], dims, true); }, {x});
    EXPECT_TRUE(gm.ok) << "mean " << shape_str(dims) << gm.report;
  }
}

TEST(ReductionGrad, PerSampleNorm) {
  Tensor x = randn64({4, 3, 2}, 51);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return per_sample_norm(in[0]); }, inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return per_sample_norm(in[0], 1e-2); }, inputs({x}));
  // With eps > 0 the gradient stays finite at an all-zero sample (the WGAN-GP use).
  Tensor z = Tensor::zeros({2, 3}, DType::Float64).requires_grad_();
  sum(per_sample_norm(z, 1e-12)).backward();
  for (double g : z.grad().to_double_vector()) EXPECT_EQ(g, 0.0);
}

TEST(ReductionGradGrad, SumMeanNorm) {
  Tensor x = randn64({3, 4, 2}, 60);
  // Squared so that the second derivative is not identically zero.
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(sum(in[0], {1})); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(mean(in[0], {0, 2}, true)); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return sum(in[0] * in[0], {-1}); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return per_sample_norm(in[0]); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return per_sample_norm(in[0], 0.5); }, inputs({x}));
  // The WGAN-GP penalty shape: (||x|| - 1)^2 per sample.
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(per_sample_norm(in[0]) - 1.0); },
                       inputs({x}));
}
