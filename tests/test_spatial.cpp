// Spatial ops: pixel shuffle / unshuffle, nearest upsampling and its block-sum gradient, reflection
// padding and its gather-sum gradient, translate2d, flip_horizontal, cutout masks and the
// per-sample colour transforms. Values against hand-computed cases and float64 index loops over
// plain vectors on random odd shapes; gradients and second derivatives against finite
// differences; the adjoint identities the backward rules rest on; bad parameters (errors from the
// ops, NaN samples from the primitives); shape errors.
#include <cmath>
#include <random>
#include <string>

#include "engine/backend/spatial.h"
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

using Vec = std::vector<double>;

int64_t pick(std::mt19937_64& r, int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(r); }

// Random integer-valued parameters in [lo, hi] as an [n, cols] (cols 0: [n]) tensor of `dt`.
Tensor int_params(std::mt19937_64& r, int64_t n, int64_t cols, int64_t lo, int64_t hi, DType dt = DType::Float32) {
  Vec v(static_cast<size_t>(n * std::max<int64_t>(cols, 1)));
  for (double& x : v) x = static_cast<double>(pick(r, lo, hi));
  return cols ? Tensor::from_vector(v, {n, cols}).to(dt) : Tensor::from_vector(v, {n}).to(dt);
}

Tensor vec(const Vec& v, const Shape& s, DType dt = DType::Float64) { return Tensor::from_vector(v, s).to(dt); }

std::string at(const Shape& s, const std::string& extra, DType dt) {
  return shape_str(s) + " " + extra + " " + dtype_name(dt);
}

// ---- float64 index-loop references (each walks the side of the map the kernels do not) ----

// Walks the input [.., C r r, H, W]: channel k = c r r + i r + j goes to (c, h r + i, w r + j).
Vec ref_pixel_shuffle(const Vec& x, const Shape& xs, int64_t r) {
  Shape os = xs;
  const size_t d = xs.size() - 3;
  os[d] /= r * r;
  os[d + 1] *= r;
  os[d + 2] *= r;
  Vec out(x.size(), NAN);
  for (int64_t t = 0; t < static_cast<int64_t>(x.size()); ++t) {
    auto idx = unravel(t, xs);
    const int64_t k = idx[d], h = idx[d + 1], w = idx[d + 2];
    const int64_t c = k / (r * r), i = (k % (r * r)) / r, j = k % r;
    auto o = idx;
    o[d] = c;
    o[d + 1] = h * r + i;
    o[d + 2] = w * r + j;
    out[static_cast<size_t>(ravel(o, os))] = x[static_cast<size_t>(t)];
  }
  return out;
}

// Walks the input [.., C, H r, W r]: (c, y, x) goes to channel c r r + (y % r) r + x % r at (y / r, x / r).
Vec ref_pixel_unshuffle(const Vec& x, const Shape& xs, int64_t r) {
  Shape os = xs;
  const size_t d = xs.size() - 3;
  os[d] *= r * r;
  os[d + 1] /= r;
  os[d + 2] /= r;
  Vec out(x.size(), NAN);
  for (int64_t t = 0; t < static_cast<int64_t>(x.size()); ++t) {
    auto idx = unravel(t, xs);
    const int64_t c = idx[d], y = idx[d + 1], w = idx[d + 2];
    auto o = idx;
    o[d] = c * r * r + (y % r) * r + w % r;
    o[d + 1] = y / r;
    o[d + 2] = w / r;
    out[static_cast<size_t>(ravel(o, os))] = x[static_cast<size_t>(t)];
  }
  return out;
}

Vec ref_upsample(const Vec& x, const Shape& xs, int64_t s) {
  const Shape os = {xs[0], xs[1], xs[2] * s, xs[3] * s};
  Vec out(static_cast<size_t>(numel_of(os)));
  for (int64_t t = 0; t < numel_of(os); ++t) {
    auto o = unravel(t, os);
    out[static_cast<size_t>(t)] = x[static_cast<size_t>(ravel({o[0], o[1], o[2] / s, o[3] / s}, xs))];
  }
  return out;
}

// Each g element added into the block it belongs to.
Vec ref_block_sum(const Vec& g, const Shape& gs, int64_t s) {
  const Shape os = {gs[0], gs[1], gs[2] / s, gs[3] / s};
  Vec out(static_cast<size_t>(numel_of(os)), 0.0);
  for (int64_t t = 0; t < numel_of(gs); ++t) {
    auto i = unravel(t, gs);
    out[static_cast<size_t>(ravel({i[0], i[1], i[2] / s, i[3] / s}, os))] += g[static_cast<size_t>(t)];
  }
  return out;
}

// Reflection padding written from the mirror's definition (not kernels/pad_index.h): the padded
// axis is periodic with period 2 (L - 1) around the image; fold the offset into one period, then
// mirror its second half.
int64_t ref_mirror(int64_t k, int64_t extent) {
  if (extent == 1) return 0;
  const int64_t period = 2 * (extent - 1);
  k = ((k % period) + period) % period;
  return k < extent ? k : period - k;
}

// Walks the output: out[.., i, j] = x[.., mirror(i - top), mirror(j - left)].
Vec ref_reflection_pad(const Vec& x, const Shape& xs, int64_t l, int64_t r, int64_t t, int64_t b) {
  const Shape os = {xs[0], xs[1], xs[2] + t + b, xs[3] + l + r};
  Vec out(static_cast<size_t>(numel_of(os)));
  for (int64_t e = 0; e < numel_of(os); ++e) {
    auto o = unravel(e, os);
    out[static_cast<size_t>(e)] =
        x[static_cast<size_t>(ravel({o[0], o[1], ref_mirror(o[2] - t, xs[2]), ref_mirror(o[3] - l, xs[3])}, xs))];
  }
  return out;
}

// The adjoint as a scatter (the kernels gather): each g element added onto the pixel it was read from.
Vec ref_reflection_pad_backward(const Vec& g, const Shape& gs, int64_t l, int64_t r, int64_t t, int64_t b) {
  const Shape os = {gs[0], gs[1], gs[2] - t - b, gs[3] - l - r};
  Vec out(static_cast<size_t>(numel_of(os)), 0.0);
  for (int64_t e = 0; e < numel_of(gs); ++e) {
    auto i = unravel(e, gs);
    out[static_cast<size_t>(ravel({i[0], i[1], ref_mirror(i[2] - t, os[2]), ref_mirror(i[3] - l, os[3])}, os))] +=
        g[static_cast<size_t>(e)];
  }
  return out;
}

Vec ref_translate(const Vec& x, const Shape& xs, const Vec& shifts) {
  Vec out(x.size());
  for (int64_t t = 0; t < numel_of(xs); ++t) {
    auto o = unravel(t, xs);
    const int64_t sy = o[2] - static_cast<int64_t>(shifts[2 * o[0]]), sx = o[3] - static_cast<int64_t>(shifts[2 * o[0] + 1]);
    const bool in = sy >= 0 && sy < xs[2] && sx >= 0 && sx < xs[3];
    out[static_cast<size_t>(t)] = in ? x[static_cast<size_t>(ravel({o[0], o[1], sy, sx}, xs))] : 0.0;
  }
  return out;
}

