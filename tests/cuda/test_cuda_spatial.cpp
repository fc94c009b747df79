// The CUDA spatial kernels against the CPU primitives: the same random inputs of random odd shapes
// (and some large enough for several grid-stride passes), the CUDA output poisoned with NaN first
// so an element a kernel forgot to write fails, ||cuda - cpu|| / ||cpu|| < 1e-5 in float32
// (1e-12 in float64); the pure data moves must also agree bit for bit. Then the ops through autograd
// on the device (the colour transforms are composites of other CUDA ops) and the NaN samples bad
// parameters leave. Skips with a visible reason where no GPU is present.
#include <cmath>
#include <functional>
#include <random>
#include <string>

#include "engine/backend/spatial.h"
#include "engine/cuda/memory.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

const Device kCuda = Device::cuda(0);
const DType kF32 = DType::Float32, kF64 = DType::Float64;

double tol(DType dt) { return dt == kF32 ? 1e-5 : 1e-12; }

int64_t pick(std::mt19937_64& r, int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(r); }

Tensor randn_cpu(const Shape& s, uint64_t seed, DType dt) {
  Generator g(seed);
  return Tensor::randn(s, &g, dt);
}

Tensor poisoned(const Shape& s, DType dt) { return Tensor::full(s, NAN, dt, kCuda); }

bool same_values(const Tensor& a, const Tensor& b) { return a.to_double_vector() == b.to_double_vector(); }

Tensor int_params(std::mt19937_64& r, int64_t n, int64_t cols, int64_t lo, int64_t hi, DType dt) {
  std::vector<double> v(static_cast<size_t>(n * std::max<int64_t>(cols, 1)));
  for (double& x : v) x = static_cast<double>(pick(r, lo, hi));
  return cols ? Tensor::from_vector(v, {n, cols}).to(dt) : Tensor::from_vector(v, {n}).to(dt);
}

// Random NCHW shapes with odd extents, plus fixed ones past one grid of threads (a full H100/H200
// grid is about 270k threads) and with 1-wide dims.
std::vector<Shape> image_shapes(std::mt19937_64& r) {
  std::vector<Shape> s = {{1, 1, 1, 1}, {3, 5, 1, 7}, {2, 3, 127, 129}, {5, 7, 67, 131}};
  for (int i = 0; i < 4; ++i) s.push_back({pick(r, 1, 9), pick(r, 1, 9), pick(r, 1, 33), pick(r, 1, 33)});
  return s;
}

// Expects cuda == cpu: within tol(dt) and, where `exact`, value for value.
void expect_parity(const Tensor& got, const Tensor& want, bool exact, const std::string& what) {
  EXPECT_LT(rel_error(got, want), tol(want.dtype())) << what;
  if (exact) {
    EXPECT_TRUE(same_values(got, want)) << what << ": not the same values";
  }
}

std::string name(const char* op, const Shape& s, DType dt, int64_t k) {
  return std::string(op) + " " + shape_str(s) + " k=" + std::to_string(k) + " " + dtype_name(dt);
}

}  // namespace

TEST(CudaSpatial, ShuffleAndUpsampleMatchCpu) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 r(31);
  uint64_t seed = 2100;
  for (DType dt : {kF32, kF64})
    for (Shape s : image_shapes(r)) {
      const int64_t k = pick(r, 1, 3);
      // pixel_shuffle: channels times k^2.
      Shape xs = s;
      xs[1] *= k * k;
      Tensor x = randn_cpu(xs, ++seed, dt);
      Shape ys = {s[0], s[1], s[2] * k, s[3] * k};
      Tensor want = Tensor::empty(ys, dt), got = poisoned(ys, dt);
      cpu::pixel_shuffle(x, k, want);
      cuda::pixel_shuffle(x.to(kCuda), k, got);
      expect_parity(got, want, true, name("pixel_shuffle", xs, dt, k));
      // pixel_unshuffle of a fresh [N, C, H k, W k].
      Tensor y = randn_cpu(ys, ++seed, dt);
      Tensor uw = Tensor::empty(xs, dt), ug = poisoned(xs, dt);
      cpu::pixel_unshuffle(y, k, uw);
      cuda::pixel_unshuffle(y.to(kCuda), k, ug);
      expect_parity(ug, uw, true, name("pixel_unshuffle", ys, dt, k));
      // Nearest upsampling and its block sum (same order of additions on both backends).
      Tensor u = randn_cpu(s, ++seed, dt);
      Tensor up_w = Tensor::empty(ys, dt), up_g = poisoned(ys, dt);
      cpu::upsample_nearest2d(u, k, up_w);
      cuda::upsample_nearest2d(u.to(kCuda), k, up_g);
      expect_parity(up_g, up_w, true, name("upsample_nearest2d", s, dt, k));
      Tensor bw = Tensor::empty(s, dt), bg = poisoned(s, dt);
      cpu::upsample_nearest2d_backward(y, k, bw);
      cuda::upsample_nearest2d_backward(y.to(kCuda), k, bg);
      expect_parity(bg, bw, false, name("upsample_nearest2d_backward", ys, dt, k));
    }
}

