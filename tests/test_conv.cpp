// conv2d, conv_transpose2d and their weight-gradient ops: forward against naive loops written
// here in float64, hand-computed cases, finite-difference first and second derivatives, the DCGAN
// layer shapes, and the errors.
#include <functional>
#include <string>

#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

// ---- naive references (float64, straight from the definitions) ----

// y[n, o, oh, ow] = b[o] + sum_{c, i, j} w[o, c, i, j] x[n, c, oh sh - ph + i, ow sw - pw + j]
std::vector<double> ref_conv2d(const Tensor& xt, const Tensor& wt, const Tensor& bt, const Conv2dParams& p,
                               Shape* out_shape) {
  auto x = xt.to_double_vector(), w = wt.to_double_vector();
  std::vector<double> b = bt.defined() ? bt.to_double_vector() : std::vector<double>(wt.size(0), 0.0);
  const int64_t N = xt.size(0), C = xt.size(1), H = xt.size(2), W = xt.size(3);
  const int64_t O = wt.size(0), kH = wt.size(2), kW = wt.size(3);
  const int64_t Ho = (H + 2 * p.pad_h - kH) / p.stride_h + 1, Wo = (W + 2 * p.pad_w - kW) / p.stride_w + 1;
  *out_shape = {N, O, Ho, Wo};
  std::vector<double> y(N * O * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double acc = b[o];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < kH; ++i)
              for (int64_t j = 0; j < kW; ++j) {
                int64_t ih = oh * p.stride_h - p.pad_h + i, iw = ow * p.stride_w - p.pad_w + j;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += w[((o * C + c) * kH + i) * kW + j] * x[((n * C + c) * H + ih) * W + iw];
              }
          y[((n * O + o) * Ho + oh) * Wo + ow] = acc;
        }
  return y;
}

// The transposed convolution as a scatter: every input pixel stamps x * w[ci, :, :, :] onto the
// output at (ih sh - ph, iw sw - pw); stamps falling outside the output are cropped.
std::vector<double> ref_conv_transpose2d(const Tensor& xt, const Tensor& wt, const Tensor& bt, const Conv2dParams& p,
                                         Shape* out_shape) {
  auto x = xt.to_double_vector(), w = wt.to_double_vector();
  const int64_t N = xt.size(0), C = xt.size(1), H = xt.size(2), W = xt.size(3);
  const int64_t O = wt.size(1), kH = wt.size(2), kW = wt.size(3);
  const int64_t Ho = (H - 1) * p.stride_h - 2 * p.pad_h + kH + p.out_pad_h;
  const int64_t Wo = (W - 1) * p.stride_w - 2 * p.pad_w + kW + p.out_pad_w;
  *out_shape = {N, O, Ho, Wo};
  std::vector<double> y(N * O * Ho * Wo, 0.0);
  if (bt.defined()) {
    auto b = bt.to_double_vector();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t k = 0; k < Ho * Wo; ++k) y[(n * O + o) * Ho * Wo + k] = b[o];
  }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ih = 0; ih < H; ++ih)
        for (int64_t iw = 0; iw < W; ++iw)
          for (int64_t o = 0; o < O; ++o)
            for (int64_t i = 0; i < kH; ++i)
              for (int64_t j = 0; j < kW; ++j) {
                int64_t oh = ih * p.stride_h - p.pad_h + i, ow = iw * p.stride_w - p.pad_w + j;
                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                y[((n * O + o) * Ho + oh) * Wo + ow] +=
                    x[((n * C + c) * H + ih) * W + iw] * w[((c * O + o) * kH + i) * kW + j];
              }
  return y;
}

// dw[o, c, i, j] = sum_{n, oh, ow} gy[n, o, oh, ow] x[n, c, oh sh - ph + i, ow sw - pw + j]
std::vector<double> ref_conv2d_weight_grad(const Tensor& xt, const Tensor& gyt, const Shape& ws, const Conv2dParams& p) {
  auto x = xt.to_double_vector(), gy = gyt.to_double_vector();
  const int64_t N = xt.size(0), C = xt.size(1), H = xt.size(2), W = xt.size(3);
  const int64_t O = ws[0], kH = ws[2], kW = ws[3], Ho = gyt.size(2), Wo = gyt.size(3);
  std::vector<double> dw(O * C * kH * kW, 0.0);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < kH; ++i)
        for (int64_t j = 0; j < kW; ++j)
          for (int64_t n = 0; n < N; ++n)
            for (int64_t oh = 0; oh < Ho; ++oh)
              for (int64_t ow = 0; ow < Wo; ++ow) {
                int64_t ih = oh * p.stride_h - p.pad_h + i, iw = ow * p.stride_w - p.pad_w + j;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                dw[((o * C + c) * kH + i) * kW + j] +=
                    gy[((n * O + o) * Ho + oh) * Wo + ow] * x[((n * C + c) * H + ih) * W + iw];
              }
  return dw;
}

