// max_pool2d, avg_pool2d and resize_bilinear: hand-computed cases, float64 index loops on random
// odd shapes (forward and the adjoint/backward maps), gradients and second derivatives against
// finite differences, and errors. The references below are written from PyTorch's definitions and
// share no code with kernels/pool_index.h.
#include <algorithm>
#include <array>
#include <functional>
#include <cmath>
#include <random>
#include <string>

#include "engine/backend/pool.h"
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

struct Geo {
  int64_t n, c, h, w;
  Pool2dParams p;
  int64_t oh() const { return (h + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1; }
  int64_t ow() const { return (w + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1; }
  Shape in() const { return {n, c, h, w}; }
  Shape out() const { return {n, c, oh(), ow()}; }
};

// For each output: the flat input index of its window maximum (first maximum in row-major window
// order, padding skipped).
std::vector<int64_t> ref_argmax(const std::vector<double>& x, const Geo& g) {
  std::vector<int64_t> idx;
  for (int64_t pl = 0; pl < g.n * g.c; ++pl)
    for (int64_t oy = 0; oy < g.oh(); ++oy)
      for (int64_t ox = 0; ox < g.ow(); ++ox) {
        int64_t best = -1;
        for (int64_t dy = 0; dy < g.p.kernel_h; ++dy)
          for (int64_t dx = 0; dx < g.p.kernel_w; ++dx) {
            const int64_t y = oy * g.p.stride_h - g.p.pad_h + dy, xx = ox * g.p.stride_w - g.p.pad_w + dx;
            if (y < 0 || y >= g.h || xx < 0 || xx >= g.w) continue;
            const int64_t i = (pl * g.h + y) * g.w + xx;
            if (best < 0 || x[static_cast<size_t>(i)] > x[static_cast<size_t>(best)]) best = i;
          }
        idx.push_back(best);
      }
  return idx;
}

// avg pool as a list of (output, input, weight) terms: the map's matrix, used for both directions.
struct Term {
  int64_t out, in;
  double weight;
};
std::vector<Term> ref_avg_terms(const Geo& g) {
  std::vector<Term> terms;
  int64_t o = 0;
  for (int64_t pl = 0; pl < g.n * g.c; ++pl)
    for (int64_t oy = 0; oy < g.oh(); ++oy)
      for (int64_t ox = 0; ox < g.ow(); ++ox, ++o) {
        std::vector<int64_t> ins;
        int64_t padded = 0;
        for (int64_t dy = 0; dy < g.p.kernel_h; ++dy)
          for (int64_t dx = 0; dx < g.p.kernel_w; ++dx) {
            const int64_t y = oy * g.p.stride_h - g.p.pad_h + dy, xx = ox * g.p.stride_w - g.p.pad_w + dx;
            if (y >= -g.p.pad_h && y < g.h + g.p.pad_h && xx >= -g.p.pad_w && xx < g.w + g.p.pad_w) ++padded;
            if (y >= 0 && y < g.h && xx >= 0 && xx < g.w) ins.push_back((pl * g.h + y) * g.w + xx);
          }
        const double div = g.p.count_include_pad ? static_cast<double>(padded) : static_cast<double>(ins.size());
        for (int64_t i : ins) terms.push_back({o, i, 1.0 / div});
      }
  return terms;
}

// Bilinear resize (align_corners false) as terms: along each axis the source coordinate is
// (dst + 1/2) in/out - 1/2, clamped at 0; its floor and the next pixel (clamped) share the weight.
void axis_taps(int64_t dst, int64_t in, int64_t out, int64_t i[2], double w[2]) {
  double src = (static_cast<double>(dst) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
  src = std::max(src, 0.0);
  i[0] = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
  i[1] = std::min(i[0] + 1, in - 1);
  w[1] = src - static_cast<double>(i[0]);
  w[0] = 1.0 - w[1];
}
std::vector<Term> ref_resize_terms(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  std::vector<Term> terms;
  int64_t o = 0;
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox, ++o) {
        int64_t iy[2], ix[2];
        double wy[2], wx[2];
        axis_taps(oy, h, oh, iy, wy);
        axis_taps(ox, w, ow, ix, wx);
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b) terms.push_back({o, (pl * h + iy[a]) * w + ix[b], wy[a] * wx[b]});
      }
  return terms;
}

std::vector<double> apply(const std::vector<Term>& t, const std::vector<double>& x, int64_t n_out) {
  std::vector<double> y(static_cast<size_t>(n_out), 0.0);
  for (const Term& e : t) y[static_cast<size_t>(e.out)] += e.weight * x[static_cast<size_t>(e.in)];
  return y;
}
std::vector<double> apply_transposed(const std::vector<Term>& t, const std::vector<double>& g, int64_t n_in) {
  std::vector<double> x(static_cast<size_t>(n_in), 0.0);
  for (const Term& e : t) x[static_cast<size_t>(e.in)] += e.weight * g[static_cast<size_t>(e.out)];
  return x;
}

// A random pooling geometry with odd sizes; padding at most half the kernel.
Geo random_geo(std::mt19937_64& r, bool count_include_pad) {
  auto pick = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(r() % static_cast<uint64_t>(hi - lo + 1)); };
  Geo g;
  g.p.kernel_h = pick(1, 4);
  g.p.kernel_w = pick(1, 4);
  g.p.stride_h = pick(1, 3);
  g.p.stride_w = pick(1, 3);
  g.p.pad_h = pick(0, g.p.kernel_h / 2);
  g.p.pad_w = pick(0, g.p.kernel_w / 2);
  g.p.count_include_pad = count_include_pad;
  g.n = pick(1, 3);
  g.c = pick(1, 4);
  g.h = g.p.kernel_h + pick(0, 12);
  g.w = g.p.kernel_w + pick(0, 12);
  return g;
}