TEST(CudaSpatial, ReflectionPadMatchesCpu) {
  SKIP_WITHOUT_GPU();
  // Random pads below each extent on the odd shapes, plus CycleGAN's: pad 3 of 3 x 256 x 256 images
  // (the 7x7 stem) and pad 1 of the 256-channel 64 x 64 residual blocks. Forward and the gather
  // backward add nothing or the same terms in the same order as the CPU: equal value for value.
  std::mt19937_64 r(34);
  uint64_t seed = 2250;
  struct Pads {
    Shape s;
    int64_t l, rr, t, b;
  };
  std::vector<Pads> cases = {{{4, 3, 256, 256}, 3, 3, 3, 3}, {{2, 256, 64, 64}, 1, 1, 1, 1}, {{3, 5, 9, 1}, 0, 0, 8, 2}};
  for (const Shape& s : image_shapes(r))
    cases.push_back({s, pick(r, 0, s[3] - 1), pick(r, 0, s[3] - 1), pick(r, 0, s[2] - 1), pick(r, 0, s[2] - 1)});
  for (DType dt : {kF32, kF64})
    for (const Pads& c : cases) {
      const Shape& s = c.s;
      const Shape ps = {s[0], s[1], s[2] + c.t + c.b, s[3] + c.l + c.rr};
      const std::string at = shape_str(s) + " pads " + std::to_string(c.l) + " " + std::to_string(c.rr) + " " +
                             std::to_string(c.t) + " " + std::to_string(c.b) + " " + dtype_name(dt);
      Tensor x = randn_cpu(s, ++seed, dt);
      Tensor want = Tensor::empty(ps, dt), got = poisoned(ps, dt);
      cpu::reflection_pad2d(x, c.l, c.rr, c.t, c.b, want);
      cuda::reflection_pad2d(x.to(kCuda), c.l, c.rr, c.t, c.b, got);
      expect_parity(got, want, true, "reflection_pad2d " + at);
      Tensor g = randn_cpu(ps, ++seed, dt);
      Tensor bw = Tensor::empty(s, dt), bg = poisoned(s, dt);
      cpu::reflection_pad2d_backward(g, c.l, c.rr, c.t, c.b, bw);
      cuda::reflection_pad2d_backward(g.to(kCuda), c.l, c.rr, c.t, c.b, bg);
      expect_parity(bg, bw, true, "reflection_pad2d_backward " + at);
    }
}