// dw[c, o, i, j] = sum_{n, ih, iw} x[n, c, ih, iw] gy[n, o, ih sh - ph + i, iw sw - pw + j]
std::vector<double> ref_conv_transpose2d_weight_grad(const Tensor& xt, const Tensor& gyt, const Shape& ws,
                                                     const Conv2dParams& p) {
  auto x = xt.to_double_vector(), gy = gyt.to_double_vector();
  const int64_t N = xt.size(0), C = xt.size(1), H = xt.size(2), W = xt.size(3);
  const int64_t O = ws[1], kH = ws[2], kW = ws[3], Ho = gyt.size(2), Wo = gyt.size(3);
  std::vector<double> dw(C * O * kH * kW, 0.0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < kH; ++i)
        for (int64_t j = 0; j < kW; ++j)
          for (int64_t n = 0; n < N; ++n)
            for (int64_t ih = 0; ih < H; ++ih)
              for (int64_t iw = 0; iw < W; ++iw) {
                int64_t oh = ih * p.stride_h - p.pad_h + i, ow = iw * p.stride_w - p.pad_w + j;
                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                dw[((c * O + o) * kH + i) * kW + j] +=
                    x[((n * C + c) * H + ih) * W + iw] * gy[((n * O + o) * Ho + oh) * Wo + ow];
              }
  return dw;
}

double rel_error_vec(const Tensor& a, const std::vector<double>& b) {
  auto x = a.to_double_vector();
  EXPECT_EQ(x.size(), b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size() && i < b.size(); ++i) {
    num += (x[i] - b[i]) * (x[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::isnan(num) ? INFINITY : std::sqrt(num / std::max(den, 1e-300));
}

Conv2dParams params(int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oph = 0, int64_t opw = 0) {
  return {sh, sw, ph, pw, oph, opw};
}

struct Case {
  const char* name;
  Shape x, w;  // x[N, C, H, W]; w in the op's own layout
  Conv2dParams p;
};

// Odd sizes, 1x1 / 3x3 / 4x4 s2 p1 / 5x5 s1 p2, non-square kernels, strides and paddings.
const std::vector<Case> kConvCases = {
    {"1x1", {3, 5, 7, 6}, {4, 5, 1, 1}, params(1, 1, 0, 0)},
    {"1x1 s2 p1", {2, 3, 5, 6}, {5, 3, 1, 1}, params(2, 2, 1, 1)},
    {"3x3 s1 p1", {2, 3, 9, 7}, {5, 3, 3, 3}, params(1, 1, 1, 1)},
    {"3x3 s2 p0", {3, 2, 11, 8}, {3, 2, 3, 3}, params(2, 2, 0, 0)},
    {"4x4 s2 p1", {2, 3, 10, 9}, {4, 3, 4, 4}, params(2, 2, 1, 1)},
    {"5x5 s1 p2", {2, 2, 7, 9}, {3, 2, 5, 5}, params(1, 1, 2, 2)},
    {"3x2 s(2,1) p(1,0)", {3, 3, 8, 5}, {2, 3, 3, 2}, params(2, 1, 1, 0)},
    {"2x5 s(1,3) p(0,2)", {2, 4, 5, 13}, {3, 4, 2, 5}, params(1, 3, 0, 2)},
    {"padding larger than kernel", {1, 2, 4, 3}, {3, 2, 2, 2}, params(3, 2, 3, 2)},
    {"kernel covers input", {4, 3, 5, 5}, {6, 3, 5, 5}, params(1, 1, 0, 0)},
};

const std::vector<Case> kTransposeCases = {
    {"1x1", {3, 5, 7, 6}, {5, 4, 1, 1}, params(1, 1, 0, 0)},
    {"3x3 s1 p1", {2, 3, 6, 7}, {3, 4, 3, 3}, params(1, 1, 1, 1)},
    {"3x3 s2 p1 op1", {2, 3, 5, 4}, {3, 2, 3, 3}, params(2, 2, 1, 1, 1, 1)},
    {"4x4 s2 p1", {3, 4, 5, 7}, {4, 3, 4, 4}, params(2, 2, 1, 1)},
    {"4x4 s1 p0 from 1x1", {5, 7, 1, 1}, {7, 3, 4, 4}, params(1, 1, 0, 0)},
    {"5x5 s1 p2", {2, 2, 7, 5}, {2, 3, 5, 5}, params(1, 1, 2, 2)},
    {"5x3 s(3,2) p(1,0) op(2,1)", {2, 3, 4, 5}, {3, 2, 5, 3}, params(3, 2, 1, 0, 2, 1)},
    {"2x2 s2 p0", {3, 2, 3, 3}, {2, 5, 2, 2}, params(2, 2, 0, 0)},
};

// One layer of either op: x in the op's own input layout, w in its weight layout.
struct Layer {
  const char* name;
  Shape x, w;
  Conv2dParams p;
  bool transposed;
};

// The input gradient gx = f^T(gy) of a linear f through <gy, f(x)> = <f^T(gy), x>, with f(x) the
// float64 reference `ref`.
void expect_adjoint(const Tensor& gy, const std::vector<double>& ref, const Tensor& gx, const Tensor& x) {
  double lhs = 0, rhs = 0;
  auto gyv = gy.to_double_vector(), xv = x.to_double_vector(), gxv = gx.to_double_vector();
  for (size_t i = 0; i < gyv.size(); ++i) lhs += gyv[i] * ref[i];
  for (size_t i = 0; i < xv.size(); ++i) rhs += gxv[i] * xv[i];
  EXPECT_NEAR(lhs, rhs, 1e-10 * (std::abs(lhs) + 1));
}

// Expects f to throw gan::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown; expected one mentioning " << parts[0];
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& part : parts) EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
  }
}

}  // namespace

// ---------------- forward against the naive loops ----------------