Vec ref_flip(const Vec& x, const Shape& xs, const Vec& mask) {
  Vec out(x.size());
  for (int64_t t = 0; t < numel_of(xs); ++t) {
    auto o = unravel(t, xs);
    const int64_t sx = mask[static_cast<size_t>(o[0])] == 1 ? xs[3] - 1 - o[3] : o[3];
    out[static_cast<size_t>(t)] = x[static_cast<size_t>(ravel({o[0], o[1], o[2], sx}, xs))];
  }
  return out;
}

// Ones, then each square's pixels that fall inside the image set to zero.
Vec ref_cutout_mask(int64_t n, int64_t h, int64_t w, const Vec& centers, int64_t sh, int64_t sw) {
  Vec out(static_cast<size_t>(n * h * w), 1.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t c = 0; c < sw; ++c) {
        const int64_t y = static_cast<int64_t>(centers[2 * b]) - sh / 2 + a;
        const int64_t x = static_cast<int64_t>(centers[2 * b + 1]) - sw / 2 + c;
        if (y >= 0 && y < h && x >= 0 && x < w) out[static_cast<size_t>((b * h + y) * w + x)] = 0.0;
      }
  return out;
}

// The colour transforms, written out per sample: mean over channels (saturation) or the whole
// sample (contrast), then the affine map.
Vec ref_brightness(const Vec& x, const Shape& xs, const Vec& r) {
  Vec out(x.size());
  const int64_t per = numel_of(xs) / xs[0];
  for (int64_t t = 0; t < numel_of(xs); ++t) out[t] = x[t] + r[t / per] - 0.5;
  return out;
}

Vec ref_saturation(const Vec& x, const Shape& xs, const Vec& r) {
  const int64_t n = xs[0], c = xs[1], hw = xs[2] * xs[3];
  Vec out(x.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t p = 0; p < hw; ++p) {
      double m = 0;
      for (int64_t k = 0; k < c; ++k) m += x[(b * c + k) * hw + p];
      m /= static_cast<double>(c);
      for (int64_t k = 0; k < c; ++k) out[(b * c + k) * hw + p] = (x[(b * c + k) * hw + p] - m) * (2 * r[b]) + m;
    }
  return out;
}

Vec ref_contrast(const Vec& x, const Shape& xs, const Vec& r) {
  const int64_t n = xs[0], per = numel_of(xs) / n;
  Vec out(x.size());
  for (int64_t b = 0; b < n; ++b) {
    double m = 0;
    for (int64_t t = 0; t < per; ++t) m += x[b * per + t];
    m /= static_cast<double>(per);
    for (int64_t t = 0; t < per; ++t) out[b * per + t] = (x[b * per + t] - m) * (r[b] + 0.5) + m;
  }
  return out;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

bool sample_is_nan(const Vec& v, int64_t sample, int64_t per) {
  for (int64_t t = 0; t < per; ++t)
    if (!std::isnan(v[static_cast<size_t>(sample * per + t)])) return false;
  return true;
}

bool sample_is_finite(const Vec& v, int64_t sample, int64_t per) {
  for (int64_t t = 0; t < per; ++t)
    if (!std::isfinite(v[static_cast<size_t>(sample * per + t)])) return false;
  return true;
}

}  // namespace

// ---- hand-computed cases ----

TEST(SpatialPixelShuffle, HandWrittenCase) {
  // x [1, 4, 1, 2] = 0..7 (channel k holds 2k, 2k + 1); r = 2 -> [1, 1, 2, 4]. Output row i, column
  // 2w + j takes channel 2i + j at column w: row 0 = x0[0], x1[0], x0[1], x1[1].
  for (DType dt : both_dtypes()) {
    Tensor x = vec({0, 1, 2, 3, 4, 5, 6, 7}, {1, 4, 1, 2}, dt);
    Tensor y = pixel_shuffle(x, 2);
    EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 4}));
    EXPECT_EQ(y.dtype(), dt);
    expect_matches(y, {0, 2, 1, 3, 4, 6, 5, 7}, 0, 0, "pixel_shuffle");
    Tensor back = pixel_unshuffle(y, 2);
    EXPECT_EQ(back.shape(), (Shape{1, 4, 1, 2}));
    expect_matches(back, {0, 1, 2, 3, 4, 5, 6, 7}, 0, 0, "pixel_unshuffle");
  }
  // r = 1 is the identity on any rank-3 input.
  Tensor z = uniform({3, 2, 5}, DType::Float32, 1);
  expect_matches(pixel_shuffle(z, 1), z.to_double_vector(), 0, 0, "r = 1");
}

TEST(SpatialUpsample, HandWrittenCase) {
  for (DType dt : both_dtypes()) {
    Tensor x = vec({1, 2, 3, 4}, {1, 1, 2, 2}, dt);
    Tensor y = upsample_nearest2d(x, 2);
    EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
    expect_matches(y, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0, 0, "upsample");
    Vec g(16);
    for (int i = 0; i < 16; ++i) g[i] = i;
    Tensor gs = upsample_nearest2d_backward(vec(g, {1, 1, 4, 4}, dt), 2);
    EXPECT_EQ(gs.shape(), (Shape{1, 1, 2, 2}));
    expect_matches(gs, {0 + 1 + 4 + 5, 2 + 3 + 6 + 7, 8 + 9 + 12 + 13, 10 + 11 + 14 + 15}, 0, 0, "block sum");
  }
  // Scale 3 on a 1 x 2 image: each value fills a 3 x 3 block.
  Tensor y = upsample_nearest2d(vec({5, -1}, {1, 1, 1, 2}), 3);
  expect_matches(y, {5, 5, 5, -1, -1, -1, 5, 5, 5, -1, -1, -1, 5, 5, 5, -1, -1, -1}, 0, 0, "scale 3");
}

