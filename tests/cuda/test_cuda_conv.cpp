// CUDA convolution and batch-norm primitives, hand-written and cuDNN paths, against naive float64
// loops (tests/cuda/conv_reference.h). Outputs are NaN-poisoned before each run, so an element a
// kernel forgets to write fails the comparison. Skipped, saying why, where no GPU is visible.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend/conv.h"
#include "engine/backend/norm.h"
#include "engine/core/tensor.h"
#include "engine/ops/ops.h"
#include "engine/cuda/kernel_select.h"
#include "kernels/batchnorm.cuh"
#include "kernels/conv.cuh"
#include "tests/cuda/conv_reference.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/cuda/kernel_choice.h"

using namespace gan;
using gan::cuda::KernelImpl;
using gan::cuda::OpFamily;
using gan::test::conv_out;
using gan::test::ImplScope;
using gan::test::impls;
using gan::test::rel_err;
using kernels::Conv2dShape;

namespace {


// Random values, already rounded to `dt`, so the float64 reference sees exactly what the GPU sees.
std::vector<double> random_values(int64_t n, DType dt, uint64_t seed, double scale = 1.0, double offset = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& e : v) {
    e = d(rng) * scale + offset;
    if (dt == DType::Float32) e = static_cast<float>(e);
  }
  return v;
}

Tensor on_gpu(const std::vector<double>& v, const Shape& s, DType dt) {
  return Tensor::from_vector(v, s).to(dt).to(Device::cuda(0));
}

Tensor poisoned(const Shape& s, DType dt) { return Tensor::full(s, NAN, dt).to(Device::cuda(0)); }

double tolerance(DType dt) {
  if (dt == DType::Float64) return 1e-12;
  return cuda::allow_tf32() ? 1e-3 : 1e-5;
}

// Turns TF32 on for the scope of a test.
struct Tf32Scope {
  bool before = cuda::allow_tf32();
  Tf32Scope() { cuda::set_allow_tf32(true); }
  ~Tf32Scope() { cuda::set_allow_tf32(before); }
};

std::string describe(const Conv2dShape& s) {
  std::ostringstream os;
  os << "x[" << s.N << "," << s.C << "," << s.H << "," << s.W << "] w[" << s.K << "," << s.C << "," << s.R << ","
     << s.S << "] y[" << s.N << "," << s.K << "," << s.P << "," << s.Q << "] stride " << s.stride_h << "x"
     << s.stride_w << " pad " << s.pad_h << "x" << s.pad_w;
  return os.str();
}

Conv2dShape make_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t stride,
                       int64_t pad, int64_t out_pad = 0) {
  Conv2dShape s;
  s.N = N, s.C = C, s.H = H, s.W = W, s.K = K, s.R = R, s.S = S;
  s.stride_h = s.stride_w = stride, s.pad_h = s.pad_w = pad;
  s.P = conv_out(H, R, stride, pad), s.Q = conv_out(W, S, stride, pad);
  s.H += out_pad, s.W += out_pad;  // conv_transpose2d's output_padding: extra rows nothing reads
  return s;
}