TEST(Conv2d, ForwardMatchesNaiveLoops) {
  uint64_t seed = 100;
  for (const auto& c : kConvCases) {
    SCOPED_TRACE(c.name);
    Tensor x = randn64(c.x, seed++, false), w = randn64(c.w, seed++, false), b = randn64({c.w[0]}, seed++, false);
    Shape ys;
    auto ref = ref_conv2d(x, w, b, c.p, &ys);
    Tensor y = conv2d(x, w, b, c.p);
    EXPECT_EQ(y.shape(), ys);
    EXPECT_LT(rel_error_vec(y, ref), 1e-13);
    // float32 against the float64 reference
    Tensor y32 = conv2d(x.to(DType::Float32), w.to(DType::Float32), b.to(DType::Float32), c.p);
    EXPECT_EQ(y32.dtype(), DType::Float32);
    EXPECT_LT(rel_error_vec(y32, ref), 1e-5);
    // no bias
    auto ref_nb = ref_conv2d(x, w, Tensor(), c.p, &ys);
    EXPECT_LT(rel_error_vec(conv2d(x, w, Tensor(), c.p), ref_nb), 1e-13);
  }
}

TEST(ConvTranspose2d, ForwardMatchesNaiveScatter) {
  uint64_t seed = 200;
  for (const auto& c : kTransposeCases) {
    SCOPED_TRACE(c.name);
    Tensor x = randn64(c.x, seed++, false), w = randn64(c.w, seed++, false), b = randn64({c.w[1]}, seed++, false);
    Shape ys;
    auto ref = ref_conv_transpose2d(x, w, b, c.p, &ys);
    Tensor y = conv_transpose2d(x, w, b, c.p);
    EXPECT_EQ(y.shape(), ys);
    EXPECT_LT(rel_error_vec(y, ref), 1e-13);
    Tensor y32 = conv_transpose2d(x.to(DType::Float32), w.to(DType::Float32), b.to(DType::Float32), c.p);
    EXPECT_LT(rel_error_vec(y32, ref), 1e-5);
  }
}

TEST(ConvTranspose2d, OutputSizeFormula) {
  // (H - 1) s - 2 p + k + output_padding, per dimension.
  Tensor x = randn64({1, 2, 5, 3}, 1, false), w = randn64({2, 1, 4, 3}, 2, false);
  EXPECT_EQ(conv_transpose2d(x, w, Tensor(), params(2, 3, 1, 0, 1, 2)).shape(),
            (Shape{1, 1, 4 * 2 - 2 + 4 + 1, 2 * 3 - 0 + 3 + 2}));
}

TEST(ConvWeightGrad, BothOpsMatchNaiveLoops) {
  uint64_t seed = 300;
  for (const auto& c : kConvCases) {
    SCOPED_TRACE(c.name);
    Tensor x = randn64(c.x, seed++, false);
    Shape ys;
    ref_conv2d(x, randn64(c.w, 0, false), Tensor(), c.p, &ys);
    Tensor gy = randn64(ys, seed++, false);
    auto ref = ref_conv2d_weight_grad(x, gy, c.w, c.p);
    EXPECT_LT(rel_error_vec(conv2d_weight_grad(x, gy, c.w, c.p), ref), 1e-13);
    EXPECT_LT(rel_error_vec(conv2d_weight_grad(x.to(DType::Float32), gy.to(DType::Float32), c.w, c.p), ref), 1e-5);
  }
  for (const auto& c : kTransposeCases) {
    SCOPED_TRACE(c.name);
    Tensor x = randn64(c.x, seed++, false);
    Shape ys;
    ref_conv_transpose2d(x, randn64(c.w, 0, false), Tensor(), c.p, &ys);
    Tensor gy = randn64(ys, seed++, false);
    auto ref = ref_conv_transpose2d_weight_grad(x, gy, c.w, c.p);
    EXPECT_LT(rel_error_vec(conv_transpose2d_weight_grad(x, gy, c.w, c.p), ref), 1e-13);
    EXPECT_LT(
        rel_error_vec(conv_transpose2d_weight_grad(x.to(DType::Float32), gy.to(DType::Float32), c.w, c.p), ref),
        1e-5);
  }
}

TEST(Conv2d, LargeBatchesAcrossSampleGroups) {
  // Small feature maps make the CPU backend batch samples into shared GEMMs and split groups over
  // threads; odd batch sizes leave a ragged last group. A kernel covering the whole input takes
  // the fully connected path. Each case checks all three computations.
  const std::vector<Layer> layers = {
      {"convT 2x2 -> 4x4 k3", {0, 16, 2, 2}, {16, 12, 3, 3}, params(1, 1, 0, 0), true},
      {"convT 1x1 -> 4x4 k4 (dense)", {0, 6, 1, 1}, {6, 5, 4, 4}, params(1, 1, 0, 0), true},
      {"conv 5x5 -> 2x2 k4 s2 p1", {0, 8, 5, 5}, {12, 8, 4, 4}, params(2, 2, 1, 1), false},
      {"conv 4x4 -> 1x1 k4 (dense)", {0, 5, 4, 4}, {3, 5, 4, 4}, params(1, 1, 0, 0), false},
  };
  uint64_t seed = 400;
  // The larger batches carry enough work for the backend to use several threads.
  for (int64_t N : {1, 2, 3, 37, 131}) {
    for (const auto& l : layers) {
      SCOPED_TRACE(std::string(l.name) + ", N = " + std::to_string(N));
      Shape xs = l.x;
      xs[0] = N;
      Tensor x = randn64(xs, seed++, false), w = randn64(l.w, seed++, false);
      Shape ys;
      auto ref = l.transposed ? ref_conv_transpose2d(x, w, Tensor(), l.p, &ys) : ref_conv2d(x, w, Tensor(), l.p, &ys);
      Tensor y = l.transposed ? conv_transpose2d(x, w, Tensor(), l.p) : conv2d(x, w, Tensor(), l.p);
      EXPECT_LT(rel_error_vec(y, ref), 1e-13);
      Tensor gy = randn64(ys, seed++, false);
      auto ref_gw = l.transposed ? ref_conv_transpose2d_weight_grad(x, gy, l.w, l.p)
                                 : ref_conv2d_weight_grad(x, gy, l.w, l.p);
      Tensor gw = l.transposed ? conv_transpose2d_weight_grad(x, gy, l.w, l.p) : conv2d_weight_grad(x, gy, l.w, l.p);
      EXPECT_LT(rel_error_vec(gw, ref_gw), 1e-13);
      // The input gradient (the other op) through the adjoint identity <gy, f(x)> = <f^T(gy), x>.
      Tensor xg = x.detach().requires_grad_();
      Tensor yg = l.transposed ? conv_transpose2d(xg, w, Tensor(), l.p) : conv2d(xg, w, Tensor(), l.p);
      Tensor gx = grad({yg}, {xg}, {gy})[0];
      ASSERT_EQ(gx.shape(), x.shape());
      expect_adjoint(gy, ref, gx, x);
    }
  }
}