TEST(SpatialReflectionPad, HandWrittenCases) {
  // torch.nn.ReflectionPad2d's documented examples: arange(9) as [1, 1, 3, 3], pad 2 on every side,
  // then (left, right, top, bottom) = (1, 1, 2, 0). The edge row/column is not repeated.
  Vec nine = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  for (DType dt : both_dtypes()) {
    Tensor x = vec(nine, {1, 1, 3, 3}, dt);
    Tensor y = reflection_pad2d(x, 2);
    EXPECT_EQ(y.shape(), (Shape{1, 1, 7, 7}));
    EXPECT_EQ(y.dtype(), dt);
    expect_matches(y, {8, 7, 6, 7, 8, 7, 6,  //
                       5, 4, 3, 4, 5, 4, 3,  //
                       2, 1, 0, 1, 2, 1, 0,  //
                       5, 4, 3, 4, 5, 4, 3,  //
                       8, 7, 6, 7, 8, 7, 6,  //
                       5, 4, 3, 4, 5, 4, 3,  //
                       2, 1, 0, 1, 2, 1, 0},
                   0, 0, "pad 2");
    Tensor z = reflection_pad2d(x, 1, 1, 2, 0);
    EXPECT_EQ(z.shape(), (Shape{1, 1, 5, 5}));
    expect_matches(z, {7, 6, 7, 8, 7,  //
                       4, 3, 4, 5, 4,  //
                       1, 0, 1, 2, 1,  //
                       4, 3, 4, 5, 4,  //
                       7, 6, 7, 8, 7},
                   0, 0, "pad (1, 1, 2, 0)");
    // One row, left 2, right 1: columns read x2 x1 | x0 x1 x2 | x1, so the gradient of x0 is g2,
    // of x1 g1 + g3 + g5, of x2 g0 + g4 (digits of powers of ten keep the terms apart).
    Tensor g = vec({1, 10, 100, 1000, 10000, 100000}, {1, 1, 1, 6}, dt);
    Tensor gx = reflection_pad2d_backward(g, 2, 1, 0, 0);
    EXPECT_EQ(gx.shape(), (Shape{1, 1, 1, 3}));
    expect_matches(gx, {100, 101010, 10001}, 0, 0, "backward of one row");
    // 3 x 3 padded by 1 everywhere, upstream all ones: each pixel counts the positions reading it,
    // (1, 3, 1) in rows times (1, 3, 1) in columns; the center is read by the whole 3 x 3 of
    // mirrors, the corners only by themselves.
    Tensor counts = reflection_pad2d_backward(Tensor::ones({1, 1, 5, 5}, dt), 1, 1, 1, 1);
    expect_matches(counts, {1, 3, 1, 3, 9, 3, 1, 3, 1}, 0, 0, "counts");
  }
  // Zero pads are the identity; one-pixel-wide images take only zero pads along that axis.
  Tensor u = uniform({2, 3, 1, 4}, DType::Float32, 2);
  expect_matches(reflection_pad2d(u, 0), u.to_double_vector(), 0, 0, "pad 0");
  expect_matches(reflection_pad2d(u, 3, 0, 0, 0), ref_reflection_pad(u.to_double_vector(), u.shape(), 3, 0, 0, 0), 0,
                 0, "width 4, left 3");
}

TEST(SpatialTranslate, HandWrittenCase) {
  // 3 x 3 image 1..9 moved down one row and left one column: out[y, x] = x[y - 1, x + 1].
  for (DType dt : both_dtypes())
    for (DType pdt : both_dtypes()) {
      Tensor x = vec({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}, dt);
      Tensor y = translate2d(x, vec({1, -1}, {1, 2}, pdt));
      expect_matches(y, {0, 0, 0, 2, 3, 0, 5, 6, 0}, 0, 0, "translate (1, -1)");
      // Two samples, two channels: (0, 0) is the identity; (-2, 2) keeps only x[2, 0] at (0, 2).
      Vec v;
      for (int i = 0; i < 36; ++i) v.push_back(i + 1);
      Tensor x2 = vec(v, {2, 2, 3, 3}, dt);
      Tensor y2 = translate2d(x2, vec({0, 0, -2, 2}, {2, 2}, pdt));
      Vec want(v.begin(), v.begin() + 18);
      for (double ch0 : {19.0, 28.0}) {  // channel starts of sample 1
        Vec plane(9, 0.0);
        plane[2] = ch0 + 6;  // x[2, 0] of that channel
        want.insert(want.end(), plane.begin(), plane.end());
      }
      expect_matches(y2, want, 0, 0, "translate two samples");
    }
}

TEST(SpatialFlip, HandWrittenCase) {
  for (DType dt : both_dtypes()) {
    Tensor x = vec({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 1, 2, 3}, dt);
    expect_matches(flip_horizontal(x, vec({1, 0}, {2})), {3, 2, 1, 6, 5, 4, 7, 8, 9, 10, 11, 12}, 0, 0, "flip 1 0");
    expect_matches(flip_horizontal(x, vec({0, 1}, {2}, DType::Float32)), {1, 2, 3, 4, 5, 6, 9, 8, 7, 12, 11, 10}, 0,
                   0, "flip 0 1");
  }
}