// Runs the four primitives on `s` with implementation `impl` and compares them with the loops.
// conv_transpose2d_forward takes dy's place as its input and writes an x-shaped output: the same
// product as backward-data through its own entry point.
void check_conv(const Conv2dShape& s, DType dt, KernelImpl impl, uint64_t seed) {
  SCOPED_TRACE(describe(s) + " " + dtype_name(dt) + " " + cuda::kernel_impl_name(impl));
  ImplScope scope(OpFamily::Conv, impl);
  const Shape xs{s.N, s.C, s.H, s.W}, ws{s.K, s.C, s.R, s.S}, ys{s.N, s.K, s.P, s.Q};
  const auto xv = random_values(numel_of(xs), dt, seed);
  const auto wv = random_values(numel_of(ws), dt, seed + 1);
  const auto dyv = random_values(numel_of(ys), dt, seed + 2);
  Tensor x = on_gpu(xv, xs, dt), w = on_gpu(wv, ws, dt), dy = on_gpu(dyv, ys, dt);
  Tensor y = poisoned(ys, dt), dx = poisoned(xs, dt), dw = poisoned(ws, dt), yt = poisoned(xs, dt);
  Conv2dParams p{s.stride_h, s.stride_w, s.pad_h, s.pad_w, 0, 0};
  cuda::conv2d_forward(x, w, y, p);
  cuda::conv2d_backward_data(dy, w, dx, p);
  cuda::conv2d_backward_weight(x, dy, dw, p);
  cuda::conv_transpose2d_forward(dy, w, yt, p);
  const double tol = tolerance(dt);
  const auto dx_ref = test::ref_conv_backward_data(s, dyv, wv);
  EXPECT_LT(rel_err(y.to_double_vector(), test::ref_conv_forward(s, xv, wv)), tol) << "forward";
  EXPECT_LT(rel_err(dx.to_double_vector(), dx_ref), tol) << "backward-data";
  EXPECT_LT(rel_err(dw.to_double_vector(), test::ref_conv_backward_weight(s, xv, dyv)), tol) << "backward-weight";
  EXPECT_LT(rel_err(yt.to_double_vector(), dx_ref), tol) << "conv_transpose2d forward";
}

// DCGAN layer shapes at reduced channel counts, in the conv2d view. A conv_transpose2d layer
// (Cin -> Cout) appears as the backward-data of a conv2d with x = its output, K = Cin.
std::vector<Conv2dShape> dcgan_shapes() {
  return {
      make_shape(8, 32, 4, 4, 20, 4, 4, 1, 0),     // generator entry: 1x1 noise -> 4x4 (and critic exit)
      make_shape(6, 16, 16, 16, 32, 4, 4, 2, 1),   // k4 s2 p1, 8x8 <-> 16x16
      make_shape(4, 3, 32, 32, 16, 4, 4, 2, 1),    // image <-> first feature maps (3 channels)
      make_shape(5, 48, 4, 4, 1, 4, 4, 1, 0),      // critic's last layer: one output channel
      make_shape(3, 8, 9, 9, 12, 4, 4, 2, 1),      // 9x9 read as 4x4: conv_transpose2d 4 -> 9, output_padding 1
      make_shape(3, 8, 8, 8, 12, 4, 4, 2, 1, 2),   // two rows and columns no output reads (hand only:
                                                   // cuDNN refuses the shape, the hand path runs it)
  };
}

// Random odd shapes (fixed seed): sizes that are not multiples of any tile.
std::vector<Conv2dShape> random_shapes(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(lo + rng() % (hi - lo + 1)); };
  std::vector<Conv2dShape> v;
  while (static_cast<int>(v.size()) < count) {
    const int64_t R = pick(1, 5), S = pick(1, 5), stride = pick(1, 3), pad = pick(0, 2);
    const int64_t H = pick(1, 17), W = pick(1, 17);
    if (H + 2 * pad < R || W + 2 * pad < S) continue;
    v.push_back(make_shape(pick(1, 5), pick(1, 11), H, W, pick(1, 13), R, S, stride, pad));
  }
  return v;
}

TEST(CudaConv, RandomOddShapesMatchNaiveLoops) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 100;
  for (KernelImpl impl : impls())
    for (DType dt : {DType::Float32, DType::Float64})
      for (const auto& s : random_shapes(12, 5)) check_conv(s, dt, impl, seed += 3);
}

TEST(CudaConv, DcganLayerShapesMatchNaiveLoops) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 200;
  for (KernelImpl impl : impls())
    for (DType dt : {DType::Float32, DType::Float64})
      for (const auto& s : dcgan_shapes()) check_conv(s, dt, impl, seed += 3);
}

TEST(CudaConv, LargeTilesAndSplitReductionMatchNaiveLoops) {
  SKIP_WITHOUT_GPU();
  // Enough output pixels and channels for the 128x128 tile; and few blocks with a long
  // reduction, which the hand path splits across blocks (split-K).
  check_conv(make_shape(64, 4, 32, 32, 128, 3, 3, 1, 1), DType::Float32, KernelImpl::Hand, 300);
  check_conv(make_shape(16, 64, 16, 16, 128, 4, 4, 2, 1), DType::Float32, KernelImpl::Hand, 303);
  check_conv(make_shape(16, 64, 16, 16, 128, 4, 4, 2, 1), DType::Float64, KernelImpl::Hand, 306);
}