TEST(Conv2d, FourByFourStrideTwoWithManyChannelsMatchesNaiveLoops) {
  // 4x4 stride-2 layers with 16 or more channels each side take the polyphase Winograd path
  // (engine/cpu/conv_winograd.cpp). Odd output sizes leave partial 2x2 tiles, paddings other than
  // 1 move the phases, output_padding gives a row no tap reads, and the 64x64 case's batch is
  // split into two chunks. All three computations of both ops, float64 and float32.
  const std::vector<Layer> layers = {
      {"conv 10x9 -> 5x4 p1", {3, 16, 10, 9}, {17, 16, 4, 4}, params(2, 2, 1, 1), false},
      {"conv 8x8 -> 3x5 p(0, 2)", {2, 18, 8, 8}, {16, 18, 4, 4}, params(2, 2, 0, 2), false},
      {"conv 16x16 -> 8x8 p1 (DCGAN)", {5, 16, 16, 16}, {32, 16, 4, 4}, params(2, 2, 1, 1), false},
      {"conv 64x64 -> 32x32 p1, two chunks", {23, 16, 64, 64}, {16, 16, 4, 4}, params(2, 2, 1, 1), false},
      {"convT 4x5 -> 8x10 p1 (DCGAN)", {3, 17, 4, 5}, {17, 16, 4, 4}, params(2, 2, 1, 1), true},
      {"convT 3x3 -> 7x7 p1 op1", {2, 16, 3, 3}, {16, 20, 4, 4}, params(2, 2, 1, 1, 1, 1), true},
  };
  uint64_t seed = 450;
  // A second pass with GAN_CONV=winograd, which takes the few-channel layers of kConvCases and
  // kTransposeCases (4x4 s2 p1 with 3 and 4 channels) the same way.
  std::vector<Layer> all = layers;
  all.push_back({"conv 10x9 -> 5x4 p1, 3 channels (GAN_CONV=winograd)", {2, 3, 10, 9}, {4, 3, 4, 4}, params(2, 2, 1, 1), false});
  all.push_back({"convT 5x7 -> 10x14 p1, 4 -> 3 channels (GAN_CONV=winograd)", {3, 4, 5, 7}, {4, 3, 4, 4}, params(2, 2, 1, 1), true});
  for (size_t li = 0; li < all.size(); ++li) {
    const Layer& l = all[li];
    SCOPED_TRACE(l.name);
    if (li >= layers.size()) setenv("GAN_CONV", "winograd", 1);
    Tensor x = randn64(l.x, seed++, false), w = randn64(l.w, seed++, false);
    Shape ys;
    auto ref = l.transposed ? ref_conv_transpose2d(x, w, Tensor(), l.p, &ys) : ref_conv2d(x, w, Tensor(), l.p, &ys);
    auto run = [&](const Tensor& a, const Tensor& b) {
      return l.transposed ? conv_transpose2d(a, b, Tensor(), l.p) : conv2d(a, b, Tensor(), l.p);
    };
    Tensor y = run(x, w);
    ASSERT_EQ(y.shape(), ys);
    EXPECT_LT(rel_error_vec(y, ref), 1e-13);
    EXPECT_LT(rel_error_vec(run(x.to(DType::Float32), w.to(DType::Float32)), ref), 1e-5);
    Tensor gy = randn64(ys, seed++, false);
    auto ref_gw = l.transposed ? ref_conv_transpose2d_weight_grad(x, gy, l.w, l.p) : ref_conv2d_weight_grad(x, gy, l.w, l.p);
    auto weight_grad = [&](const Tensor& a, const Tensor& b) {
      return l.transposed ? conv_transpose2d_weight_grad(a, b, l.w, l.p) : conv2d_weight_grad(a, b, l.w, l.p);
    };
    EXPECT_LT(rel_error_vec(weight_grad(x, gy), ref_gw), 1e-13);
    EXPECT_LT(rel_error_vec(weight_grad(x.to(DType::Float32), gy.to(DType::Float32)), ref_gw), 1e-5);
    // The input gradient through the adjoint identity <gy, f(x)> = <f^T(gy), x>, and against
    // the float64 one in float32.
    Tensor xg = x.detach().requires_grad_();
    Tensor gx = grad({run(xg, w)}, {xg}, {gy})[0];
    ASSERT_EQ(gx.shape(), x.shape());
    expect_adjoint(gy, ref, gx, x);
    Tensor xg32 = x.detach().to(DType::Float32).requires_grad_();
    Tensor gx32 = grad({run(xg32, w.to(DType::Float32))}, {xg32}, {gy.to(DType::Float32)})[0];
    EXPECT_LT(rel_error(gx32, gx), 1e-5);
    unsetenv("GAN_CONV");
  }
}