TEST(CudaSpatial, TranslateFlipCutoutMatchCpu) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 r(32);
  uint64_t seed = 2200;
  for (DType dt : {kF32, kF64})
    for (DType pdt : {kF32, kF64})
      for (const Shape& s : image_shapes(r)) {
        Tensor x = randn_cpu(s, ++seed, dt);
        const int64_t reach = std::max(s[2], s[3]) + 2;
        Tensor shifts = int_params(r, s[0], 2, -reach, reach, pdt);
        Tensor want = Tensor::empty(s, dt), got = poisoned(s, dt);
        cpu::translate2d(x, shifts, want);
        cuda::translate2d(x.to(kCuda), shifts.to(kCuda), got);
        expect_parity(got, want, true, name("translate2d", s, dt, 0) + " shifts " + dtype_name(pdt));
        Tensor mask = int_params(r, s[0], 0, 0, 1, pdt);
        got = poisoned(s, dt);
        cpu::flip_horizontal(x, mask, want);
        cuda::flip_horizontal(x.to(kCuda), mask.to(kCuda), got);
        expect_parity(got, want, true, name("flip_horizontal", s, dt, 0));
        const int64_t sh = pick(r, 0, s[2] + 1), sw = pick(r, 0, s[3] + 1);
        Tensor centers = int_params(r, s[0], 2, -3, std::max(s[2], s[3]) + 3, pdt);
        const Shape ms = {s[0], 1, s[2], s[3]};
        Tensor mw = Tensor::empty(ms, dt), mg = poisoned(ms, dt);
        cpu::cutout_mask(centers, sh, sw, mw);
        cuda::cutout_mask(centers.to(kCuda), sh, sw, mg);
        expect_parity(mg, mw, true, name("cutout_mask", ms, dt, sh * 1000 + sw));
      }
}

TEST(CudaSpatial, BadParametersGiveTheCpuPrimitivesNaNSamples) {
  SKIP_WITHOUT_GPU();
  // The CUDA ops never read parameters on the host: a bad one must come out as NaN over its sample,
  // exactly where the CPU primitives (behind the CPU ops' checks) put it.
  const Shape s = {5, 3, 7, 9};
  Tensor x = randn_cpu(s, 2300, kF32);
  for (DType pdt : {kF32, kF64}) {
    Tensor shifts = Tensor::from_vector(std::vector<double>{1, 0, 0.5, 0, 0, NAN, INFINITY, 1, -1e12, 2}, {5, 2}).to(pdt);
    Tensor want = Tensor::empty(s, kF32), got = poisoned(s, kF32);
    cpu::translate2d(x, shifts, want);
    cuda::translate2d(x.to(kCuda), shifts.to(kCuda), got);
    auto a = got.to_double_vector(), b = want.to_double_vector();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_TRUE((std::isnan(a[i]) && std::isnan(b[i])) || a[i] == b[i]) << "translate2d element " << i;
    Tensor mask = Tensor::from_vector(std::vector<double>{1, 0.5, NAN, 0, -1}, {5}).to(pdt);
    got = poisoned(s, kF32);
    cpu::flip_horizontal(x, mask, want);
    cuda::flip_horizontal(x.to(kCuda), mask.to(kCuda), got);
    a = got.to_double_vector(), b = want.to_double_vector();
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_TRUE((std::isnan(a[i]) && std::isnan(b[i])) || a[i] == b[i]) << "flip_horizontal element " << i;
    Tensor centers = Tensor::from_vector(std::vector<double>{1, 1, 2, 0.25, NAN, 0, 0, 3, -INFINITY, 0}, {5, 2}).to(pdt);
    Tensor mw = Tensor::empty({5, 1, 7, 9}, kF32), mg = poisoned({5, 1, 7, 9}, kF32);
    cpu::cutout_mask(centers, 3, 2, mw);
    cuda::cutout_mask(centers.to(kCuda), 3, 2, mg);
    a = mg.to_double_vector(), b = mw.to_double_vector();
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_TRUE((std::isnan(a[i]) && std::isnan(b[i])) || a[i] == b[i]) << "cutout_mask element " << i;
  }
}