TEST(CudaConv, Tf32PathsStayWithinTf32Tolerance) {
  SKIP_WITHOUT_GPU();
  Tf32Scope tf32;
  uint64_t seed = 350;
  for (KernelImpl impl : impls()) {
    for (const auto& s : dcgan_shapes()) check_conv(s, DType::Float32, impl, seed += 3);
    for (const auto& s : random_shapes(6, 17)) check_conv(s, DType::Float32, impl, seed += 3);
    check_conv(make_shape(64, 4, 32, 32, 128, 3, 3, 1, 1), DType::Float32, impl, seed += 3);   // 128x128 tiles
    check_conv(make_shape(16, 64, 16, 16, 128, 4, 4, 2, 1), DType::Float32, impl, seed += 3);  // split-K
  }
  // Float64 ignores the switch: still exact to 1e-12.
  check_conv(make_shape(3, 8, 9, 9, 12, 4, 4, 2, 1), DType::Float64, KernelImpl::Hand, 399);
}

TEST(CudaConv, HandKernelsAreDeterministic) {
  SKIP_WITHOUT_GPU();
  ImplScope scope(OpFamily::Conv, KernelImpl::Hand);
  const Conv2dShape s = make_shape(16, 64, 16, 16, 128, 4, 4, 2, 1);
  const Shape xs{s.N, s.C, s.H, s.W}, ys{s.N, s.K, s.P, s.Q}, ws{s.K, s.C, s.R, s.S};
  Tensor x = on_gpu(random_values(numel_of(xs), DType::Float32, 1), xs, DType::Float32);
  Tensor dy = on_gpu(random_values(numel_of(ys), DType::Float32, 2), ys, DType::Float32);
  Conv2dParams p = Conv2dParams::make(2, 1);
  Tensor a = poisoned(ws, DType::Float32), b = poisoned(ws, DType::Float32);
  cuda::conv2d_backward_weight(x, dy, a, p);
  cuda::conv2d_backward_weight(x, dy, b, p);
  const auto av = a.to_float_vector(), bv = b.to_float_vector();
  ASSERT_EQ(av.size(), bv.size());
  EXPECT_EQ(0, std::memcmp(av.data(), bv.data(), av.size() * sizeof(float)));
}

TEST(CudaConv, ShapesTheHandKernelsRefuseRunElsewhereOrSaySo) {
  SKIP_WITHOUT_GPU();
  // Backward-data with stride 5x5 has 25 phases, more than the hand kernel takes.
  const Conv2dShape s = make_shape(2, 3, 23, 23, 4, 5, 5, 5, 0);
  ASSERT_NE(kernels::conv2d_hand_unsupported(kernels::ConvPass::BackwardData, s, 4, 132), nullptr);
  if (cuda::cudnn_built()) {
    // Backward-data runs on cuDNN; verbose mode says so once per op however often it happens.
    std::vector<std::string> said;
    cuda::set_message_sink([&](const std::string& m) { said.push_back(m); });
    cuda::set_verbose(true);
    check_conv(s, DType::Float32, KernelImpl::Hand, 400);
    check_conv(s, DType::Float32, KernelImpl::Hand, 401);
    cuda::set_verbose(false);
    cuda::set_message_sink(nullptr);
    // check_conv ran conv2d_backward_data and conv_transpose2d_forward: one note each, by name.
    ASSERT_EQ(said.size(), 2u);
    EXPECT_NE(said[0].find("conv2d backward-data"), std::string::npos) << said[0];
    EXPECT_NE(said[1].find("conv_transpose2d forward"), std::string::npos) << said[1];
    EXPECT_NE(said[0].find("cudnn"), std::string::npos) << said[0];
    EXPECT_NE(said[0].find("phases"), std::string::npos) << said[0];
  } else {
    ImplScope scope(OpFamily::Conv, KernelImpl::Hand);
    Tensor dy = poisoned({s.N, s.K, s.P, s.Q}, DType::Float32), w = poisoned({s.K, s.C, s.R, s.S}, DType::Float32);
    Tensor dx = poisoned({s.N, s.C, s.H, s.W}, DType::Float32);
    try {
      cuda::conv2d_backward_data(dy, w, dx, Conv2dParams::make(5, 0));
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("conv2d backward-data"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("stride (5, 5)"), std::string::npos) << e.what();
    }
  }
}