TEST(Conv2d, FourByFourStrideTwoWithManyChannelsGradcheck) {
  // Finite differences through the Winograd path, input and weight of both ops.
  const Conv2dParams s2p1 = Conv2dParams::make(2, 1);
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), s2p1); },
                   (std::vector<Tensor>{randn64({2, 16, 6, 4}, 131), randn64({16, 16, 4, 4}, 132)}));
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return conv_transpose2d(in[0], in[1], Tensor(), s2p1); },
                   (std::vector<Tensor>{randn64({2, 16, 2, 3}, 133), randn64({16, 16, 4, 4}, 134)}));
}

// ---------------- hand-computed cases ----------------

TEST(Conv2d, HandComputedTinyCase) {
  // x = [[1 2 3] [4 5 6] [7 8 9]], w = [[1 2] [3 4]], bias 0.5, stride 1, no padding:
  // y[0,0] = 1 + 4 + 12 + 20, y[0,1] = 2 + 6 + 15 + 24, y[1,0] = 4 + 10 + 21 + 32, y[1,1] = 5 + 12 + 24 + 36.
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor b = Tensor::from_vector(std::vector<double>{0.5}, {1});
  Tensor y = conv2d(x, w, b, Conv2dParams::make(1, 0));
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  expect_close(y, {37.5, 47.5, 67.5, 77.5}, 1e-12);
  // Padding 1, stride 2: outputs at input rows/cols -1 and 1; the corner sees only x[0,0] * w[1,1].
  // y[0,0] = x[0,0] w[1,1] = 1*4, y[0,1] = x[0,1] w[1,0] + x[0,2] w[1,1] = 2*3 + 3*4,
  // y[1,0] = x[1,0] w[0,1] + x[2,0] w[1,1] = 4*2 + 7*4, y[1,1] = 5*1 + 6*2 + 8*3 + 9*4.
  Tensor y2 = conv2d(x, w, Tensor(), Conv2dParams::make(2, 1));
  expect_close(y2, {4, 18, 36, 77}, 1e-12);
}

TEST(ConvTranspose2d, HandComputedTinyCases) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor w = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 1, 2, 2});
  // Stride 2: each input pixel stamps x * w onto its own 2x2 block.
  expect_close(conv_transpose2d(x, w, Tensor(), Conv2dParams::make(2, 0)),
               {1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16}, 1e-12);
  // Stride 1: overlapping stamps add up (the full 2-D convolution of x with w).
  expect_close(conv_transpose2d(x, w, Tensor(), Conv2dParams::make(1, 0)), {1, 4, 4, 6, 20, 16, 9, 24, 16}, 1e-12);
}

TEST(Conv2dWeightGrad, HandComputedTinyCase) {
  // dw[i, j] = sum_{oh, ow} gy[oh, ow] x[oh + i, ow + j] with x = 1..9 (3x3) and gy = [[1 0] [0 -2]]:
  // dw[i, j] = x[i, j] - 2 x[i + 1, j + 1].
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor gy = Tensor::from_vector(std::vector<double>{1, 0, 0, -2}, {1, 1, 2, 2});
  expect_close(conv2d_weight_grad(x, gy, {1, 1, 2, 2}, Conv2dParams::make(1, 0)),
               {1 - 2 * 5, 2 - 2 * 6, 4 - 2 * 8, 5 - 2 * 9}, 1e-12);
}

// ---------------- first derivatives ----------------

TEST(Conv2d, GradcheckInputWeightBias) {
  for (const auto& c : {Case{"3x3 s2 p1 odd input", {2, 2, 5, 6}, {3, 2, 3, 3}, params(2, 2, 1, 1)},
                        Case{"2x3 s(1,2) p(1,0)", {2, 3, 4, 7}, {2, 3, 2, 3}, params(1, 2, 1, 0)},
                        Case{"1x1", {2, 3, 3, 2}, {2, 3, 1, 1}, params(1, 1, 0, 0)}}) {
    SCOPED_TRACE(c.name);
    Tensor x = randn64(c.x, 11), w = randn64(c.w, 12), b = randn64({c.w[0]}, 13);
    Conv2dParams p = c.p;
    EXPECT_GRADCHECK([p](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], p); },
                     (std::vector<Tensor>{x, w, b}));
  }
}

TEST(ConvTranspose2d, GradcheckInputWeightBias) {
  for (const auto& c : {Case{"3x3 s2 p1 op1", {2, 2, 3, 4}, {2, 3, 3, 3}, params(2, 2, 1, 1, 1, 1)},
                        Case{"4x4 s2 p1", {2, 3, 3, 2}, {3, 2, 4, 4}, params(2, 2, 1, 1)},
                        Case{"3x2 s(3,1) p(1,0) op(2,0)", {2, 2, 2, 3}, {2, 2, 3, 2}, params(3, 1, 1, 0, 2, 0)}}) {
    SCOPED_TRACE(c.name);
    Tensor x = randn64(c.x, 21), w = randn64(c.w, 22), b = randn64({c.w[1]}, 23);
    Conv2dParams p = c.p;
    EXPECT_GRADCHECK([p](const std::vector<Tensor>& in) { return conv_transpose2d(in[0], in[1], in[2], p); },
                     (std::vector<Tensor>{x, w, b}));
  }
}