TEST(SpatialCutout, HandWrittenMasks) {
  // 4 x 5 image, size 3 at (1, 4): rows 0..2, columns 3..5 clipped to 3..4.
  Tensor m = cutout_mask(1, 4, 5, vec({1, 4}, {1, 2}, DType::Float32), 3);
  EXPECT_EQ(m.shape(), (Shape{1, 1, 4, 5}));
  EXPECT_EQ(m.dtype(), DType::Float32);
  expect_matches(m, {1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, 0, 0, "size 3");
  // Even size 2 at (0, 0): rows -1..0 and columns -1..0, so only pixel (0, 0); a second sample at
  // (3, 2) cuts rows 2..3, columns 1..2; a third far outside cuts nothing.
  Tensor m2 = cutout_mask(3, 4, 3, vec({0, 0, 3, 2, -50, 7}, {3, 2}), 2);
  EXPECT_EQ(m2.dtype(), DType::Float64);
  Vec want = {0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  //
              1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0,  //
              1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  expect_matches(m2, want, 0, 0, "size 2");
  // A 1 x 3 rectangle, and cutout() applying it to every channel.
  Tensor x = vec({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {1, 2, 2, 3});
  expect_matches(cutout(x, vec({1, 1}, {1, 2}), 1, 3), {1, 2, 3, 0, 0, 0, 7, 8, 9, 0, 0, 0}, 0, 0, "cutout 1x3");
  // Size 0 cuts nothing.
  expect_matches(cutout_mask(1, 2, 2, vec({1, 1}, {1, 2}), 0), {1, 1, 1, 1}, 0, 0, "size 0");
}

TEST(SpatialColour, HandWrittenCases) {
  // Brightness: [1, 2] + (0.75 - 0.5).
  expect_matches(adjust_brightness(vec({1, 2}, {1, 1, 1, 2}), vec({0.75}, {1})), {1.25, 2.25}, 0, 1e-15, "brightness");
  // Saturation: channels 1 and 3 (mean 2), r = 0.25: (v - 2) * 0.5 + 2.
  expect_matches(adjust_saturation(vec({1, 3}, {1, 2, 1, 1}), vec({0.25}, {1})), {1.5, 2.5}, 0, 1e-15, "saturation");
  // Contrast: pixels 1 and 3 (mean 2), r = 0: (v - 2) * 0.5 + 2; r = 0.5 is the identity.
  expect_matches(adjust_contrast(vec({1, 3}, {1, 1, 1, 2}), vec({0.0}, {1})), {1.5, 2.5}, 0, 1e-15, "contrast");
  expect_matches(adjust_contrast(vec({1, 3}, {1, 1, 1, 2}), vec({0.5}, {1, 1, 1, 1})), {1, 3}, 0, 1e-15, "contrast 1");
}

// ---- random odd shapes against the index loops ----

TEST(SpatialPixelShuffle, MatchesIndexLoopsOnRandomShapes) {
  std::mt19937_64 r(11);
  uint64_t seed = 200;
  for (DType dt : both_dtypes())
    for (int rep = 0; rep < 8; ++rep) {
      const int64_t f = pick(r, 1, 4);
      Shape xs = random_shape(r, 3 + static_cast<int>(rep % 3), 1, 7);  // ranks 3, 4, 5
      xs[xs.size() - 3] *= f * f;
      Tensor x = uniform(xs, dt, seed++);
      const std::string where = at(xs, "r " + std::to_string(f), dt);
      Tensor y = pixel_shuffle(x, f);
      expect_matches(y, ref_pixel_shuffle(x.to_double_vector(), xs, f), 0, 0, "shuffle " + where);
      Tensor u = pixel_unshuffle(y, f);
      EXPECT_EQ(u.shape(), xs);
      expect_matches(u, ref_pixel_unshuffle(y.to_double_vector(), y.shape(), f), 0, 0, "unshuffle " + where);
      expect_matches(u, x.to_double_vector(), 0, 0, "round trip " + where);
    }
}

TEST(SpatialPixelShuffle, LargeEnoughForSeveralThreads) {
  for (DType dt : both_dtypes()) {
    const Shape xs = {3, 5 * 9, 41, 37};  // r = 3, 205k elements: past the parallel grain
    Tensor x = uniform(xs, dt, 300);
    Tensor y = pixel_shuffle(x, 3);
    expect_matches(y, ref_pixel_shuffle(x.to_double_vector(), xs, 3), 0, 0, "large shuffle");
    expect_matches(pixel_unshuffle(y, 3), x.to_double_vector(), 0, 0, "large round trip");
  }
}

TEST(SpatialUpsample, MatchesIndexLoopsOnRandomShapes) {
  std::mt19937_64 r(12);
  uint64_t seed = 400;
  for (DType dt : both_dtypes())
    for (int rep = 0; rep < 8; ++rep) {
      const int64_t s = pick(r, 1, 4);
      Shape xs = random_shape(r, 4, 1, 9);
      if (rep == 0) xs = {2, 3, 47, 53};  // past the parallel grain after upsampling
      Tensor x = uniform(xs, dt, seed++);
      const std::string where = at(xs, "scale " + std::to_string(s), dt);
      Tensor y = upsample_nearest2d(x, s);
      EXPECT_EQ(y.shape(), (Shape{xs[0], xs[1], xs[2] * s, xs[3] * s}));
      expect_matches(y, ref_upsample(x.to_double_vector(), xs, s), 0, 0, "upsample " + where);
      Tensor g = uniform(y.shape(), dt, seed++);
      expect_matches(upsample_nearest2d_backward(g, s), ref_block_sum(g.to_double_vector(), g.shape(), s),
                     "block sum " + where);
    }
}

TEST(SpatialReflectionPad, MatchesIndexLoopsOnRandomShapes) {
  std::mt19937_64 r(19);
  uint64_t seed = 1250;
  for (DType dt : both_dtypes())
    for (int rep = 0; rep < 10; ++rep) {
      Shape xs = random_shape(r, 4, 1, 9);
      if (rep == 0) xs = {2, 3, 61, 67};   // past the parallel grain
      if (rep == 1) xs = {1, 3, 256, 3};   // CycleGAN's first layer, with a narrow width
      const int64_t l = pick(r, 0, xs[3] - 1), rr = pick(r, 0, xs[3] - 1);
      const int64_t t = pick(r, 0, xs[2] - 1), b = pick(r, 0, xs[2] - 1);
      const std::string where = at(xs, "pads " + std::to_string(l) + " " + std::to_string(rr) + " " +
                                           std::to_string(t) + " " + std::to_string(b), dt);
      Tensor x = uniform(xs, dt, seed++);
      Tensor y = reflection_pad2d(x, l, rr, t, b);
      EXPECT_EQ(y.shape(), (Shape{xs[0], xs[1], xs[2] + t + b, xs[3] + l + rr})) << where;
      expect_matches(y, ref_reflection_pad(x.to_double_vector(), xs, l, rr, t, b), 0, 0, "pad " + where);
      Tensor g = uniform(y.shape(), dt, seed++);
      Tensor gx = reflection_pad2d_backward(g, l, rr, t, b);
      EXPECT_EQ(gx.shape(), xs) << where;
      expect_matches(gx, ref_reflection_pad_backward(g.to_double_vector(), g.shape(), l, rr, t, b),
                     "backward " + where);
    }
}

TEST(SpatialReflectionPad, BackwardAddsInIncreasingRowThenColumnOrder) {
  // The order the CUDA gather kernel adds in (kernels/spatial.cuh), so that the two backends agree
  // bit for bit: float32 sums from 0 over the sources in increasing padded row, then column, found
  // here by scanning the whole padded plane for positions that mirror onto the pixel.
  std::mt19937_64 r(21);
  for (int rep = 0; rep < 12; ++rep) {
    Shape xs = random_shape(r, 4, 1, 9);
    xs[0] = std::min<int64_t>(xs[0], 2);
    if (rep == 0) xs = {1, 2, 7, 40};  // a long interior, the CPU's vectorised loop
    const int64_t l = pick(r, 0, xs[3] - 1), rr = pick(r, 0, xs[3] - 1);
    const int64_t t = pick(r, 0, xs[2] - 1), b = pick(r, 0, xs[2] - 1);
    const Shape gs = {xs[0], xs[1], xs[2] + t + b, xs[3] + l + rr};
    Tensor g = uniform(gs, DType::Float32, 1280 + rep, -100, 100);
    const std::vector<float> gv = g.to_float_vector();
    std::vector<float> want(static_cast<size_t>(numel_of(xs)));
    for (int64_t e = 0; e < numel_of(xs); ++e) {
      auto o = unravel(e, xs);
      float acc = 0;
      for (int64_t i = 0; i < gs[2]; ++i)
        for (int64_t j = 0; j < gs[3]; ++j)
          if (ref_mirror(i - t, xs[2]) == o[2] && ref_mirror(j - l, xs[3]) == o[3])
            acc += gv[static_cast<size_t>(ravel({o[0], o[1], i, j}, gs))];
      want[static_cast<size_t>(e)] = acc;
    }
    EXPECT_EQ(reflection_pad2d_backward(g, l, rr, t, b).to_float_vector(), want)
        << shape_str(xs) << " pads " << l << " " << rr << " " << t << " " << b;
  }
}

TEST(SpatialReflectionPad, BackwardIsTheAdjoint) {
  // <pad(x), g> == <x, pad_backward(g)>: the gather sums exactly the positions the forward copies to.
  std::mt19937_64 r(20);
  for (int rep = 0; rep < 6; ++rep) {
    Shape xs = random_shape(r, 4, 1, 8);
    const int64_t l = pick(r, 0, xs[3] - 1), rr = pick(r, 0, xs[3] - 1);
    const int64_t t = pick(r, 0, xs[2] - 1), b = pick(r, 0, xs[2] - 1);
    Tensor x = uniform(xs, DType::Float64, 1260 + rep);
    Tensor g = uniform({xs[0], xs[1], xs[2] + t + b, xs[3] + l + rr}, DType::Float64, 1270 + rep);
    const double lhs = dot(reflection_pad2d(x, l, rr, t, b).to_double_vector(), g.to_double_vector());
    const double rhs = dot(x.to_double_vector(), reflection_pad2d_backward(g, l, rr, t, b).to_double_vector());
    EXPECT_NEAR(lhs, rhs, 1e-12 * (1 + std::abs(lhs))) << shape_str(xs);
  }
}

TEST(SpatialTranslate, MatchesIndexLoopsOnRandomShapes) {
  std::mt19937_64 r(13);
  uint64_t seed = 500;
  for (DType dt : both_dtypes())
    for (DType pdt : both_dtypes())
      for (int rep = 0; rep < 6; ++rep) {
        Shape xs = random_shape(r, 4, 1, 9);
        if (rep == 0) xs = {3, 4, 61, 59};
        // Shifts up to past the image in both directions (a shift >= the extent empties the sample).
        const int64_t reach = std::max(xs[2], xs[3]) + 2;
        Tensor shifts = int_params(r, xs[0], 2, -reach, reach, pdt);
        Tensor x = uniform(xs, dt, seed++);
        expect_matches(translate2d(x, shifts), ref_translate(x.to_double_vector(), xs, shifts.to_double_vector()), 0,
                       0, "translate " + at(xs, std::string("shifts ") + dtype_name(pdt), dt));
      }
}

TEST(SpatialTranslate, BackwardIsTheAdjoint) {
  // <translate(x, d), y> == <x, translate(y, -d)> for every x, y: the rule's negated shift and its
  // zero padding are the transpose of the forward map, not merely its inverse (which does not exist).
  std::mt19937_64 r(14);
  for (int rep = 0; rep < 6; ++rep) {
    Shape xs = random_shape(r, 4, 1, 8);
    Tensor shifts = int_params(r, xs[0], 2, -9, 9, DType::Float64);
    Tensor x = uniform(xs, DType::Float64, 600 + rep), y = uniform(xs, DType::Float64, 700 + rep);
    const double lhs = dot(translate2d(x, shifts).to_double_vector(), y.to_double_vector());
    const double rhs = dot(x.to_double_vector(), translate2d(y, neg(shifts)).to_double_vector());
    EXPECT_NEAR(lhs, rhs, 1e-12 * (1 + std::abs(lhs))) << shape_str(xs);
    // And the recorded gradient is that map.
    Tensor xg = x.detach().requires_grad_();
    Tensor gx = grad({sum(mul(translate2d(xg, shifts), y))}, {xg})[0];
    expect_matches(gx, ref_translate(y.to_double_vector(), xs, neg(shifts).to_double_vector()), 0, 0, "d/dx");
  }
}

TEST(SpatialUpsample, BlockSumIsTheAdjoint) {
  std::mt19937_64 r(15);
  for (int rep = 0; rep < 4; ++rep) {
    Shape xs = random_shape(r, 4, 1, 6);
    const int64_t s = pick(r, 2, 3);
    Tensor x = uniform(xs, DType::Float64, 800 + rep);
    Tensor g = uniform({xs[0], xs[1], xs[2] * s, xs[3] * s}, DType::Float64, 900 + rep);
    const double lhs = dot(upsample_nearest2d(x, s).to_double_vector(), g.to_double_vector());
    const double rhs = dot(x.to_double_vector(), upsample_nearest2d_backward(g, s).to_double_vector());
    EXPECT_NEAR(lhs, rhs, 1e-12 * (1 + std::abs(lhs))) << shape_str(xs);
  }
}

TEST(SpatialFlip, MatchesIndexLoopsOnRandomShapes) {
  std::mt19937_64 r(16);
  uint64_t seed = 1000;
  for (DType dt : both_dtypes())
    for (DType pdt : both_dtypes())
      for (int rep = 0; rep < 5; ++rep) {
        Shape xs = random_shape(r, 4, 1, 9);
        if (rep == 0) xs = {5, 3, 67, 71};
        Tensor mask = int_params(r, xs[0], 0, 0, 1, pdt);
        Tensor x = uniform(xs, dt, seed++);
        Tensor y = flip_horizontal(x, mask);
        expect_matches(y, ref_flip(x.to_double_vector(), xs, mask.to_double_vector()), 0, 0,
                       "flip " + at(xs, "", dt));
        expect_matches(flip_horizontal(y, mask), x.to_double_vector(), 0, 0, "flip twice");
      }
}

TEST(SpatialCutout, MatchesIndexLoopsOnRandomShapes) {
  std::mt19937_64 r(17);
  uint64_t seed = 1100;
  for (DType dt : both_dtypes())
    for (int rep = 0; rep < 8; ++rep) {
      Shape xs = random_shape(r, 4, 1, 11);
      if (rep == 0) xs = {4, 3, 97, 101};
      const int64_t sh = pick(r, 0, xs[2] + 1), sw = pick(r, 0, xs[3] + 1);
      // Centers drawn as DiffAugment draws its offsets, plus some outside the image.
      Vec c;
      for (int64_t b = 0; b < xs[0]; ++b) {
        c.push_back(static_cast<double>(pick(r, -3, xs[2] + 3)));
        c.push_back(static_cast<double>(pick(r, -3, xs[3] + 3)));
      }
      Tensor centers = vec(c, {xs[0], 2}, dt);
      Vec want = ref_cutout_mask(xs[0], xs[2], xs[3], c, sh, sw);
      const std::string where = at(xs, "cut " + std::to_string(sh) + "x" + std::to_string(sw), dt);
      Tensor m = cutout_mask(xs[0], xs[2], xs[3], centers, sh, sw);
      EXPECT_EQ(m.dtype(), dt);
      expect_matches(m, want, 0, 0, "mask " + where);
      Tensor x = uniform(xs, DType::Float64, seed++);
      Vec xv = x.to_double_vector(), xw(xv.size());
      const int64_t hw = xs[2] * xs[3];
      for (size_t t = 0; t < xv.size(); ++t)
        xw[t] = xv[t] * want[static_cast<size_t>((static_cast<int64_t>(t) / (xs[1] * hw)) * hw + static_cast<int64_t>(t) % hw)];
      expect_matches(cutout(x, centers, sh, sw), xw, 0, 0, "cutout " + where);
    }
}

TEST(SpatialColour, MatchesReferencesOnRandomShapes) {
  std::mt19937_64 r(18);
  uint64_t seed = 1200;
  for (DType dt : both_dtypes())
    for (int rep = 0; rep < 5; ++rep) {
      Shape xs = random_shape(r, 4, 1, 9);
      Tensor x = uniform(xs, dt, seed++, -1, 1), f = uniform({xs[0]}, dt, seed++, 0, 1);
      Vec xv = x.to_double_vector(), fv = f.to_double_vector();
      const std::string where = at(xs, "", dt);
      const double tol = dt == DType::Float32 ? 1e-5 : 1e-13;
      expect_matches(adjust_brightness(x, f), ref_brightness(xv, xs, fv), tol, tol, "brightness " + where);
      expect_matches(adjust_saturation(x, f), ref_saturation(xv, xs, fv), tol, tol, "saturation " + where);
      expect_matches(adjust_contrast(x, f), ref_contrast(xv, xs, fv), tol, tol, "contrast " + where);
    }
}

// ---- gradients ----

TEST(SpatialGrad, ShuffleAndUpsample) {
  Tensor x = randn64({2, 8, 3, 5}, 1300), y = randn64({2, 3, 4, 6}, 1301);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return pixel_shuffle(in[0], 2); }, inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return pixel_unshuffle(in[0], 2); }, inputs({y}));
  Tensor u = randn64({2, 3, 3, 5}, 1302), g = randn64({2, 3, 6, 9}, 1303);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return upsample_nearest2d(in[0], 3); }, inputs({u}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return upsample_nearest2d_backward(in[0], 3); }, inputs({g}));
}