// ---- batch norm ----

struct BnCase {
  int64_t N, C, S;
  bool affine, track;
};

std::string describe(const BnCase& c) {
  std::ostringstream os;
  os << "[N " << c.N << ", C " << c.C << ", S " << c.S << "]" << (c.affine ? " affine" : "")
     << (c.track ? " running-stats" : "");
  return os.str();
}

Shape bn_shape(const BnCase& c) { return c.S == 1 ? Shape{c.N, c.C} : Shape{c.N, c.C, c.S}; }

void check_bn(const BnCase& bc, DType dt, KernelImpl impl, uint64_t seed) {
  SCOPED_TRACE(describe(bc) + " " + dtype_name(dt) + " " + cuda::kernel_impl_name(impl));
  ImplScope scope(OpFamily::BatchNorm, impl);
  const double momentum = 0.1, eps = 1e-5;
  const Shape xs = bn_shape(bc), cs{bc.C};
  const int64_t n = numel_of(xs);
  // Per-channel offsets far from zero: statistics must not lose the variance to the mean.
  auto xv = random_values(n, dt, seed, 1.5);
  const auto off = random_values(bc.C, DType::Float64, seed + 9, 20.0);
  for (int64_t i = 0; i < n; ++i) {
    xv[i] += off[(i / bc.S) % bc.C];
    if (dt == DType::Float32) xv[i] = static_cast<float>(xv[i]);
  }
  const auto wv = random_values(bc.C, dt, seed + 1, 0.5, 1.0), bv = random_values(bc.C, dt, seed + 2);
  const auto rmv = random_values(bc.C, dt, seed + 3), rvv = random_values(bc.C, dt, seed + 4, 0.2, 1.0);
  const auto dyv = random_values(n, dt, seed + 5);

  Tensor x = on_gpu(xv, xs, dt), dy = on_gpu(dyv, xs, dt);
  Tensor w = bc.affine ? on_gpu(wv, cs, dt) : Tensor(), b = bc.affine ? on_gpu(bv, cs, dt) : Tensor();
  Tensor rm = bc.track ? on_gpu(rmv, cs, dt) : Tensor(), rv = bc.track ? on_gpu(rvv, cs, dt) : Tensor();
  Tensor y = poisoned(xs, dt), mean = poisoned(cs, dt), invstd = poisoned(cs, dt);
  cuda::batch_norm_forward_train(x, w, b, kernels::NormAct{}, y, mean, invstd, rm, rv, momentum, eps);

  const test::BnRef ref = test::ref_bn_train(xv, bc.N, bc.C, bc.S, bc.affine ? wv.data() : nullptr,
                                             bc.affine ? bv.data() : nullptr, bc.track ? rmv : std::vector<double>{},
                                             rvv, momentum, eps);
  const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
  EXPECT_LT(rel_err(y.to_double_vector(), ref.y), tol) << "y";
  EXPECT_LT(rel_err(mean.to_double_vector(), ref.mean), tol) << "save_mean";
  EXPECT_LT(rel_err(invstd.to_double_vector(), ref.invstd), tol) << "save_invstd";
  if (bc.track) {
    EXPECT_LT(rel_err(rm.to_double_vector(), ref.running_mean), tol) << "running_mean";
    EXPECT_LT(rel_err(rv.to_double_vector(), ref.running_var), tol) << "running_var (unbiased)";
  }

  // Backward from the saved statistics, every output wanted.
  const test::BnGradRef g = test::ref_bn_backward(dyv, xv, bc.N, bc.C, bc.S, bc.affine ? wv.data() : nullptr, eps);
  Tensor dx = poisoned(xs, dt), dwt = poisoned(cs, dt), dbt = poisoned(cs, dt);
  cuda::batch_norm_backward(dy, kernels::NormAct{}, Tensor(), x, w, mean, invstd, dx, dwt, dbt);
  EXPECT_LT(rel_err(dx.to_double_vector(), g.dx), dt == DType::Float64 ? 1e-10 : 1e-5) << "dx";
  EXPECT_LT(rel_err(dwt.to_double_vector(), g.dweight), dt == DType::Float64 ? 1e-10 : 1e-5) << "dweight";
  EXPECT_LT(rel_err(dbt.to_double_vector(), g.dbias), dt == DType::Float64 ? 1e-10 : 1e-5) << "dbias";

  // Only some outputs wanted: the others stay undefined and nothing else changes.
  Tensor none, dx2 = poisoned(xs, dt), db2 = poisoned(cs, dt);
  cuda::batch_norm_backward(dy, kernels::NormAct{}, Tensor(), x, w, mean, invstd, none, none, db2);
  EXPECT_LT(rel_err(db2.to_double_vector(), g.dbias), dt == DType::Float64 ? 1e-10 : 1e-5) << "dbias alone";
  cuda::batch_norm_backward(dy, kernels::NormAct{}, Tensor(), x, w, mean, invstd, dx2, none, none);
  EXPECT_LT(rel_err(dx2.to_double_vector(), g.dx), dt == DType::Float64 ? 1e-10 : 1e-5) << "dx alone";

  // Eval with the (original) running statistics.
  Tensor rm0 = on_gpu(rmv, cs, dt), rv0 = on_gpu(rvv, cs, dt), ye = poisoned(xs, dt);
  cuda::batch_norm_forward_eval(x, w, b, rm0, rv0, ye, eps);
  std::vector<double> ye_ref(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = (i / bc.S) % bc.C;
    ye_ref[i] = (xv[i] - rmv[c]) / std::sqrt(rvv[c] + eps) * (bc.affine ? wv[c] : 1.0) + (bc.affine ? bv[c] : 0.0);
  }
  EXPECT_LT(rel_err(ye.to_double_vector(), ye_ref), tol) << "eval";
}