TEST(Conv2dWeightGrad, GradcheckInputAndOutputGradient) {
  Conv2dParams p = params(2, 2, 1, 1);
  Shape ws{3, 2, 3, 3};
  Tensor x = randn64({2, 2, 6, 5}, 31), gy = randn64({2, 3, 3, 3}, 32);  // (6 + 2 - 3) / 2 + 1 = 3
  EXPECT_GRADCHECK(([p, ws](const std::vector<Tensor>& in) { return conv2d_weight_grad(in[0], in[1], ws, p); }),
                   (std::vector<Tensor>{x, gy}));
}

TEST(ConvTranspose2dWeightGrad, GradcheckInputAndOutputGradient) {
  Conv2dParams p = params(2, 2, 1, 1, 1, 0);
  Shape ws{2, 3, 3, 3};
  Tensor x = randn64({2, 2, 3, 4}, 41), gy = randn64({2, 3, 6, 7}, 42);  // (3-1)2 - 2 + 3 + 1, (4-1)2 - 2 + 3
  EXPECT_GRADCHECK(([p, ws](const std::vector<Tensor>& in) { return conv_transpose2d_weight_grad(in[0], in[1], ws, p); }),
                   (std::vector<Tensor>{x, gy}));
}

TEST(Conv2d, BiasGradientIsSumOverBatchAndSpace) {
  Tensor x = randn64({3, 2, 5, 4}, 51, false), w = randn64({4, 2, 3, 3}, 52, false), b = randn64({4}, 53);
  Tensor y = conv2d(x, w, b, Conv2dParams::make(1, 1));
  Tensor g = randn64(y.shape(), 54, false);
  Tensor gb = grad({y}, {b}, {g})[0];
  auto gv = g.to_double_vector();
  std::vector<double> expected(4, 0.0);
  for (size_t i = 0; i < gv.size(); ++i) expected[(i / (5 * 4)) % 4] += gv[i];
  expect_close(gb, expected, 1e-12);
}

// ---------------- second derivatives ----------------

TEST(Conv2d, GradgradcheckInputAndWeight) {
  Conv2dParams p = params(2, 1, 1, 0);
  Tensor x = randn64({2, 2, 5, 4}, 61), w = randn64({3, 2, 3, 2}, 62), b = randn64({3}, 63);
  EXPECT_GRADGRADCHECK([p](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], p); },
                       (std::vector<Tensor>{x, w, b}));
}

TEST(ConvTranspose2d, GradgradcheckInputAndWeight) {
  Conv2dParams p = params(2, 2, 1, 1, 1, 0);
  Tensor x = randn64({2, 2, 3, 3}, 71), w = randn64({2, 3, 3, 3}, 72), b = randn64({3}, 73);
  EXPECT_GRADGRADCHECK([p](const std::vector<Tensor>& in) { return conv_transpose2d(in[0], in[1], in[2], p); },
                       (std::vector<Tensor>{x, w, b}));
}

TEST(ConvWeightGrad, GradgradcheckBothOps) {
  Conv2dParams p = params(2, 2, 1, 1);
  Tensor x = randn64({2, 2, 5, 5}, 81), gy = randn64({2, 2, 3, 3}, 82);
  EXPECT_GRADGRADCHECK(
      [p](const std::vector<Tensor>& in) { return conv2d_weight_grad(in[0], in[1], {2, 2, 3, 3}, p); },
      (std::vector<Tensor>{x, gy}));
  Tensor xt = randn64({2, 2, 2, 3}, 83), gyt = randn64({2, 2, 4, 6}, 84);  // (2-1)2-2+4, (3-1)2-2+4
  EXPECT_GRADGRADCHECK(
      [p](const std::vector<Tensor>& in) { return conv_transpose2d_weight_grad(in[0], in[1], {2, 2, 4, 4}, p); },
      (std::vector<Tensor>{xt, gyt}));
}

TEST(Conv2d, GradientPenaltyThroughTwoLayersMatchesFiniteDifferences) {
  // A WGAN-GP critic in miniature: D(x) = sum(v * conv2d(leaky_relu(conv2d(x, w1) + b1), w2)),
  // penalty(w1, b1, w2) = sum over samples of (||dD/dx||^2). The penalty's gradient in the weights
  // needs the second derivative of both convolutions.
  Tensor x = randn64({2, 2, 6, 6}, 91, false);
  Tensor w1 = randn64({3, 2, 4, 4}, 92), b1 = randn64({3}, 93), w2 = randn64({2, 3, 3, 3}, 94);
  Tensor v = randn64({2, 2, 1, 1}, 95, false);
  auto penalty = [x, v](const std::vector<Tensor>& in) {
    // Finite differences evaluate under no-grad; dD/dx still needs a graph to be taken at all.
    const bool outer = GradMode::enabled();
    GradModeGuard on(true);
    Tensor xi = x.detach().requires_grad_();
    Tensor h = leaky_relu(conv2d(xi, in[0], in[1], Conv2dParams::make(2, 1)), 0.2);  // 3x3
    Tensor d = sum(conv2d(h, in[2], Tensor(), Conv2dParams::make(1, 0)) * v);
    Tensor gx = grad({d}, {xi}, {}, /*create_graph=*/outer)[0];
    return sum(square(gx));
  };
  EXPECT_GRADCHECK(penalty, (std::vector<Tensor>{w1, b1, w2}));
}