TEST(SpatialGrad, ReflectionPad) {
  // Pads up to one less than the extent (the largest mirror), unequal on every side.
  Tensor x = randn64({2, 3, 4, 5}, 1310), g = randn64({2, 3, 8, 7}, 1311);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return reflection_pad2d(in[0], 4, 1, 3, 0); }, inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return reflection_pad2d(in[0], 2); }, inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return reflection_pad2d_backward(in[0], 1, 2, 3, 1); },
                   inputs({g}));
}

TEST(SpatialGrad, AugmentationTransforms) {
  Tensor x = randn64({3, 2, 5, 7}, 1400);
  Tensor shifts = vec({2, -3, 0, 1, -1, 8}, {3, 2}, DType::Float32);
  Tensor mask = vec({1, 0, 1}, {3});
  Tensor centers = vec({2, 3, 0, 6, 4, -1}, {3, 2});
  EXPECT_GRADCHECK([shifts](const std::vector<Tensor>& in) { return translate2d(in[0], shifts); }, inputs({x}));
  EXPECT_GRADCHECK([mask](const std::vector<Tensor>& in) { return flip_horizontal(in[0], mask); }, inputs({x}));
  EXPECT_GRADCHECK([centers](const std::vector<Tensor>& in) { return cutout(in[0], centers, 3); }, inputs({x}));
  Tensor f = rand64({3}, 1401, 0, 1);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return adjust_brightness(in[0], in[1]); }, inputs({x, f}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return adjust_saturation(in[0], in[1]); }, inputs({x, f}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return adjust_contrast(in[0], in[1]); }, inputs({x, f}));
}

