// The Philox generator: known-answer vectors, reproducibility, the counter-based property, and
// the distributions (moments and Kolmogorov-Smirnov distance against the exact CDFs).
#include <algorithm>
#include <tuple>

#include "kernels/philox.h"
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

// Kolmogorov-Smirnov statistic of a sample against a CDF.
double ks_distance(std::vector<double> v, const std::function<double(double)>& cdf) {
  std::sort(v.begin(), v.end());
  double n = static_cast<double>(v.size()), d = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    double f = cdf(v[i]);
    d = std::max({d, std::abs(f - i / n), std::abs((i + 1) / n - f)});
  }
  return d;
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Critical KS distance at the 0.1% level (a fixed seed makes the outcome deterministic; the bound
// only says how far off a correct generator could plausibly be).
double ks_limit(size_t n) { return 1.95 / std::sqrt(static_cast<double>(n)); }

}  // namespace

TEST(Rng, PhiloxKnownAnswers) {
  // Published known-answer vectors for Philox4x32 with 10 rounds (counter, key -> output).
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
       {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
       {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const auto& k : kats) {
    rng::U32x4 c = {{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}};
    rng::U32x4 r = rng::philox4x32(c, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.out[i]) << "word " << i;
  }
  // philox_block lays (block, draw) into the counter words and the seed into the key.
  uint64_t seed = 0x299f31d0a4093822ull, draw = 0x0370734413198a2eull, block = 0x85a308d3243f6a88ull;
  rng::U32x4 r = rng::philox_block(seed, draw, block);
  EXPECT_EQ(r.v[0], 0xd16cfe09u);
  EXPECT_EQ(r.v[3], 0x24126ea1u);
}

TEST(Rng, SameSeedSameNumbers) {
  for (DType dt : both_dtypes()) {
    Generator a(42), b(42);
    Tensor x = Tensor::randn({3, 77}, &a, dt), y = Tensor::randn({3, 77}, &b, dt);
    EXPECT_EQ(x.to_double_vector(), y.to_double_vector());
    Tensor u = Tensor::rand({50}, &a, -1, 1, dt), v = Tensor::rand({50}, &b, -1, 1, dt);
    EXPECT_EQ(u.to_double_vector(), v.to_double_vector());
  }
}

TEST(Rng, DifferentDrawsAndSeedsDiffer) {
  Generator g(7), h(8);
  auto x1 = Tensor::randn({1000}, &g).to_double_vector();
  auto x2 = Tensor::randn({1000}, &g).to_double_vector();
  auto y1 = Tensor::randn({1000}, &h).to_double_vector();
  int same12 = 0, same1y = 0;
  for (size_t i = 0; i < x1.size(); ++i) {
    same12 += x1[i] == x2[i];
    same1y += x1[i] == y1[i];
  }
  EXPECT_EQ(same12, 0);
  EXPECT_EQ(same1y, 0);
  EXPECT_EQ(g.draws(), 2u);
  // Neighbouring elements are uncorrelated (the cos/sin halves of one Box-Muller pair included).
  double sxy = 0, sxx = 0;
  Tensor big = Tensor::randn({100000}, &g, DType::Float64);
  auto v = big.to_double_vector();
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    sxy += v[i] * v[i + 1];
    sxx += v[i] * v[i];
  }
  EXPECT_LT(std::abs(sxy / sxx), 0.015);
}

TEST(Rng, NormalMomentsAndDistribution) {
  Generator g(2024);
  for (DType dt : both_dtypes()) {
    auto v = Tensor::randn({100000}, &g, dt).to_double_vector();
    double n = static_cast<double>(v.size()), m = 0, m2 = 0, m3 = 0, m4 = 0;
    for (double x : v) m += x;
    m /= n;
    for (double x : v) {
      double d = x - m;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
    }
    m2 /= n;
    m3 /= n;
    m4 /= n;
    // Standard errors at n = 1e5: mean 0.0032, std 0.0022, skewness 0.0077, kurtosis 0.015.
    EXPECT_LT(std::abs(m), 0.015) << dtype_name(dt);
    EXPECT_LT(std::abs(std::sqrt(m2) - 1.0), 0.01) << dtype_name(dt);
    EXPECT_LT(std::abs(m3 / std::pow(m2, 1.5)), 0.04) << dtype_name(dt);
    EXPECT_LT(std::abs(m4 / (m2 * m2) - 3.0), 0.08) << dtype_name(dt);
    EXPECT_LT(ks_distance(v, normal_cdf), ks_limit(v.size())) << dtype_name(dt);
  }
}