// ---------------- DCGAN layer shapes at small channel counts ----------------

TEST(Conv2d, DcganLayerConfigurations) {
  const Conv2dParams s2p1 = Conv2dParams::make(2, 1), s1p0 = Conv2dParams::make(1, 0);
  // Generator: z[N, nz, 1, 1] -> k4 s1 p0 -> 4x4 -> k4 s2 p1 -> 8x8 -> k4 s2 p1 -> 16x16.
  Tensor z = randn64({3, 5, 1, 1}, 101), g1 = randn64({5, 4, 4, 4}, 102), g2 = randn64({4, 3, 4, 4}, 103),
         g3 = randn64({3, 1, 4, 4}, 104);
  Tensor h1 = conv_transpose2d(z, g1, Tensor(), s1p0);
  Tensor h2 = conv_transpose2d(h1, g2, Tensor(), s2p1);
  Tensor img = conv_transpose2d(h2, g3, Tensor(), s2p1);
  EXPECT_EQ(h1.shape(), (Shape{3, 4, 4, 4}));
  EXPECT_EQ(h2.shape(), (Shape{3, 3, 8, 8}));
  EXPECT_EQ(img.shape(), (Shape{3, 1, 16, 16}));
  Shape s;
  EXPECT_LT(rel_error_vec(h1, ref_conv_transpose2d(z, g1, Tensor(), s1p0, &s)), 1e-13);
  EXPECT_LT(rel_error_vec(h2, ref_conv_transpose2d(h1, g2, Tensor(), s2p1, &s)), 1e-13);
  // Discriminator: 16x16 -> k4 s2 p1 -> 8x8 -> k4 s2 p1 -> 4x4 -> k4 s1 p0 -> 1x1.
  Tensor d1 = randn64({3, 1, 4, 4}, 105), d2 = randn64({4, 3, 4, 4}, 106), d3 = randn64({1, 4, 4, 4}, 107);
  Tensor a1 = conv2d(img, d1, Tensor(), s2p1);
  Tensor a2 = conv2d(a1, d2, Tensor(), s2p1);
  Tensor logit = conv2d(a2, d3, Tensor(), s1p0);
  EXPECT_EQ(a1.shape(), (Shape{3, 3, 8, 8}));
  EXPECT_EQ(a2.shape(), (Shape{3, 4, 4, 4}));
  EXPECT_EQ(logit.shape(), (Shape{3, 1, 1, 1}));
  EXPECT_LT(rel_error_vec(a2, ref_conv2d(a1, d2, Tensor(), s2p1, &s)), 1e-13);
  EXPECT_LT(rel_error_vec(logit, ref_conv2d(a2, d3, Tensor(), s1p0, &s)), 1e-13);

  // Each layer's gradients on its own, at these shapes.
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return conv_transpose2d(in[0], in[1], Tensor(), s1p0); },
                   (std::vector<Tensor>{randn64({2, 5, 1, 1}, 108), randn64({5, 2, 4, 4}, 109)}));
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return conv_transpose2d(in[0], in[1], Tensor(), s2p1); },
                   (std::vector<Tensor>{randn64({2, 3, 4, 4}, 110), randn64({3, 2, 4, 4}, 111)}));
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), s2p1); },
                   (std::vector<Tensor>{randn64({2, 2, 8, 8}, 112), randn64({3, 2, 4, 4}, 113)}));
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), s1p0); },
                   (std::vector<Tensor>{randn64({2, 3, 4, 4}, 114), randn64({1, 3, 4, 4}, 115)}));
}

TEST(Conv2d, Float32GradientsAgreeWithFloat64) {
  Conv2dParams p = Conv2dParams::make(2, 1);
  Tensor x = randn64({4, 3, 9, 8}, 121), w = randn64({5, 3, 4, 4}, 122), b = randn64({5}, 123);
  Tensor y = conv2d(x, w, b, p);
  Tensor g = randn64(y.shape(), 124, false);
  auto g64 = grad({y}, {x, w, b}, {g});
  Tensor x32 = x.detach().to(DType::Float32).requires_grad_(), w32 = w.detach().to(DType::Float32).requires_grad_(),
         b32 = b.detach().to(DType::Float32).requires_grad_();
  auto g32 = grad({conv2d(x32, w32, b32, p)}, {x32, w32, b32}, {g.to(DType::Float32)});
  for (int i = 0; i < 3; ++i) EXPECT_LT(rel_error(g32[i], g64[i]), 1e-5) << "input " << i;
}

// ---------------- errors ----------------