std::string geo_str(const Geo& g) {
  return shape_str(g.in()) + " k" + std::to_string(g.p.kernel_h) + "x" + std::to_string(g.p.kernel_w) + " s" +
         std::to_string(g.p.stride_h) + "x" + std::to_string(g.p.stride_w) + " p" + std::to_string(g.p.pad_h) + "x" +
         std::to_string(g.p.pad_w) + (g.p.count_include_pad ? " incl" : " excl");
}

Tensor of(const std::vector<double>& v, const Shape& s, DType dt = DType::Float64) {
  return Tensor::from_vector(v, s).to(dt);
}

}  // namespace

TEST(Pool, MaxPoolHandComputed) {
  // 4 x 4 plane:  1  5  2  0 / 3  4  8  1 / 0  9  6  7 / 2  1  3  5
  const std::vector<double> x = {1, 5, 2, 0, 3, 4, 8, 1, 0, 9, 6, 7, 2, 1, 3, 5};
  for (DType dt : both_dtypes()) {
    Tensor t = of(x, {1, 1, 4, 4}, dt);
    expect_matches(max_pool2d(t, 2, 2), {5, 8, 9, 7}, 0, 0, "2x2 stride 2");
    // 3 x 3 windows, stride 2, padding 1: windows centred on (0,0), (0,2), (2,0), (2,2).
    expect_matches(max_pool2d(t, 3, 2, 1), {5, 8, 9, 9}, 0, 0, "3x3 stride 2 pad 1");
    // The gradient lands on each window's maximum; 9 is the maximum of two windows.
    Tensor g = of({1, 2, 3, 4}, {1, 1, 2, 2}, dt);
    expect_matches(max_pool2d_backward(g, t, Pool2dParams::make(3, 2, 1)),
                   {0, 1, 0, 0, 0, 0, 2, 0, 0, 7, 0, 0, 0, 0, 0, 0}, 0, 0, "backward");
  }
}

TEST(Pool, MaxPoolTiesPickTheFirstAndNaNPropagates) {
  Tensor t = of({2, 2, 2, 2}, {1, 1, 2, 2});
  expect_matches(max_pool2d_backward(of({1}, {1, 1, 1, 1}), t, Pool2dParams::make(2, 1)), {1, 0, 0, 0}, 0, 0,
                 "tie");
  Tensor n = of({1, NAN, 3, 2}, {1, 1, 2, 2});
  EXPECT_TRUE(std::isnan(max_pool2d(n, 2, 1).item()));
}

TEST(Pool, AvgPoolHandComputed) {
  // 3 x 3 plane 1..9, 3 x 3 windows, stride 1, padding 1.
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  for (DType dt : both_dtypes()) {
    Tensor t = of(x, {1, 1, 3, 3}, dt);
    // Padding not counted: corner (1+2+4+5)/4, edge (1+2+3+4+5+6)/6, centre 45/9.
    expect_matches(avg_pool2d(t, 3, 1, 1, false), {3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}, 1e-6, 0, "excl");
    // Padding counted: every window divides by 9.
    expect_matches(avg_pool2d(t, 3, 1, 1, true), {12 / 9., 21 / 9., 16 / 9., 27 / 9., 45 / 9., 33 / 9., 24 / 9.,
                                                  39 / 9., 28 / 9.},
                   1e-6, 0, "incl");
    // The gradient of the centre output spreads 1/9 over the plane; of a corner, 1/4 over 4 pixels.
    Tensor g = of({1, 0, 0, 0, 0, 0, 0, 0, 0}, {1, 1, 3, 3}, dt);
    expect_matches(avg_pool2d_backward(g, Pool2dParams::make(3, 1, 1, false), 3, 3), {.25, .25, 0, .25, .25, 0, 0, 0, 0},
                   1e-6, 0, "backward");
  }
}

