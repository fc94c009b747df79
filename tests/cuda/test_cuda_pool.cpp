// CUDA pooling and bilinear-resize primitives against the CPU backend on random odd shapes (some
// larger than one grid pass), both dtypes, outputs NaN-poisoned before each run so an unwritten
// element fails. The CPU backend is checked against index loops in tests/test_pool.cpp. Also the
// ops' gradients through autograd, and pytorch-fid's InceptionV3 on the GPU against the fixture.
// Skipped, saying why, where no GPU is visible.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "engine/backend/pool.h"
#include "engine/cuda/kernel_select.h"
#include "engine/ops/ops.h"
#include "models/eval/inception.h"
#include "tests/cuda/conv_reference.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/inception_pattern.h"

using namespace gan;
using gan::test::rel_err;

namespace {

Tensor random(const Shape& s, DType dt, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(s, &g, dt);
}

Tensor poisoned(const Shape& s, DType dt) { return Tensor::full(s, NAN, dt).to(Device::cuda(0)); }

double tol(DType dt) { return dt == DType::Float32 ? 1e-5 : 1e-12; }

struct Case {
  int64_t n, c, h, w;
  Pool2dParams p;
};

std::vector<Case> cases() {
  std::vector<Case> v = {
      {2, 3, 35, 35, Pool2dParams::make(3, 1, 1, false)},  // the FID blocks' branch pool
      {2, 64, 147, 147, Pool2dParams::make(3, 2)},         // Inception's first max pool: several grid passes
      {3, 5, 17, 17, Pool2dParams::make(3, 1, 1, true)},
  };
  std::mt19937_64 r(3);
  auto pick = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(r() % static_cast<uint64_t>(hi - lo + 1)); };
  for (int i = 0; i < 10; ++i) {
    Case c;
    c.p.kernel_h = pick(1, 5);
    c.p.kernel_w = pick(1, 5);
    c.p.stride_h = pick(1, 3);
    c.p.stride_w = pick(1, 3);
    c.p.pad_h = pick(0, c.p.kernel_h / 2);
    c.p.pad_w = pick(0, c.p.kernel_w / 2);
    c.p.count_include_pad = i % 2 == 0;
    c.n = pick(1, 4);
    c.c = pick(1, 7);
    c.h = c.p.kernel_h + pick(0, 30);
    c.w = c.p.kernel_w + pick(0, 30);
    v.push_back(c);
  }
  return v;
}

std::string case_str(const Case& c) {
  return std::to_string(c.n) + "x" + std::to_string(c.c) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) +
         " k" + std::to_string(c.p.kernel_h) + "x" + std::to_string(c.p.kernel_w) + " s" +
         std::to_string(c.p.stride_h) + "x" + std::to_string(c.p.stride_w) + " p" + std::to_string(c.p.pad_h) + "x" +
         std::to_string(c.p.pad_w);
}

}  // namespace

TEST(CudaPool, PrimitivesMatchCpuOnRandomShapes) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 10;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Case& c : cases()) {
      SCOPED_TRACE(case_str(c) + (dt == DType::Float32 ? " float32" : " float64"));
      const Shape in{c.n, c.c, c.h, c.w};
      const Shape out{c.n, c.c, (c.h + 2 * c.p.pad_h - c.p.kernel_h) / c.p.stride_h + 1,
                      (c.w + 2 * c.p.pad_w - c.p.kernel_w) / c.p.stride_w + 1};
      Tensor x = random(in, dt, seed++), g = random(out, dt, seed++);
      Tensor xd = x.to(Device::cuda(0)), gd = g.to(Device::cuda(0));
      auto check = [&](const char* what, const Shape& s, auto cpu_call, auto cuda_call) {
        Tensor a = Tensor::empty(s, dt), b = poisoned(s, dt);
        cpu_call(a);
        cuda_call(b);
        EXPECT_LT(rel_err(b.to_double_vector(), a.to_double_vector()), tol(dt)) << what;
      };
      check("max_pool2d_gather", out, [&](Tensor& o) { cpu::max_pool2d_gather(x, x, c.p, o); },
            [&](Tensor& o) { cuda::max_pool2d_gather(xd, xd, c.p, o); });
      check("max_pool2d_scatter", in, [&](Tensor& o) { cpu::max_pool2d_scatter(x, g, c.p, o); },
            [&](Tensor& o) { cuda::max_pool2d_scatter(xd, gd, c.p, o); });
      check("avg_pool2d", out, [&](Tensor& o) { cpu::avg_pool2d(x, c.p, o); },
            [&](Tensor& o) { cuda::avg_pool2d(xd, c.p, o); });
      check("avg_pool2d_backward", in, [&](Tensor& o) { cpu::avg_pool2d_backward(g, c.p, o); },
            [&](Tensor& o) { cuda::avg_pool2d_backward(gd, c.p, o); });
      // Resize from this input to the pool's output size and to a larger odd one.
      for (const Shape& rs : {out, Shape{c.n, c.c, 2 * c.h + 3, c.w + 7}}) {
        Tensor gr = random(rs, dt, seed++), grd = gr.to(Device::cuda(0));
        check("resize_bilinear", rs, [&](Tensor& o) { cpu::resize_bilinear(x, o); },
              [&](Tensor& o) { cuda::resize_bilinear(xd, o); });
        check("resize_bilinear_backward", in, [&](Tensor& o) { cpu::resize_bilinear_backward(gr, o); },
              [&](Tensor& o) { cuda::resize_bilinear_backward(grd, o); });
      }
    }
}

TEST(CudaPool, AutogradGradientsMatchCpu) {
  SKIP_WITHOUT_GPU();
  Tensor x = random({2, 3, 19, 23}, DType::Float32, 77);
  auto grads = [](const Tensor& t) {
    Tensor v = t.detach().requires_grad_();
    Tensor y = sum(square(max_pool2d(v, 3, 2, 1))) + sum(square(avg_pool2d(v, 3, 1, 1, false))) +
               sum(square(resize_bilinear(v, 31, 11)));
    return grad({y}, {v})[0];
  };
  EXPECT_LT(rel_err(grads(x.to(Device::cuda(0))).to_double_vector(), grads(x).to_double_vector()), 1e-5);
}

// pytorch-fid's network on the GPU: the fixture's float64 features and logits (what the CPU test
// checks too), from the same closed-form weights and images.
TEST(CudaInception, MatchesPytorchFidOnPatternWeights) {
  SKIP_WITHOUT_GPU();
  const auto ref = test::inception_fixture();
  models::eval::InceptionV3 net(test::inception_pattern_weights(), "pattern weights", Device::cuda(0));
  NoGradGuard no_grad;
  auto out = net.forward(test::inception_pattern_rgb().to(Device::cuda(0)));
  const double ef = rel_err(out.features.to_double_vector(), ref.get("rgb.features").to_tensor().to_double_vector());
  const double el = rel_err(out.logits.to_double_vector(), ref.get("rgb.logits").to_tensor().to_double_vector());
  std::cout << "[ inception ] CUDA (" << (cuda::allow_tf32() ? "TF32 allowed" : "strict FP32")
            << "): features rel err " << ef << ", logits rel err " << el << "\n";
  // TF32 convolutions round their inputs to 10 mantissa bits: 1e-3 is the suite's bound for them.
  const double bound = cuda::allow_tf32() ? 1e-3 : 1e-4;
  EXPECT_LT(ef, bound);
  EXPECT_LT(el, bound);
}