// Shapes covering each kernel strategy: one block per channel with the channel in registers
// (vector and scalar loads), one block per channel reading twice, a channel split over blocks
// (vector and scalar), x[N, C], and the DCGAN 128x512x4x4 case.
std::vector<BnCase> bn_cases() {
  return {
      {16, 24, 16, true, true},    // per channel, cached, 4-wide
      {7, 5, 49, true, true},      // per channel, cached, scalar (S odd)
      {40, 6, 81, false, true},    // per channel, too long for registers
      {32, 4, 1024, true, false},  // split channel, 4-wide
      {64, 3, 961, true, true},    // split channel, scalar
      {64, 37, 1, true, true},     // x[N, C]
      {128, 512, 16, true, true},  // DCGAN discriminator's 4x4 layer
  };
}

TEST(CudaBatchNorm, TrainingEvalAndBackwardMatchNaiveLoops) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 500;
  for (KernelImpl impl : impls())
    for (DType dt : {DType::Float32, DType::Float64})
      for (const auto& c : bn_cases()) check_bn(c, dt, impl, seed += 11);
}

TEST(CudaBatchNorm, HandKernelsAreDeterministic) {
  SKIP_WITHOUT_GPU();
  ImplScope scope(OpFamily::BatchNorm, KernelImpl::Hand);
  const Shape xs{32, 4, 1024}, cs{4};
  Tensor x = on_gpu(random_values(numel_of(xs), DType::Float32, 7, 2.0, 3.0), xs, DType::Float32);
  Tensor dy = on_gpu(random_values(numel_of(xs), DType::Float32, 8), xs, DType::Float32);
  Tensor none;
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    Tensor y = poisoned(xs, DType::Float32), m = poisoned(cs, DType::Float32), is = poisoned(cs, DType::Float32);
    Tensor dx = poisoned(xs, DType::Float32);
    cuda::batch_norm_forward_train(x, none, none, kernels::NormAct{}, y, m, is, none, none, 0.1, 1e-5);
    cuda::batch_norm_backward(dy, kernels::NormAct{}, Tensor(), x, none, m, is, dx, none, none);
    std::vector<float> all = y.to_float_vector(), d = dx.to_float_vector();
    all.insert(all.end(), d.begin(), d.end());
    if (run == 0) first = all;
    else EXPECT_EQ(0, std::memcmp(first.data(), all.data(), all.size() * sizeof(float)));
  }
}