TEST(Pool, ResizeHandComputed) {
  for (DType dt : both_dtypes()) {
    // Upscale 2 -> 4: source coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25 (edge repeated).
    expect_matches(resize_bilinear(of({0, 1}, {1, 1, 1, 2}, dt), 1, 4), {0, .25, .75, 1}, 1e-6, 0, "2 -> 4");
    // Downscale 4 -> 2: source coordinates 0.5 and 2.5, the means of neighbouring pairs.
    expect_matches(resize_bilinear(of({1, 3, 10, 20}, {1, 1, 4, 1}, dt), 2, 1), {2, 15}, 1e-6, 0, "4 -> 2");
    // Same size: the identity.
    Tensor x = uniform({2, 3, 5, 7}, dt, 3);
    expect_matches(resize_bilinear(x, 5, 7), x.to_double_vector(), 0, 0, "identity");
  }
}

TEST(Pool, MatchesIndexLoopsOnRandomShapes) {
  std::mt19937_64 r(17);
  uint64_t seed = 500;
  for (DType dt : both_dtypes())
    for (int rep = 0; rep < 12; ++rep) {
      const Geo g = random_geo(r, rep % 2 == 0);
      SCOPED_TRACE(geo_str(g));
      Tensor x = uniform(g.in(), dt, seed++), gy = uniform(g.out(), dt, seed++);
      const auto xv = x.to_double_vector(), gv = gy.to_double_vector();
      // Max pool: values and the gradient routed to the argmax.
      const auto am = ref_argmax(xv, g);
      std::vector<double> my, mdx(xv.size(), 0.0);
      for (size_t o = 0; o < am.size(); ++o) {
        my.push_back(xv[static_cast<size_t>(am[o])]);
        mdx[static_cast<size_t>(am[o])] += gv[o];
      }
      expect_matches(max_pool2d(x, g.p), my, 0, 0, "max_pool2d");
      expect_matches(max_pool2d_backward(gy, x, g.p), mdx, "max_pool2d_backward");
      // Avg pool and its adjoint.
      const auto t = ref_avg_terms(g);
      expect_matches(avg_pool2d(x, g.p), apply(t, xv, numel_of(g.out())), "avg_pool2d");
      expect_matches(avg_pool2d_backward(gy, g.p, g.h, g.w), apply_transposed(t, gv, numel_of(g.in())),
                     "avg_pool2d_backward");
    }
}

TEST(Pool, ResizeMatchesIndexLoopsOnRandomShapes) {
  std::mt19937_64 r(29);
  uint64_t seed = 900;
  for (DType dt : both_dtypes())
    for (int rep = 0; rep < 10; ++rep) {
      auto pick = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(r() % static_cast<uint64_t>(hi - lo + 1)); };
      const int64_t n = pick(1, 3), c = pick(1, 3), h = pick(1, 23), w = pick(1, 23), oh = pick(1, 41),
                    ow = pick(1, 41);
      SCOPED_TRACE(std::to_string(h) + "x" + std::to_string(w) + " -> " + std::to_string(oh) + "x" +
                   std::to_string(ow));
      Tensor x = uniform({n, c, h, w}, dt, seed++), gy = uniform({n, c, oh, ow}, dt, seed++);
      const auto t = ref_resize_terms(n * c, h, w, oh, ow);
      // Float32 taps are computed in float, as PyTorch does: the source coordinate (up to ~40) is off
      // by a few float ulps of it, so each weight by ~1e-6 absolute, whatever the value it weighs.
      const double rtol = dt == DType::Float32 ? 2e-5 : 1e-12, atol = dt == DType::Float32 ? 2e-5 : 1e-12;
      expect_matches(resize_bilinear(x, oh, ow), apply(t, x.to_double_vector(), n * c * oh * ow), rtol, atol,
                     "resize_bilinear");
      expect_matches(resize_bilinear_backward(gy, h, w), apply_transposed(t, gy.to_double_vector(), n * c * h * w),
                     rtol, atol, "resize_bilinear_backward");
    }
}