TEST(CudaSpatial, OpsAndTheirGradientsMatchCpu) {
  SKIP_WITHOUT_GPU();
  // Each op and the gradient of <op(x), h> on both devices: the backward rules run the adjoint
  // kernels; for the colour transforms the factor's gradient too (their means and broadcasts are
  // other CUDA kernels).
  std::mt19937_64 r(33);
  uint64_t seed = 2400;
  using Op = std::function<Tensor(const Tensor& x, const Tensor& f, const std::vector<Tensor>& params)>;
  for (DType dt : {kF32, kF64}) {
    auto check = [&](const char* what, const Shape& xs, const Op& op, bool grad_f) {
      Tensor x = randn_cpu(xs, ++seed, dt);
      Generator g(++seed);
      Tensor f = Tensor::rand({xs[0]}, &g, 0, 1, dt);
      const int64_t reach = std::max(xs[2], xs[3]) + 2;
      const std::vector<Tensor> params = {int_params(r, xs[0], 2, -reach, reach, dt), int_params(r, xs[0], 0, 0, 1, dt),
                                          int_params(r, xs[0], 2, -2, reach, dt)};
      Tensor outs[2];
      std::vector<Tensor> grads[2];
      for (int d = 0; d < 2; ++d) {
        const Device dev = d ? kCuda : Device::cpu();
        Tensor xd = x.to(dev).requires_grad_(), fd = f.to(dev).requires_grad_();
        std::vector<Tensor> pd;
        for (const Tensor& p : params) pd.push_back(p.to(dev));
        Tensor y = op(xd, fd, pd);
        Tensor h = randn_cpu(y.shape(), seed + 1, dt).to(dev);
        outs[d] = y.detach();
        grads[d] = grad({sum(mul(y, h))}, grad_f ? std::vector<Tensor>{xd, fd} : std::vector<Tensor>{xd});
      }
      const std::string at = std::string(what) + " " + shape_str(xs) + " " + dtype_name(dt);
      EXPECT_LT(rel_error(outs[1], outs[0]), tol(dt)) << at;
      for (size_t i = 0; i < grads[0].size(); ++i)
        EXPECT_LT(rel_error(grads[1][i], grads[0][i]), tol(dt)) << at << " gradient " << i;
    };
    check("pixel_shuffle", {5, 12, 9, 11}, [](const Tensor& x, const Tensor&, const std::vector<Tensor>&) {
      return pixel_shuffle(x, 2);
    }, false);
    check("pixel_unshuffle", {5, 3, 18, 33}, [](const Tensor& x, const Tensor&, const std::vector<Tensor>&) {
      return pixel_unshuffle(x, 3);
    }, false);
    check("upsample_nearest2d", {5, 3, 9, 11}, [](const Tensor& x, const Tensor&, const std::vector<Tensor>&) {
      return upsample_nearest2d(x, 3);
    }, false);
    check("upsample_nearest2d_backward", {5, 3, 18, 22}, [](const Tensor& x, const Tensor&, const std::vector<Tensor>&) {
      return upsample_nearest2d_backward(x, 2);
    }, false);
    check("reflection_pad2d", {5, 3, 9, 11}, [](const Tensor& x, const Tensor&, const std::vector<Tensor>&) {
      return reflection_pad2d(x, 3, 1, 8, 2);
    }, false);
    check("reflection_pad2d_backward", {5, 3, 19, 13}, [](const Tensor& x, const Tensor&, const std::vector<Tensor>&) {
      return reflection_pad2d_backward(x, 3, 1, 8, 2);
    }, false);
    check("translate2d", {7, 3, 17, 23}, [](const Tensor& x, const Tensor&, const std::vector<Tensor>& p) {
      return translate2d(x, p[0]);
    }, false);
    check("flip_horizontal", {7, 3, 17, 23}, [](const Tensor& x, const Tensor&, const std::vector<Tensor>& p) {
      return flip_horizontal(x, p[1]);
    }, false);
    check("cutout", {7, 3, 17, 23}, [](const Tensor& x, const Tensor&, const std::vector<Tensor>& p) {
      return cutout(x, p[2], 9, 5);
    }, false);
    check("adjust_brightness", {7, 3, 17, 23}, [](const Tensor& x, const Tensor& f, const std::vector<Tensor>&) {
      return adjust_brightness(x, f);
    }, true);
    check("adjust_saturation", {7, 3, 17, 23}, [](const Tensor& x, const Tensor& f, const std::vector<Tensor>&) {
      return adjust_saturation(x, f);
    }, true);
    check("adjust_contrast", {7, 3, 17, 23}, [](const Tensor& x, const Tensor& f, const std::vector<Tensor>&) {
      return adjust_contrast(x, f);
    }, true);
  }
}