// ---- through the ops: CUDA against the CPU backend ----

// Float32 CPU tensor of N(0, scale^2) values.
Tensor cpu_randn(const Shape& s, uint64_t seed, double scale = 1.0) {
  return Tensor::from_vector(random_values(numel_of(s), DType::Float32, seed, scale), s).to(DType::Float32);
}

double rel(const Tensor& a, const Tensor& b) { return rel_err(a.to_double_vector(), b.to_double_vector()); }

TEST(CudaConvOps, DcganBlocksForwardBackwardMatchCpu) {
  SKIP_WITHOUT_GPU();
  // Generator block: conv_transpose2d k4 s2 p1 (6 -> 5 channels, 5x5 -> 10x10), batch norm in
  // training mode, ReLU. Critic: conv2d k4 s2 p1 (5 -> 7, 10x10 -> 5x5), leaky ReLU, conv2d k4 s1
  // p0 (7 -> 1, 5x5 -> 2x2). Loss: a random weighting of the critic's outputs.
  const Tensor x = cpu_randn({4, 6, 5, 5}, 1), r = cpu_randn({4, 1, 2, 2}, 2);
  const std::vector<Tensor> init = {cpu_randn({6, 5, 4, 4}, 3, 0.2), cpu_randn({5}, 4),      cpu_randn({5}, 5, 0.5),
                                    cpu_randn({5}, 6),              cpu_randn({7, 5, 4, 4}, 7, 0.2),
                                    cpu_randn({7}, 8),              cpu_randn({1, 7, 4, 4}, 9, 0.2)};
  const Conv2dParams s2 = Conv2dParams::make(2, 1), s1 = Conv2dParams::make(1, 0);
  struct Run {
    Tensor loss;
    std::vector<Tensor> params;
    Tensor rm, rv, x;
  };
  auto run = [&](Device dev) {
    Run o;
    for (const Tensor& t : init) o.params.push_back(t.to(dev).detach().requires_grad_());
    o.rm = Tensor::zeros({5}, DType::Float32).to(dev);
    o.rv = Tensor::ones({5}, DType::Float32).to(dev);
    o.x = x.to(dev).detach().requires_grad_();
    const auto& p = o.params;
    Tensor h = conv_transpose2d(o.x, p[0], p[1], s2);
    h = relu(batch_norm(h, p[2], p[3], o.rm, o.rv, /*training=*/true));
    Tensor c = leaky_relu(conv2d(h, p[4], p[5], s2), 0.2);
    Tensor y = conv2d(c, p[6], Tensor(), s1);
    o.loss = sum(mul(y, r.to(dev)));
    o.loss.backward();
    return o;
  };
  const Run ref = run(Device::cpu());
  for (KernelImpl impl : impls()) {
    SCOPED_TRACE(cuda::kernel_impl_name(impl));
    ImplScope conv(OpFamily::Conv, impl);
    cuda::set_kernel_impl(OpFamily::BatchNorm, impl);
    const Run got = run(Device::cuda(0));
    EXPECT_LT(std::abs(got.loss.item() - ref.loss.item()), 1e-5 * (1 + std::abs(ref.loss.item())));
    for (size_t i = 0; i < ref.params.size(); ++i) {
      ASSERT_TRUE(got.params[i].grad().defined()) << "param " << i;
      if (i == 1) {
        // The transposed conv's bias feeds training-mode batch norm, which subtracts the batch
        // mean: its gradient is zero in exact arithmetic, so both sides hold rounding noise only.
        for (double v : got.params[i].grad().to_double_vector()) EXPECT_LT(std::abs(v), 1e-4) << "param 1";
        continue;
      }
      EXPECT_LT(rel(got.params[i].grad(), ref.params[i].grad()), 1e-5) << "param " << i;
    }
    EXPECT_LT(rel(got.x.grad(), ref.x.grad()), 1e-5) << "input";
    EXPECT_LT(rel(got.rm, ref.rm), 1e-5) << "running_mean";
    EXPECT_LT(rel(got.rv, ref.rv), 1e-5) << "running_var";
  }
}