TEST(Conv2d, ErrorsNameTheOpAndShapes) {
  Tensor x = randn64({2, 3, 8, 8}, 1, false), w = randn64({4, 3, 3, 3}, 2, false);
  Conv2dParams p = Conv2dParams::make(1, 1);
  expect_error([&] { conv2d(randn64({3, 8, 8}, 3, false), w, Tensor(), p); }, {"conv2d", "4-D", "[3, 8, 8]"});
  expect_error([&] { conv2d(x, randn64({4, 3, 3}, 3, false), Tensor(), p); }, {"conv2d", "weight", "[4, 3, 3]"});
  expect_error([&] { conv2d(x, randn64({4, 2, 3, 3}, 3, false), Tensor(), p); },
               {"conv2d", "[2, 3, 8, 8]", "[4, 2, 3, 3]", "channels"});
  expect_error([&] { conv2d(x, w, randn64({3}, 3, false), p); }, {"conv2d", "bias", "[3]", "[4, 3, 3, 3]"});
  expect_error([&] { conv2d(randn64({2, 3, 2, 2}, 3, false), randn64({4, 3, 5, 5}, 4, false), Tensor(), p); },
               {"conv2d", "larger than the padded input", "[2, 3, 2, 2]", "[4, 3, 5, 5]"});
  expect_error([&] { conv2d(x, w, Tensor(), Conv2dParams::make(0, 1)); }, {"conv2d", "stride", "(0, 0)"});
  expect_error([&] { conv2d(x, w, Tensor(), params(1, -1, 1, 1)); }, {"conv2d", "stride", "(1, -1)"});
  expect_error([&] { conv2d(x, w, Tensor(), params(1, 1, -1, 0)); }, {"conv2d", "padding", "(-1, 0)"});
  expect_error([&] { conv2d(x, w, Tensor(), params(2, 2, 1, 1, 1, 1)); }, {"conv2d", "output_padding"});
  expect_error([&] { conv2d(x.to(DType::Float32), w, Tensor(), p); }, {"conv2d", "float32", "float64"});
}

TEST(ConvTranspose2d, ErrorsNameTheOpAndShapes) {
  Tensor x = randn64({2, 3, 4, 4}, 1, false), w = randn64({3, 5, 4, 4}, 2, false);
  Conv2dParams p = Conv2dParams::make(2, 1);
  expect_error([&] { conv_transpose2d(randn64({2, 3, 4}, 3, false), w, Tensor(), p); },
               {"conv_transpose2d", "4-D", "[2, 3, 4]"});
  expect_error([&] { conv_transpose2d(x, randn64({5, 3, 4, 4}, 3, false), Tensor(), p); },
               {"conv_transpose2d", "[2, 3, 4, 4]", "[5, 3, 4, 4]", "channels"});
  expect_error([&] { conv_transpose2d(x, w, randn64({3}, 3, false), p); }, {"conv_transpose2d", "bias", "[3]"});
  expect_error([&] { conv_transpose2d(x, w, Tensor(), params(2, 2, 1, 1, 2, 0)); },
               {"conv_transpose2d", "output_padding", "(2, 0)", "stride (2, 2)"});
  expect_error([&] { conv_transpose2d(x, w, Tensor(), params(1, 1, 0, 0, 1, 0)); },
               {"conv_transpose2d", "output_padding"});
  expect_error([&] { conv_transpose2d(x, w, Tensor(), params(0, 2, 1, 1)); }, {"conv_transpose2d", "stride"});
  // (1 - 1) 1 - 2 * 3 + 2 = -4: nothing left of the output.
  expect_error([&] { conv_transpose2d(randn64({1, 3, 1, 1}, 3, false), randn64({3, 2, 2, 2}, 4, false), Tensor(),
                                      Conv2dParams::make(1, 3)); },
               {"conv_transpose2d", "not positive", "[1, 3, 1, 1]", "[3, 2, 2, 2]"});
  expect_error([&] { conv_transpose2d(x, w.to(DType::Float32), Tensor(), p); }, {"conv_transpose2d", "float"});
}

TEST(ConvWeightGrad, ErrorsNameTheOpAndShapes) {
  Tensor x = randn64({2, 3, 8, 8}, 1, false), gy = randn64({2, 4, 4, 4}, 2, false);
  Conv2dParams p = Conv2dParams::make(2, 1);
  EXPECT_NO_THROW(conv2d_weight_grad(x, gy, {4, 3, 4, 4}, p));
  expect_error([&] { conv2d_weight_grad(x, gy, {4, 3, 4}, p); }, {"conv2d_weight_grad", "[4, 3, 4]"});
  expect_error([&] { conv2d_weight_grad(x, gy, {5, 3, 4, 4}, p); },
               {"conv2d_weight_grad", "output gradient", "[2, 4, 4, 4]", "should be [2, 5, 4, 4]"});
  expect_error([&] { conv2d_weight_grad(x, gy, {4, 2, 4, 4}, p); }, {"conv2d_weight_grad", "channels"});
  expect_error([&] { conv2d_weight_grad(x, randn64({2, 4, 5, 4}, 3, false), {4, 3, 4, 4}, p); },
               {"conv2d_weight_grad", "[2, 4, 5, 4]", "should be [2, 4, 4, 4]"});
  Tensor xt = randn64({2, 4, 4, 4}, 4, false), gyt = randn64({2, 3, 8, 8}, 5, false);
  EXPECT_NO_THROW(conv_transpose2d_weight_grad(xt, gyt, {4, 3, 4, 4}, p));
  expect_error([&] { conv_transpose2d_weight_grad(xt, randn64({2, 3, 9, 8}, 6, false), {4, 3, 4, 4}, p); },
               {"conv_transpose2d_weight_grad", "[2, 3, 9, 8]", "should be [2, 3, 8, 8]"});
  expect_error([&] { conv_transpose2d_weight_grad(xt, gyt, {3, 3, 4, 4}, p); },
               {"conv_transpose2d_weight_grad", "channels"});
  expect_error([&] { conv_transpose2d_weight_grad(xt, gyt.to(DType::Float32), {4, 3, 4, 4}, p); },
               {"conv_transpose2d_weight_grad", "float"});
}