TEST(Pool, GradientsMatchFiniteDifferences) {
  std::mt19937_64 r(41);
  for (int rep = 0; rep < 4; ++rep) {
    Geo g = random_geo(r, rep % 2 == 1);
    g.n = 1;
    g.c = 2;
    SCOPED_TRACE(geo_str(g));
    Tensor x = randn64(g.in(), 60 + rep);
    const Pool2dParams p = g.p;
    EXPECT_GRADCHECK([p](const std::vector<Tensor>& in) { return max_pool2d(in[0], p); }, inputs({x}));
    EXPECT_GRADCHECK([p](const std::vector<Tensor>& in) { return avg_pool2d(in[0], p); }, inputs({x}));
    // The backward ops are linear in the gradient: their own gradients.
    Tensor gy = randn64(g.out(), 80 + rep);
    Tensor xk = x.detach();
    const int64_t h = g.h, w = g.w;
    auto max_back = [p, xk](const std::vector<Tensor>& in) { return max_pool2d_backward(in[0], xk, p); };
    auto avg_back = [p, h, w](const std::vector<Tensor>& in) { return avg_pool2d_backward(in[0], p, h, w); };
    EXPECT_GRADCHECK(max_back, inputs({gy}));
    EXPECT_GRADCHECK(avg_back, inputs({gy}));
  }
  for (auto [h, w, oh, ow] : {std::array<int64_t, 4>{5, 4, 9, 11}, {9, 11, 4, 6}, {3, 7, 3, 5}}) {
    Tensor x = randn64({2, 1, h, w}, 100 + h);
    auto fwd = [oh = oh, ow = ow](const std::vector<Tensor>& in) { return resize_bilinear(in[0], oh, ow); };
    auto back = [h = h, w = w](const std::vector<Tensor>& in) { return resize_bilinear_backward(in[0], h, w); };
    EXPECT_GRADCHECK(fwd, inputs({x}));
    Tensor gy = randn64({2, 1, oh, ow}, 110 + h);
    EXPECT_GRADCHECK(back, inputs({gy}));
  }
}

// Squaring the output makes the first derivative depend on x through the backward op's input, so
// these check each backward op's own backward (the second derivative), not just linearity.
TEST(Pool, SecondDerivativesMatchFiniteDifferences) {
  const Pool2dParams mp = Pool2dParams::make(3, 2, 1), ap = Pool2dParams::make(3, 1, 1, false);
  Tensor x = randn64({1, 2, 7, 6}, 7);
  EXPECT_GRADGRADCHECK([mp](const std::vector<Tensor>& in) { return square(max_pool2d(in[0], mp)); }, inputs({x}));
  EXPECT_GRADGRADCHECK([ap](const std::vector<Tensor>& in) { return square(avg_pool2d(in[0], ap)); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(resize_bilinear(in[0], 9, 4)); },
                       inputs({x}));
}

TEST(Pool, RecordsTheBackwardOpsAsDifferentiableNodes) {
  Tensor x = randn64({1, 1, 5, 5}, 3);
  for (auto [op, f] : std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>>{
           {"max_pool2d_backward", [](const Tensor& t) { return max_pool2d(t, 3, 2); }},
           {"avg_pool2d_backward", [](const Tensor& t) { return avg_pool2d(t, 3, 2, 1, false); }},
           {"resize_bilinear_backward", [](const Tensor& t) { return resize_bilinear(t, 7, 3); }}}) {
    Tensor y = f(x);
    Tensor g = grad({sum(square(y))}, {x}, {}, /*create_graph=*/true)[0];
    EXPECT_EQ(recorded_ops(g).count(op), 1u) << op;
  }
}

TEST(Pool, ErrorsNameTheOpAndShapes) {
  Tensor x = uniform({1, 2, 5, 5}, DType::Float32, 1);
  expect_error_naming([&] { max_pool2d(x, 3, 1, 2); }, {"max_pool2d", "padding must be at most half the kernel"});
  expect_error_naming([&] { avg_pool2d(x, 7, 1); }, {"avg_pool2d", "kernel 7x7", "[1, 2, 5, 5]"});
  expect_error_naming([&] { max_pool2d(uniform({2, 5, 5}, DType::Float32, 2), 2, 2); },
                      {"max_pool2d", "NCHW", "[2, 5, 5]"});
  expect_error_naming([&] { resize_bilinear(x, 0, 3); }, {"resize_bilinear", "0x3"});
  expect_error_naming([&] { max_pool2d_backward(uniform({1, 2, 3, 3}, DType::Float32, 3), x, Pool2dParams::make(2, 2)); },
                      {"max_pool2d_backward", "[1, 2, 3, 3]", "[1, 2, 2, 2]"});
  expect_error_naming([&] { avg_pool2d(x, 2, 0); }, {"avg_pool2d", "stride 0x0"});
}