TEST(Rng, UniformRangeAndDistribution) {
  Generator g(99);
  for (DType dt : both_dtypes())
    for (auto [lo, hi] : {std::pair<double, double>{0.0, 1.0}, {-3.0, 5.0}, {0.1, 0.7}, {-1e-3, 1e-3}}) {
      Tensor t = Tensor::rand({100000}, &g, lo, hi, dt);
      auto v = t.to_double_vector();
      double mn = *std::min_element(v.begin(), v.end()), mx = *std::max_element(v.begin(), v.end());
      EXPECT_GE(mn, lo) << dtype_name(dt);
      EXPECT_LT(mx, hi) << dtype_name(dt);
      // The sample fills the range: both ends within a few expected gaps.
      EXPECT_LT(mn - lo, (hi - lo) * 1e-3);
      EXPECT_LT(hi - mx, (hi - lo) * 1e-3);
      double m = 0;
      for (double x : v) m += x;
      m /= static_cast<double>(v.size());
      EXPECT_NEAR(m, (lo + hi) / 2, (hi - lo) * 0.005);
      EXPECT_LT(ks_distance(v, [&](double x) { return (x - lo) / (hi - lo); }), ks_limit(v.size()));
    }
}

TEST(Rng, UniformExcludesUpperBoundAfterRounding) {
  // lo + (hi - lo) u is below hi in exact arithmetic, but rounding to the output type can land
  // on hi or above it. Near 1000 float32 values are 6.1e-5 apart, so about 1.5e-4 of the draws in
  // [1000, 1000.2) round to float(1000.2), which is above 1000.2; likewise doubles near 1e16 are 2
  // apart, so a quarter of [1e16, 1e16 + 4) would round to hi.
  ASSERT_GT(static_cast<double>(static_cast<float>(1000.2)), 1000.2);
  Generator g(5);
  for (auto [lo, hi, dt] : {std::tuple<double, double, DType>{1000.0, 1000.2, DType::Float32},
                            {1e16, 1e16 + 4, DType::Float64}}) {
    auto v = Tensor::rand({100000}, &g, lo, hi, dt).to_double_vector();
    for (double x : v) {
      ASSERT_GE(x, lo) << dtype_name(dt);
      ASSERT_LT(x, hi) << dtype_name(dt);
    }
  }
}

TEST(Rng, EmptyOrInvertedUniformRangeIsAnError) {
  Generator g(6);
  expect_error_naming([&] { Tensor::rand({3}, &g, 1.0, 1.0); }, {"rand", "[1, 1)"});
  expect_error_naming([&] { Tensor::rand({3}, &g, 2.0, -1.0); }, {"rand", "[2, -1)"});
  // A failed call reserves no draw: the next call gets the numbers it would have got anyway.
  expect_error_naming([&] { Tensor::randn({-3}, &g); }, {"negative"});
  EXPECT_EQ(g.draws(), 0u);
}