TEST(CudaInstanceNorm, OpForwardBackwardAndSecondDerivativeMatchCpu) {
  SKIP_WITHOUT_GPU();
  // instance_norm is batch_norm on [1, N C, S] (engine/ops/norm.h): many short channels, the shape
  // the per-channel kernel strategy takes. Forward, the gradients of x, weight and bias, and a
  // gradient-penalty style second derivative, CUDA (hand and cuDNN) against the CPU backend.
  struct Case {
    Shape s;
    bool affine;
  };
  const Case cases[] = {{{2, 64, 33, 35}, true}, {{1, 7, 5, 3}, false}, {{3, 256, 16, 16}, true}, {{4, 5, 2, 1}, true}};
  uint64_t seed = 900;
  for (const Case& c : cases) {
    const int64_t C = c.s[1];
    const Tensor x = cpu_randn(c.s, ++seed, 2.0), up = cpu_randn(c.s, ++seed);
    const Tensor w0 = c.affine ? cpu_randn({C}, ++seed, 0.5) : Tensor(), b0 = c.affine ? cpu_randn({C}, ++seed) : Tensor();
    struct Out {
      Tensor y, gx, gw, gb, penalty_gw;
    };
    auto run = [&](Device dev) {
      Out o;
      Tensor xd = x.to(dev).detach().requires_grad_();
      Tensor w = c.affine ? w0.to(dev).detach().requires_grad_() : Tensor();
      Tensor b = c.affine ? b0.to(dev).detach().requires_grad_() : Tensor();
      Tensor y = instance_norm(xd, w, b);
      o.y = y.detach();
      std::vector<Tensor> wrt = {xd};
      if (c.affine) wrt.insert(wrt.end(), {w, b});
      auto g = grad({sum(mul(y, up.to(dev)))}, wrt, {}, /*create_graph=*/c.affine);
      o.gx = g[0].detach();
      if (c.affine) {
        o.gw = g[1].detach();
        o.gb = g[2].detach();
        // d/dw of ||d/dx <y, up>||^2: through batch_norm_backward's rule.
        o.penalty_gw = grad({sum(square(g[0]))}, {w})[0];
      }
      return o;
    };
    const Out ref = run(Device::cpu());
    for (KernelImpl impl : impls()) {
      SCOPED_TRACE(shape_str(c.s) + " " + cuda::kernel_impl_name(impl));
      ImplScope scope(OpFamily::BatchNorm, impl);
      const Out got = run(Device::cuda(0));
      EXPECT_LT(rel(got.y, ref.y), 1e-5) << "y";
      EXPECT_LT(rel(got.gx, ref.gx), 1e-5) << "dx";
      if (c.affine) {
        EXPECT_LT(rel(got.gw, ref.gw), 1e-5) << "dweight";
        EXPECT_LT(rel(got.gb, ref.gb), 1e-5) << "dbias";
        EXPECT_LT(rel(got.penalty_gw, ref.penalty_gw), 1e-4) << "second derivative in weight";
      }
    }
  }
}