TEST(SpatialGrad, ParametersGetNoGradient) {
  Tensor x = randn64({2, 1, 3, 3}, 1500);
  Tensor shifts = vec({1, 0, 0, -1}, {2, 2}).requires_grad_(), mask = vec({1, 0}, {2}).requires_grad_();
  Tensor y = add(translate2d(x, shifts), flip_horizontal(x, mask));
  auto g = grad({sum(square(y))}, {x, shifts, mask}, {}, false, /*allow_unused=*/true);
  EXPECT_TRUE(g[0].defined());
  EXPECT_FALSE(g[1].defined());
  EXPECT_FALSE(g[2].defined());
  EXPECT_FALSE(cutout_mask(2, 3, 3, vec({1, 1, 0, 0}, {2, 2}).requires_grad_(), 2).requires_grad());
}

TEST(SpatialGrad, BackwardRecordsTheAdjointOps) {
  // With create_graph each gradient is the op named in spatial.cpp's table, and differentiating
  // <u, grad> in the upstream h gives the forward op applied to u again.
  Tensor x = randn64({2, 4, 3, 3}, 1600), h = randn64({2, 1, 6, 6}, 1601);
  Tensor gx = grad({sum(mul(pixel_shuffle(x, 2), h))}, {x}, {}, /*create_graph=*/true)[0];
  EXPECT_EQ(recorded_ops(gx).count("pixel_unshuffle"), 1u);
  Tensor u = randn64({2, 4, 3, 3}, 1602, false);
  Tensor gh = grad({sum(mul(gx, u))}, {h})[0];
  expect_matches(gh, ref_pixel_shuffle(u.to_double_vector(), u.shape(), 2), 0, 0, "d/dh <u, unshuffle(h)>");

  Tensor v = randn64({2, 3, 2, 3}, 1603), k = randn64({2, 3, 4, 6}, 1604);
  Tensor gv = grad({sum(mul(upsample_nearest2d(v, 2), k))}, {v}, {}, true)[0];
  EXPECT_EQ(recorded_ops(gv).count("upsample_nearest2d_backward"), 1u);
  Tensor w = randn64({2, 3, 2, 3}, 1605, false);
  expect_matches(grad({sum(mul(gv, w))}, {k})[0], ref_upsample(w.to_double_vector(), w.shape(), 2), 0, 0,
                 "d/dk <w, block_sum(k)>");

  Tensor shifts = vec({1, -2, 0, 3}, {2, 2}), hv = randn64({2, 3, 2, 3}, 1606);
  Tensor gt = grad({sum(mul(translate2d(v, shifts), hv))}, {v}, {}, true)[0];
  EXPECT_EQ(recorded_ops(gt).count("translate2d"), 1u);
  expect_matches(grad({sum(mul(gt, w))}, {hv})[0], ref_translate(w.to_double_vector(), w.shape(), {1, -2, 0, 3}), 0,
                 0, "d/dhv <w, translate(hv, -d)>");
  Tensor gp = grad({sum(mul(reflection_pad2d(v, 1, 2, 1, 1), k))}, {v}, {}, true)[0];  // k [2, 3, 4, 6]
  EXPECT_EQ(recorded_ops(gp).count("reflection_pad2d_backward"), 1u);
  expect_matches(grad({sum(mul(gp, w))}, {k})[0], ref_reflection_pad(w.to_double_vector(), w.shape(), 1, 2, 1, 1), 0,
                 0, "d/dk <w, pad_backward(k)>");

  Tensor mask = vec({0, 1}, {2});
  Tensor gf = grad({sum(mul(flip_horizontal(v, mask), hv))}, {v}, {}, true)[0];
  EXPECT_EQ(recorded_ops(gf).count("flip_horizontal"), 1u);
  expect_matches(grad({sum(mul(gf, w))}, {hv})[0], ref_flip(w.to_double_vector(), w.shape(), {0, 1}), 0, 0,
                 "d/dhv <w, flip(hv)>");
}

TEST(SpatialGradGrad, ThroughNonlinearities) {
  // Each op between nonlinear maps, differentiated twice (as in a critic under a gradient penalty).
  Tensor x = randn64({2, 4, 3, 3}, 1700), y = randn64({2, 1, 6, 6}, 1701);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return sum(mul(tanh(pixel_shuffle(in[0], 2)), in[1])); },
                       inputs({x, y}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(pixel_unshuffle(in[0], 2)); }, inputs({y}));
  Tensor u = randn64({2, 3, 2, 3}, 1702);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(upsample_nearest2d(in[0], 2)); },
                       inputs({u}));
  Tensor g = randn64({2, 3, 4, 6}, 1703);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return tanh(upsample_nearest2d_backward(in[0], 2)); },
                       inputs({g}));
  Tensor shifts = vec({1, -2, -1, 1}, {2, 2}, DType::Float32), mask = vec({1, 0}, {2});
  Tensor centers = vec({1, 1, 0, 2}, {2, 2});
  EXPECT_GRADGRADCHECK([shifts](const std::vector<Tensor>& in) { return square(translate2d(in[0], shifts)); },
                       inputs({u}));
  EXPECT_GRADGRADCHECK([mask](const std::vector<Tensor>& in) { return tanh(flip_horizontal(in[0], mask)); },
                       inputs({u}));
  EXPECT_GRADGRADCHECK([centers](const std::vector<Tensor>& in) { return square(cutout(in[0], centers, 2)); },
                       inputs({u}));
  Tensor f = rand64({2}, 1704, 0, 1);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(adjust_brightness(in[0], in[1])); },
                       inputs({u, f}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(adjust_saturation(in[0], in[1])); },
                       inputs({u, f}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(adjust_contrast(in[0], in[1])); },
                       inputs({u, f}));
}