TEST(Rng, ElementDependsOnlyOnSeedDrawAndIndex) {
  // Counter-based: element i of a draw is the same whatever the tensor's size or shape, and
  // whichever thread computed it.
  for (DType dt : both_dtypes()) {
    Generator a(31), b(31), c(31);
    auto small = Tensor::randn({5}, &a, dt).to_double_vector();
    auto large = Tensor::randn({257, 401}, &b, dt).to_double_vector();  // split across threads
    auto odd = Tensor::randn({3, 3}, &c, dt).to_double_vector();
    for (size_t i = 0; i < small.size(); ++i) EXPECT_EQ(small[i], large[i]);
    for (size_t i = 0; i < odd.size(); ++i) EXPECT_EQ(odd[i], large[i]);
    // And it is the documented function of (seed, draw, i).
    for (size_t i : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{50000}, size_t{103056}})
      EXPECT_EQ(large[i], dt == DType::Float64 ? rng::normal_at(31, 0, i)
                                               : static_cast<double>(static_cast<float>(rng::normal_at(31, 0, i))));
  }
  Generator a(31), b(31);
  auto u_small = Tensor::rand({3}, &a, 0, 1, DType::Float64).to_double_vector();
  auto u_large = Tensor::rand({50001}, &b, 0, 1, DType::Float64).to_double_vector();
  for (size_t i = 0; i < u_small.size(); ++i) EXPECT_EQ(u_small[i], u_large[i]);
}

TEST(Rng, Float32AndFloat64ShareOneStream) {
  Generator a(12), b(12);
  auto f = Tensor::randn({999}, &a, DType::Float32).to_double_vector();
  auto d = Tensor::randn({999}, &b, DType::Float64).to_double_vector();
  for (size_t i = 0; i < f.size(); ++i) EXPECT_EQ(f[i], static_cast<double>(static_cast<float>(d[i])));
}

TEST(Rng, StateSaveRestoreResumesExactly) {
  Generator g(77);
  Tensor::randn({10}, &g);
  uint64_t seed = g.seed(), draws = g.draws();
  auto next = Tensor::randn({20}, &g).to_double_vector();
  Generator h;
  h.set_state(seed, draws);
  EXPECT_EQ(Tensor::randn({20}, &h).to_double_vector(), next);
  g.manual_seed(77);
  EXPECT_EQ(g.draws(), 0u);
  Generator fresh(77);
  EXPECT_EQ(Tensor::randn({8}, &g).to_double_vector(), Tensor::randn({8}, &fresh).to_double_vector());
}

TEST(Rng, DefaultGeneratorFollowsManualSeed) {
  manual_seed(123);
  auto x = Tensor::randn({16}).to_double_vector();
  auto x2 = Tensor::rand({16}).to_double_vector();
  manual_seed(123);
  EXPECT_EQ(Tensor::randn({16}).to_double_vector(), x);
  EXPECT_EQ(Tensor::rand({16}).to_double_vector(), x2);
  Generator g(123);
  EXPECT_EQ(Tensor::randn({16}, &g).to_double_vector(), x);
}

TEST(Rng, ManualSeedReachesGeneratorsCreatedLater) {
  // A device's default generator is created on its first use, often after manual_seed (the
  // first CUDA op). Looking one up needs no GPU.
  manual_seed(4242);
  Generator& later = default_generator(Device::cuda(7));
  EXPECT_EQ(later.seed(), 4242u);
  EXPECT_EQ(later.draws(), 0u);
  EXPECT_EQ(&later, &default_generator(Device::cuda(7)));  // one generator per device
  EXPECT_EQ(default_generator(Device::cpu()).seed(), 4242u);
  manual_seed(5);
  EXPECT_EQ(later.seed(), 5u);
}

TEST(Rng, HostScalars) {
  Generator g(3);
  std::vector<int> counts(7, 0);
  double lo = 1, hi = 0;
  for (int i = 0; i < 7000; ++i) {
    double u = g.uniform();
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    uint64_t k = g.below(7);
    ASSERT_LT(k, 7u);
    counts[k]++;
  }
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
  // Chi-square with 6 degrees of freedom: 22.5 is the 0.1% critical value.
  double chi2 = 0;
  for (int c : counts) chi2 += (c - 1000.0) * (c - 1000.0) / 1000.0;
  EXPECT_LT(chi2, 22.5);
  EXPECT_EQ(g.below(0), 0u);
  EXPECT_EQ(g.below(1), 0u);
}