TEST(CudaConvTranspose2d, OpMatchesCpuOnGeneratorLayers) {
  SKIP_WITHOUT_GPU();
  // conv_transpose2d through the op (PyTorch weight layout [C_in, C_out, kH, kW], bias, output
  // padding), forward and all three gradients, on each kernel path and in strict FP32 and TF32.
  struct Layer {
    Shape x, w;
    Conv2dParams p;
  };
  const Layer layers[] = {
      {{6, 20, 1, 1}, {20, 12, 4, 4}, Conv2dParams::make(1, 0)},     // noise -> 4x4
      {{5, 16, 4, 4}, {16, 8, 4, 4}, Conv2dParams::make(2, 1)},      // 4x4 -> 8x8
      {{3, 8, 7, 5}, {8, 3, 4, 4}, Conv2dParams::make(2, 1, 1)},     // odd sizes, output_padding 1
      {{2, 5, 6, 6}, {5, 7, 3, 3}, Conv2dParams::make(3, 1, 2)},     // stride 3, output_padding 2
  };
  uint64_t seed = 600;
  for (bool tf32 : {false, true})
    for (KernelImpl impl : impls())
      for (const Layer& l : layers) {
        SCOPED_TRACE(std::string(cuda::kernel_impl_name(impl)) + (tf32 ? " tf32 " : " fp32 ") + shape_str(l.x));
        ImplScope conv(OpFamily::Conv, impl);
        const bool before = cuda::allow_tf32();
        cuda::set_allow_tf32(tf32);
        const Tensor x0 = cpu_randn(l.x, seed++), w0 = cpu_randn(l.w, seed++, 0.3), b0 = cpu_randn({l.w[1]}, seed++);
        std::vector<Tensor> grads[2];
        Tensor outs[2];
        for (int d = 0; d < 2; ++d) {
          const Device dev = d ? Device::cuda(0) : Device::cpu();
          Tensor x = x0.to(dev).detach().requires_grad_(), w = w0.to(dev).detach().requires_grad_();
          Tensor b = b0.to(dev).detach().requires_grad_();
          outs[d] = conv_transpose2d(x, w, b, l.p);
          Tensor r = cpu_randn(outs[d].shape(), 700).to(dev);
          grads[d] = grad({sum(mul(outs[d], r))}, {x, w, b});
        }
        cuda::set_allow_tf32(before);
        const double tol = tf32 ? 1e-3 : 1e-5;
        EXPECT_LT(rel(outs[1], outs[0]), tol) << "forward";
        for (int i = 0; i < 3; ++i) EXPECT_LT(rel(grads[1][i], grads[0][i]), tol) << "gradient " << i;
      }
}

TEST(CudaConvOps, ConvCriticGradientPenaltyMatchesCpu) {
  SKIP_WITHOUT_GPU();
  // WGAN-GP through a convolutional critic: the penalty's weight gradient is a second derivative
  // of conv2d, which runs as convolutions of convolutions on the device.
  const Tensor xi = cpu_randn({5, 3, 8, 8}, 11);
  const std::vector<Tensor> init = {cpu_randn({6, 3, 4, 4}, 12, 0.3), cpu_randn({6}, 13), cpu_randn({1, 6, 4, 4}, 14, 0.3),
                                    cpu_randn({1}, 15)};
  auto run = [&](Device dev) {
    std::vector<Tensor> p;
    for (const Tensor& t : init) p.push_back(t.to(dev).detach().requires_grad_());
    Tensor x = xi.to(dev).detach().requires_grad_();
    Tensor h = leaky_relu(conv2d(x, p[0], p[1], Conv2dParams::make(2, 1)), 0.2);  // 8x8 -> 4x4
    Tensor out = conv2d(h, p[2], p[3], Conv2dParams::make(1, 0));                  // 4x4 -> 1x1
    Tensor g = grad({sum(out)}, {x}, {}, /*create_graph=*/true)[0];
    Tensor gp = gradient_penalty(g, 10.0);
    gp.backward();
    std::vector<Tensor> res{gp};
    for (const Tensor& t : p) res.push_back(t.grad());
    return res;
  };
  const auto ref = run(Device::cpu());
  for (KernelImpl impl : impls()) {
    SCOPED_TRACE(cuda::kernel_impl_name(impl));
    ImplScope conv(OpFamily::Conv, impl);
    const auto got = run(Device::cuda(0));
    EXPECT_LT(rel(got[0], ref[0]), 1e-5) << "penalty";
    for (size_t i = 1; i < ref.size(); ++i) {
      // The first layer's bias only moves leaky_relu's kinks, so the penalty (built from dD/dx)
      // gives it no gradient at all: it must be absent on both devices.
      ASSERT_EQ(ref[i].defined(), got[i].defined()) << "param " << i - 1;
      if (ref[i].defined()) {
        EXPECT_LT(rel(got[i], ref[i]), 1e-5) << "param " << i - 1;
      }
    }
  }
}

}  // namespace