TEST(SpatialGradGrad, ReflectionPadAndItsAdjoint) {
  // Gradient of a gradient against finite differences of the first, through nonlinearities on both
  // sides (the pad alone is linear: its second derivative would be zero whatever the rule).
  Tensor x = randn64({2, 2, 3, 4}, 1710), w = randn64({2, 2, 7, 5}, 1711);
  EXPECT_GRADGRADCHECK(
      [](const std::vector<Tensor>& in) { return sum(mul(tanh(reflection_pad2d(in[0], 1, 0, 2, 2)), in[1])); },
      inputs({x, w}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(reflection_pad2d(tanh(in[0]), 2)); },
                       inputs({x}));
  EXPECT_GRADGRADCHECK(
      [](const std::vector<Tensor>& in) { return tanh(reflection_pad2d_backward(square(in[0]), 1, 0, 2, 2)); },
      inputs({w}));
  // A third order: d/dx of <d/dx <d/dx sum(tanh(pad(x))), u>, v> stays finite-difference exact
  // because every rule records reflection_pad2d or reflection_pad2d_backward again.
  Tensor u = randn64({2, 2, 3, 4}, 1712, false);
  EXPECT_GRADGRADCHECK(
      [u](const std::vector<Tensor>& in) {
        GradModeGuard on(true);
        Tensor gx = grad({sum(tanh(reflection_pad2d(in[0], 2, 1, 1, 2)))}, {in[0]}, {}, /*create_graph=*/true)[0];
        return sum(mul(gx, u));
      },
      inputs({x}));
}

TEST(SpatialGradGrad, AugmentedCriticUnderGradientPenalty) {
  // D(x) = sum(leaky_relu(w1 * f) * f) per sample, f = pixel_unshuffle(aug(x)), aug = contrast of
  // cutout of flip of translate; the penalty mean((||dD/dx|| - 1)^2) differentiated in w1 and the
  // contrast factors is a second derivative through every op of the chain.
  Tensor w1 = randn64({4}, 1800), r = rand64({3}, 1801, 0, 1);
  Tensor x0 = randn64({3, 1, 4, 4}, 1802, false);
  Tensor shifts = vec({1, 0, 0, -1, -2, 1}, {3, 2}), mask = vec({0, 1, 1}, {3}), centers = vec({1, 2, 3, 0, 0, 0}, {3, 2});
  auto penalty = [=](const std::vector<Tensor>& in) {
    GradModeGuard on(true);
    Tensor x = x0.detach().requires_grad_();
    Tensor a = adjust_contrast(cutout(flip_horizontal(translate2d(x, shifts), mask), centers, 2), in[1]);
    Tensor feats = pixel_unshuffle(a, 2);                                  // [3, 4, 2, 2]
    Tensor d = sum(mul(leaky_relu(mul(feats, in[0].reshape({1, 4, 1, 1})), 0.2), feats), {1, 2, 3});
    Tensor gx = grad({sum(d)}, {x}, {}, /*create_graph=*/true)[0];
    return mean(square(per_sample_norm(gx) - 1.0));
  };
  EXPECT_GRADCHECK(penalty, inputs({w1, r}));
}

// ---- bad parameters ----

TEST(SpatialParams, BadValuesOnTheCpuThrowNamingPositionAndValue) {
  Tensor x = Tensor::zeros({3, 1, 4, 4});
  expect_error_naming([&] { translate2d(x, vec({0, 0, 1, 0.5, 0, 0}, {3, 2})); },
                      {"translate2d", "shifts[1, 1]", "0.5", "not an integer"});
  expect_error_naming([&] { translate2d(x, vec({0, 0, 0, 0, NAN, 0}, {3, 2})); }, {"translate2d", "shifts[2, 0]", "nan"});
  expect_error_naming([&] { translate2d(x, vec({INFINITY, 0, 0, 0, 0, 0}, {3, 2})); }, {"translate2d", "shifts[0, 0]", "inf"});
  expect_error_naming([&] { flip_horizontal(x, vec({0, 2, 1}, {3})); }, {"flip_horizontal", "mask[1]", "2", "neither 0 nor 1"});
  expect_error_naming([&] { flip_horizontal(x, vec({0, 1, -0.5}, {3})); }, {"flip_horizontal", "mask[2]", "-0.5"});
  expect_error_naming([&] { cutout_mask(1, 4, 4, vec({1.5, 2}, {1, 2}), 2); }, {"cutout_mask", "centers[0, 0]", "1.5"});
  expect_error_naming([&] { cutout(x, vec({1, 1, 2, 2, 3, NAN}, {3, 2}), 2); }, {"cutout_mask", "centers[2, 1]", "nan"});
}

TEST(SpatialParams, PrimitivesWriteNaNOverABadParametersSample) {
  // The ops throw first on the CPU; the primitives themselves behave as the CUDA kernels do: a bad
  // parameter's sample is all NaN and the other samples are untouched.
  const Shape xs = {5, 2, 3, 4};
  const int64_t per = 2 * 3 * 4;
  Tensor x = uniform(xs, DType::Float32, 1900);
  for (DType pdt : both_dtypes()) {
    Tensor shifts = vec({1, 0, 0.5, 0, 0, NAN, INFINITY, 1, -1, 2}, {5, 2}, pdt);
    Tensor out = Tensor::empty(xs);
    cpu::translate2d(x, shifts, out);
    Vec v = out.to_double_vector();
    for (int64_t b : {1, 2, 3}) EXPECT_TRUE(sample_is_nan(v, b, per)) << "translate sample " << b;
    Vec good = ref_translate(x.to_double_vector(), xs, {1, 0, 0, 0, 0, 0, 0, 0, -1, 2});
    for (int64_t b : {0, 4})
      for (int64_t t = 0; t < per; ++t) EXPECT_EQ(v[b * per + t], good[b * per + t]) << "translate sample " << b;

    Tensor mask = vec({1, 0.5, NAN, 0, -1}, {5}, pdt);
    cpu::flip_horizontal(x, mask, out);
    v = out.to_double_vector();
    for (int64_t b : {1, 2, 4}) EXPECT_TRUE(sample_is_nan(v, b, per)) << "flip sample " << b;
    good = ref_flip(x.to_double_vector(), xs, {1, 0, 0, 0, 0});
    for (int64_t b : {0, 3})
      for (int64_t t = 0; t < per; ++t) EXPECT_EQ(v[b * per + t], good[b * per + t]) << "flip sample " << b;

    Tensor centers = vec({1, 1, 2, 0.25, NAN, 0, 0, 3, -INFINITY, 0}, {5, 2}, pdt);
    Tensor m = Tensor::empty({5, 1, 3, 4}, DType::Float64);
    cpu::cutout_mask(centers, 2, 2, m);
    v = m.to_double_vector();
    for (int64_t b : {1, 2, 4}) EXPECT_TRUE(sample_is_nan(v, b, 12)) << "cutout sample " << b;
    for (int64_t b : {0, 3}) EXPECT_TRUE(sample_is_finite(v, b, 12)) << "cutout sample " << b;
  }
}

TEST(SpatialParams, HugeShiftsAndCentersEmptyOrSpareTheImage) {
  // Integers far beyond the image are valid: a shift of 1e12 moves everything out (all zero), a
  // center at -1e12 cuts nothing; neither overflows the index arithmetic.
  Tensor x = uniform({2, 1, 3, 3}, DType::Float64, 2000);
  Tensor y = translate2d(x, vec({1e12, 0, 0, -1e12}, {2, 2}));
  expect_matches(y, Vec(18, 0.0), 0, 0, "huge shifts");
  expect_matches(cutout_mask(2, 3, 3, vec({-1e12, 0, 1, 1e12}, {2, 2}), 3), Vec(18, 1.0), 0, 0, "far centers");
}

// ---- shape errors ----

TEST(SpatialErrors, NameTheOpAndShapes) {
  expect_error_naming([] { pixel_shuffle(Tensor::zeros({2, 6, 3, 3}), 2); },
                      {"pixel_shuffle", "channels 6", "[2, 6, 3, 3]", "r^2 = 4"});
  expect_error_naming([] { pixel_shuffle(Tensor::zeros({4, 3}), 2); }, {"pixel_shuffle", "[4, 3]", "[*, C r^2, H, W]"});
  expect_error_naming([] { pixel_shuffle(Tensor::zeros({1, 4, 3, 3}), 0); }, {"pixel_shuffle", "factor 0"});
  expect_error_naming([] { pixel_unshuffle(Tensor::zeros({1, 1, 4, 5}), 2); }, {"pixel_unshuffle", "[1, 1, 4, 5]", "divisible by 2"});
  expect_error_naming([] { upsample_nearest2d(Tensor::zeros({1, 4, 3}), 2); }, {"upsample_nearest2d", "[1, 4, 3]", "[N, C, H, W]"});
  expect_error_naming([] { upsample_nearest2d(Tensor::zeros({1, 1, 4, 3}), -1); }, {"upsample_nearest2d", "scale -1"});
  expect_error_naming([] { upsample_nearest2d_backward(Tensor::zeros({1, 1, 4, 3}), 2); },
                      {"upsample_nearest2d_backward", "[1, 1, 4, 3]", "divisible by scale 2"});
  Tensor x = Tensor::zeros({3, 1, 4, 4});
  expect_error_naming([&] { translate2d(x, Tensor::zeros({3})); }, {"translate2d", "shifts", "[3, 2]", "[3]"});
  expect_error_naming([&] { translate2d(x, Tensor::zeros({2, 2})); }, {"translate2d", "[3, 2]", "[2, 2]"});
  expect_error_naming([&] { translate2d(Tensor::zeros({3, 4, 4}), Tensor::zeros({3, 2})); }, {"translate2d", "[N, C, H, W]"});
  expect_error_naming([&] { flip_horizontal(x, Tensor::zeros({3, 1})); }, {"flip_horizontal", "mask", "[3]", "[3, 1]"});
  expect_error_naming([&] { cutout_mask(2, 4, 4, Tensor::zeros({3, 2}), 2); }, {"cutout_mask", "centers", "[2, 2]"});
  expect_error_naming([&] { cutout_mask(1, 4, 4, Tensor::zeros({1, 2}), -2); }, {"cutout_mask", "-2"});
  expect_error_naming([&] { adjust_brightness(x, Tensor::zeros({2})); }, {"adjust_brightness", "[3]", "[2]"});
  expect_error_naming([&] { adjust_saturation(x, Tensor::zeros({3, 2})); }, {"adjust_saturation", "[3, 2]"});
  expect_error_naming([&] { adjust_contrast(Tensor::zeros({3}), Tensor::zeros({3})); }, {"adjust_contrast", "[N, C, ...]"});
}

TEST(SpatialErrors, ReflectionPadNamesTheOpPadAndShape) {
  // As torch: every pad below the extent it mirrors (ReflectionPad2d(3) on a 3 x 3 image fails).
  Tensor x = Tensor::zeros({1, 1, 3, 3});
  expect_error_naming([&] { reflection_pad2d(x, 3); },
                      {"reflection_pad2d", "left 3", "less than the dimension", "[1, 1, 3, 3]"});
  expect_error_naming([&] { reflection_pad2d(Tensor::zeros({2, 3, 5, 8}), 0, 0, 0, 5); },
                      {"reflection_pad2d", "bottom 5", "[2, 3, 5, 8]", "height 5"});
  expect_error_naming([&] { reflection_pad2d(Tensor::zeros({2, 3, 5, 8}), 0, 8, 0, 0); },
                      {"reflection_pad2d", "right 8", "width 8"});
  expect_error_naming([&] { reflection_pad2d(Tensor::zeros({1, 2, 1, 4}), 1, 1, 1, 0); }, {"top 1", "height 1"});
  expect_error_naming([&] { reflection_pad2d(x, -1, 0, 0, 0); }, {"reflection_pad2d", "left -1", "negative"});
  expect_error_naming([&] { reflection_pad2d(Tensor::zeros({3, 5, 5}), 1); },
                      {"reflection_pad2d", "[3, 5, 5]", "[N, C, H, W]"});
  expect_error_naming([&] { reflection_pad2d(Tensor(), 1); }, {"reflection_pad2d", "undefined"});
  // The adjoint checks the image its grad came from: [1, 1, 4, 4] less pads 2 + 2 is 0 rows.
  expect_error_naming([&] { reflection_pad2d_backward(Tensor::zeros({1, 1, 4, 4}), 0, 0, 2, 2); },
                      {"reflection_pad2d_backward", "[1, 1, 4, 4]", "height 0"});
  expect_error_naming([&] { reflection_pad2d_backward(Tensor::zeros({1, 1, 4, 4}), 0, 0, 0, -1); },
                      {"reflection_pad2d_backward", "bottom -1"});
  expect_error_naming([&] { reflection_pad2d_backward(Tensor::zeros({1, 4, 4}), 1, 1, 1, 1); },
                      {"reflection_pad2d_backward", "[1, 4, 4]"});
}

TEST(SpatialErrors, EmptyBatchesAreFine) {
  EXPECT_EQ(pixel_shuffle(Tensor::zeros({0, 4, 2, 3}), 2).shape(), (Shape{0, 1, 4, 6}));
  EXPECT_EQ(upsample_nearest2d(Tensor::zeros({0, 2, 2, 3}), 2).shape(), (Shape{0, 2, 4, 6}));
  EXPECT_EQ(reflection_pad2d(Tensor::zeros({0, 2, 2, 3}), 1).shape(), (Shape{0, 2, 4, 5}));
  EXPECT_EQ(reflection_pad2d_backward(Tensor::zeros({0, 2, 4, 5}), 1, 1, 1, 1).shape(), (Shape{0, 2, 2, 3}));
  EXPECT_EQ(translate2d(Tensor::zeros({0, 2, 2, 3}), Tensor::zeros({0, 2})).shape(), (Shape{0, 2, 2, 3}));
  EXPECT_EQ(flip_horizontal(Tensor::zeros({0, 2, 2, 3}), Tensor::zeros({0})).shape(), (Shape{0, 2, 2, 3}));
  EXPECT_EQ(cutout_mask(0, 2, 3, Tensor::zeros({0, 2}), 1).shape(), (Shape{0, 1, 2, 3}));
}
