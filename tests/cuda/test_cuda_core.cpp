// The CUDA backend's host side and non-convolution kernels against the CPU backend.
//
// Every parity test runs the same primitive on both backends from the same random inputs of odd
// shapes, with the CUDA output poisoned (NaN) first so an element the kernel forgot to write fails,
// and asserts ||cuda - cpu|| / ||cpu|| < 1e-5 in float32 (1e-12 in float64). Tests that need a GPU
// skip with a visible reason where none is present; the kernel-selection tests run everywhere.
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

#include "engine/backend/elementwise.h"
#include "engine/backend/embedding.h"
#include "engine/backend/linalg.h"
#include "engine/backend/loss.h"
#include "engine/backend/optim.h"
#include "engine/backend/penalty.h"
#include "engine/backend/reduction.h"
#include "engine/cuda/kernel_select.h"
#include "engine/cuda/launch_utils.h"
#include "engine/cuda/memory.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

const Device kCuda = Device::cuda(0);
const DType kF32 = DType::Float32, kF64 = DType::Float64;

double tol(DType dt) { return dt == kF32 ? 1e-5 : 1e-12; }

Tensor randn_cpu(const Shape& s, uint64_t seed, DType dt, double scale = 1.0, double shift = 0.0) {
  Generator g(seed);
  return Tensor::randn(s, &g, dt) * scale + shift;
}

Tensor rand_cpu(const Shape& s, uint64_t seed, double lo, double hi, DType dt) {
  Generator g(seed);
  return Tensor::rand(s, &g, lo, hi, dt);
}

Tensor poisoned(const Shape& s, DType dt) { return Tensor::full(s, NAN, dt, kCuda); }

// A tensor sharing `base`'s storage from element `offset` on.
Tensor offset_view(const Tensor& base, int64_t offset, const Shape& s) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl().storage;
  impl->offset = offset;
  impl->shape = s;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

// A CUDA copy whose data starts one element into its allocation: not 16-byte aligned, so the kernels
// must take their scalar paths.
Tensor to_cuda_unaligned(const Tensor& cpu) {
  Tensor base = Tensor::empty({cpu.numel() + 1}, cpu.dtype(), kCuda);
  Tensor v = offset_view(base, 1, cpu.shape());
  v.copy_(cpu);
  return v;
}

Tensor to_cuda(const Tensor& cpu, bool unaligned = false) {
  return unaligned ? to_cuda_unaligned(cpu) : cpu.detach().to(kCuda);
}

// Bit-for-bit equality of two tensors' values.
bool same_values(const Tensor& a, const Tensor& b) { return a.to_double_vector() == b.to_double_vector(); }

}  // namespace

// ---------------------------------------------------------------- kernel selection (no GPU needed)

class KernelSelect : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("GAN_KERNELS");
    cuda::reset_kernel_impl();
    cuda::set_verbose(false);
    cuda::set_message_sink(nullptr);
    cuda::set_allow_tf32(false);
  }
};

TEST_F(KernelSelect, DefaultsAreTheMeasuredFasterPaths) {
  unsetenv("GAN_KERNELS");
  cuda::reset_kernel_impl();
  // Strict FP32: the hand kernels for both families.
  cuda::set_allow_tf32(false);
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::KernelImpl::Hand);
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::BatchNorm), cuda::KernelImpl::Hand);
  // TF32 allowed: cuDNN convolutions where the build has cuDNN; batch norm stays hand.
  cuda::set_allow_tf32(true);
  const cuda::KernelImpl tf32_conv = cuda::cudnn_built() ? cuda::KernelImpl::Cudnn : cuda::KernelImpl::Hand;
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), tf32_conv);
  EXPECT_EQ(cuda::default_kernel_impl(cuda::OpFamily::Conv), tf32_conv);
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::BatchNorm), cuda::KernelImpl::Hand);
  // The default follows the switch at the time of the call, not when it was first asked for.
  cuda::set_allow_tf32(false);
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::KernelImpl::Hand);
  EXPECT_EQ(cuda::kDefaultConvImplTf32, cuda::KernelImpl::Cudnn);
  EXPECT_EQ(cuda::kDefaultConvImplFp32, cuda::KernelImpl::Hand);
  EXPECT_EQ(cuda::kDefaultBatchNormImpl, cuda::KernelImpl::Hand);
  // bfloat16 convolutions: cuDNN where built, TF32 switch on or off; a named choice still wins.
  for (bool tf32 : {false, true}) {
    cuda::set_allow_tf32(tf32);
    EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv, true), tf32_conv);
  }
  cuda::set_kernel_impl(cuda::OpFamily::Conv, cuda::KernelImpl::Hand);
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv, true), cuda::KernelImpl::Hand);
  setenv("GAN_KERNELS", "conv=hand", 1);
  cuda::reset_kernel_impl();
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv, true), cuda::KernelImpl::Hand);
}

TEST_F(KernelSelect, EnvironmentAndFlagBeatTheTf32Default) {
  cuda::set_allow_tf32(true);
  setenv("GAN_KERNELS", "hand", 1);
  cuda::reset_kernel_impl();
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::KernelImpl::Hand);
  setenv("GAN_KERNELS", "batchnorm=hand", 1);  // conv not named: its default applies
  cuda::reset_kernel_impl();
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::default_kernel_impl(cuda::OpFamily::Conv));
  cuda::set_kernel_impl(cuda::OpFamily::Conv, cuda::KernelImpl::Hand);
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::KernelImpl::Hand);
  if (cuda::cudnn_built()) {
    cuda::set_allow_tf32(false);
    cuda::set_kernel_impl("conv=cudnn");
    EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::KernelImpl::Cudnn);
    setenv("GAN_KERNELS", "batchnorm=cudnn", 1);
    cuda::reset_kernel_impl();
    EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::BatchNorm), cuda::KernelImpl::Cudnn);
  }
}

TEST_F(KernelSelect, ParsesNames) {
  EXPECT_EQ(cuda::parse_kernel_impl("hand"), cuda::KernelImpl::Hand);
  EXPECT_EQ(cuda::parse_kernel_impl("cudnn"), cuda::KernelImpl::Cudnn);
  EXPECT_THROW(cuda::parse_kernel_impl("cuDNN9"), Error);
  EXPECT_STREQ(cuda::kernel_impl_name(cuda::KernelImpl::Cudnn), "cudnn");
  EXPECT_STREQ(cuda::op_family_name(cuda::OpFamily::BatchNorm), "batchnorm");
}

TEST_F(KernelSelect, EnvironmentChoosesPerFamilyAndSetOverridesIt) {
  setenv("GAN_KERNELS", "hand", 1);
  cuda::reset_kernel_impl();
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::KernelImpl::Hand);
  EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::BatchNorm), cuda::KernelImpl::Hand);
  if (cuda::cudnn_built()) {
    setenv("GAN_KERNELS", "conv=cudnn, batchnorm=hand", 1);
    cuda::reset_kernel_impl();
    EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::KernelImpl::Cudnn);
    EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::BatchNorm), cuda::KernelImpl::Hand);
    cuda::set_kernel_impl(cuda::OpFamily::Conv, cuda::KernelImpl::Hand);  // the flag beats the environment
    EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::KernelImpl::Hand);
    cuda::set_kernel_impl("batchnorm=cudnn");
    EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::BatchNorm), cuda::KernelImpl::Cudnn);
    EXPECT_EQ(cuda::kernel_impl(cuda::OpFamily::Conv), cuda::KernelImpl::Hand);
  } else {
    EXPECT_THROW(cuda::set_kernel_impl(cuda::KernelImpl::Cudnn), Error);
    setenv("GAN_KERNELS", "cudnn", 1);
    cuda::reset_kernel_impl();
    EXPECT_THROW(cuda::kernel_impl(cuda::OpFamily::Conv), Error);
  }
}

TEST_F(KernelSelect, BadEnvironmentValueIsAClearError) {
  for (const char* bad : {"fast", "conv=magic", "pool=hand", "conv", ""}) {
    setenv("GAN_KERNELS", bad, 1);
    cuda::reset_kernel_impl();
    try {
      cuda::kernel_impl(cuda::OpFamily::Conv);
      ADD_FAILURE() << "GAN_KERNELS='" << bad << "' was accepted";
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("GAN_KERNELS"), std::string::npos) << m;
      EXPECT_NE(m.find("hand"), std::string::npos) << "the message should list the accepted values: " << m;
    }
  }
  EXPECT_THROW(cuda::set_kernel_impl(std::string("both")), Error);
}

TEST_F(KernelSelect, FallbackMessagesOnlyWhenVerboseAndOnlyOnce) {
  std::vector<std::string> got;
  cuda::set_message_sink([&](const std::string& m) { got.push_back(m); });
  cuda::note_fallback(cuda::OpFamily::Conv, "conv2d_forward", cuda::KernelImpl::Hand, "dilation 2 (test quiet)");
  EXPECT_TRUE(got.empty());
  cuda::set_verbose(true);
  for (int i = 0; i < 3; ++i)
    cuda::note_fallback(cuda::OpFamily::Conv, "conv2d_forward", cuda::KernelImpl::Hand, "dilation 2 (test loud)");
  cuda::note_fallback(cuda::OpFamily::BatchNorm, "batch_norm", cuda::KernelImpl::Hand, "float64 (test loud)");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[0].find("conv2d_forward"), std::string::npos);
  EXPECT_NE(got[0].find("dilation 2"), std::string::npos);
  EXPECT_NE(got[1].find("float64"), std::string::npos);
}

TEST_F(KernelSelect, Tf32IsOffByDefaultAndSwitchable) {
  EXPECT_FALSE(cuda::allow_tf32());
  cuda::set_allow_tf32(true);
  EXPECT_TRUE(cuda::allow_tf32());
  cuda::set_allow_tf32(false);
  EXPECT_FALSE(cuda::allow_tf32());
}

// The host-side test that routes a broadcast to the run kernel (no GPU needed).
TEST(CudaBroadcastRun, RecognisesOneBlockOfDims) {
  struct Case {
    Shape small, out;
    bool run;
    int64_t inner, mid;
  };
  const Case cases[] = {
      {{1, 5, 1, 1}, {3, 5, 7, 9}, true, 63, 5},
      {{5, 1, 1}, {3, 5, 7, 9}, true, 63, 5},
      {{3, 1, 1, 1}, {3, 5, 7, 9}, true, 315, 3},
      {{1, 9}, {4, 9}, true, 1, 9},
      {{9}, {4, 9}, true, 1, 9},
      {{4, 1}, {4, 9}, true, 9, 4},
      {{1, 5, 7, 1}, {3, 5, 7, 9}, true, 9, 35},
      {{1, 1, 3, 1, 1}, {2, 1, 3, 1, 5}, true, 5, 3},
      {{3, 1, 1, 9}, {3, 5, 7, 9}, false, 0, 0},  // two blocks
      {{1, 5, 1, 9}, {3, 5, 7, 9}, false, 0, 0},
      {{1, 1}, {4, 9}, false, 0, 0},              // one element: the scalar path's case
      {{}, {4, 9}, false, 0, 0},
  };
  for (const Case& c : cases) {
    int64_t inner = -1, mid = -1;
    const bool run = cuda::broadcast_run(c.small, c.out, inner, mid);
    EXPECT_EQ(run, c.run) << shape_str(c.small) << " to " << shape_str(c.out);
    if (run && c.run) {
      EXPECT_EQ(inner, c.inner) << shape_str(c.small) << " to " << shape_str(c.out);
      EXPECT_EQ(mid, c.mid) << shape_str(c.small) << " to " << shape_str(c.out);
    }
  }
}

// ---------------------------------------------------------------- devices, memory, copies

TEST(CudaMemory, DeviceCountNeverThrows) {
  int n = -1;
  EXPECT_NO_THROW(n = cuda_device_count());
  EXPECT_GE(n, 0);
  if (n == 0) {
    try {
      Tensor::empty({3}, kF32, kCuda);
      ADD_FAILURE() << "allocating on cuda:0 without a GPU succeeded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
    }
  }
}

TEST(CudaMemory, EngineStreamIsACreatedStream) {
  SKIP_WITHOUT_GPU();
  cudaStream_t s = cuda::stream(0);
  EXPECT_NE(s, nullptr);  // never the legacy default stream
  EXPECT_EQ(s, cuda::stream(0));
  EXPECT_THROW(cuda::stream(cuda_device_count()), Error);
  EXPECT_NO_THROW(cuda::synchronize(0));
}

TEST(CudaMemory, CopiesRoundTripExactly) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {kF32, kF64})
    for (int64_t n : {1, 3, 1000, 123457}) {
      Tensor h = randn_cpu({n}, 7 + n, dt);
      Tensor d = h.to(kCuda);  // H2D
      Tensor d2 = Tensor::empty({n}, dt, kCuda);
      d2.copy_(d);                 // D2D
      Tensor back = d2.to(Device::cpu());  // D2H
      EXPECT_TRUE(same_values(back, h)) << "n=" << n;
    }
  Tensor empty = Tensor::empty({0, 3}, kF32, kCuda);
  EXPECT_EQ(empty.to(Device::cpu()).numel(), 0);
  EXPECT_EQ(cuda::device_alloc(0, 0), nullptr);
}

TEST(CudaMemory, CopyIntoAnOffsetViewLeavesNeighboursAlone) {
  SKIP_WITHOUT_GPU();
  Tensor base = Tensor::full({10}, 5.0, kF32, kCuda);
  Tensor mid = offset_view(base, 3, {4});
  mid.copy_(Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {4}));
  expect_close(base, {5, 5, 5, 1, 2, 3, 4, 5, 5, 5});
}

TEST(CudaMemory, OutOfMemorySaysHowMuchWasAskedAndIsFree) {
  SKIP_WITHOUT_GPU();
  const int64_t pib_floats = int64_t(1) << 48;  // 2^48 float32 = 1 PiB
  try {
    Tensor::empty({pib_floats}, kF32, kCuda);
    FAIL() << "a 1 PiB allocation succeeded";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("out of memory"), std::string::npos) << m;
    EXPECT_NE(m.find("1125899906842624 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("free"), std::string::npos) << m;
    EXPECT_NE(m.find("cuda:0"), std::string::npos) << m;
  }
  // The failure leaves the device usable.
  Tensor t = Tensor::full({5}, 2.5, kF32, kCuda);
  expect_close(t, {2.5, 2.5, 2.5, 2.5, 2.5});
}

// ---------------------------------------------------------------- element-wise

TEST(CudaElementwise, FillAndArangeMatchCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {kF32, kF64})
    for (int64_t n : {1, 5, 4099}) {
      Tensor d = poisoned({n}, dt);
      cuda::fill(d, -1.25);
      EXPECT_TRUE(same_values(d, Tensor::full({n}, -1.25, dt)));
      Tensor u = to_cuda_unaligned(Tensor::zeros({n}, dt));
      cuda::fill(u, 3.5);
      EXPECT_TRUE(same_values(u, Tensor::full({n}, 3.5, dt)));
      EXPECT_TRUE(same_values(Tensor::arange(n, dt, kCuda), Tensor::arange(n, dt)));
    }
}

TEST(CudaElementwise, RandomNumbersEqualTheCpus) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {kF32, kF64}) {
    const Shape s = {1001, 3};
    Generator a(42), b(42);
    a.next_draw();  // a later draw, not draw 0
    b.next_draw();
    // Uniforms are integer arithmetic plus one multiply-add rounded twice: identical, also in a range
    // whose top rounds up in float32 (values landing on it step down the same way on both).
    for (auto [lo, hi] : {std::pair{-2.0, 3.0}, std::pair{999.9, 1000.2}}) {
      Tensor hu = Tensor::rand(s, &a, lo, hi, dt), du = Tensor::rand(s, &b, lo, hi, dt, kCuda);
      EXPECT_TRUE(same_values(du, hu)) << "uniform numbers differ (" << dtype_name(dt) << ", [" << lo << ", " << hi << "))";
      EXPECT_LT(du.to_double_vector()[0], hi);
    }
    // Normals go through log/cos/sin in double, whose last bit may differ between libm and the GPU's
    // (measured on an H100: about 1 double in 10). Rounded to float32, the training dtype, they agree.
    Tensor hn = Tensor::randn(s, &a, dt), dn = Tensor::randn(s, &b, dt, kCuda);
    auto x = dn.to_double_vector(), y = hn.to_double_vector();
    const double ulp = dt == kF32 ? 1.2e-7 : 4 * 2.3e-16;
    size_t exact = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_LE(std::abs(x[i] - y[i]), ulp * std::abs(y[i])) << "normal " << i << " " << dtype_name(dt);
      exact += x[i] == y[i];
    }
    if (dt == kF32) {
      EXPECT_GT(static_cast<double>(exact) / x.size(), 0.99) << "float32 normals should be bit-identical almost always";
    }
    EXPECT_EQ(a.draws(), b.draws());
    // mean + std * z through the primitive itself.
    Tensor hm = Tensor::empty(s, dt), dm = poisoned(s, dt);
    cpu::random_normal(hm, 7, 3, 0.5, 2.0);
    cuda::random_normal(dm, 7, 3, 0.5, 2.0);
    EXPECT_LT(rel_error(dm, hm), dt == kF32 ? 1e-7 : 1e-15) << dtype_name(dt);
  }
}

TEST(CudaElementwise, CastCopyBothWays) {
  SKIP_WITHOUT_GPU();
  Tensor h = randn_cpu({37, 11}, 3, kF64);
  for (auto [from, to] : {std::pair{kF64, kF32}, std::pair{kF32, kF64}, std::pair{kF32, kF32}}) {
    Tensor src = h.to(from);
    Tensor want = Tensor::empty(h.shape(), to);
    cpu::cast_copy(src, want);
    Tensor got = poisoned(h.shape(), to);
    cuda::cast_copy(src.to(kCuda), got);
    EXPECT_TRUE(same_values(got, want)) << dtype_name(from) << " -> " << dtype_name(to);
  }
}

namespace {
struct UnaryCase {
  UnaryOp op;
  const char* name;
  double lo, hi, a, b;
};
const UnaryCase kUnaryCases[] = {
    {UnaryOp::Neg, "neg", -3, 3, 0, 0},          {UnaryOp::Exp, "exp", -5, 5, 0, 0},
    {UnaryOp::Log, "log", 0.05, 6, 0, 0},        {UnaryOp::Sqrt, "sqrt", 0.01, 9, 0, 0},
    {UnaryOp::Abs, "abs", -3, 3, 0, 0},          {UnaryOp::Sign, "sign", -3, 3, 0, 0},
    {UnaryOp::Square, "square", -3, 3, 0, 0},    {UnaryOp::Reciprocal, "reciprocal", 0.2, 5, 0, 0},
    {UnaryOp::Relu, "relu", -3, 3, 0, 0},        {UnaryOp::Tanh, "tanh", -4, 4, 0, 0},
    {UnaryOp::Sigmoid, "sigmoid", -8, 8, 0, 0},  {UnaryOp::LogSigmoid, "log_sigmoid", -30, 30, 0, 0},
    {UnaryOp::Softplus, "softplus", -30, 30, 0, 0}, {UnaryOp::AddScalar, "add_scalar", -3, 3, 1.7, 0},
    {UnaryOp::MulScalar, "mul_scalar", -3, 3, -0.3, 0}, {UnaryOp::Pow, "pow", 0.1, 3, 2.5, 0},
    {UnaryOp::Clamp, "clamp", -3, 3, -0.5, 0.7}, {UnaryOp::LeakyRelu, "leaky_relu", -3, 3, 0.2, 0},
    {UnaryOp::LeakyStep, "leaky_step", -3, 3, 0.2, 0}, {UnaryOp::InsideMask, "inside_mask", -3, 3, -0.5, 0.7},
};
}  // namespace

// Runs without a GPU: an op added to the table without a parity case here fails at once.
TEST(CudaElementwise, UnaryCasesCoverEveryOpOfTheTable) {
  for (UnaryOp op : kernels::kAllUnaryOps) {
    bool covered = false;
    for (const auto& c : kUnaryCases) covered = covered || (c.op == op && std::string(c.name) == kernels::op_name(op));
    EXPECT_TRUE(covered) << kernels::op_name(op) << " has no case in kUnaryCases";
  }
}

TEST(CudaElementwise, EveryUnaryOpMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::vector<Shape> shapes = {{1}, {7}, {3, 5, 7}, {1031}, {33, 65}};
  uint64_t seed = 100;
  for (DType dt : {kF32, kF64})
    for (const auto& c : kUnaryCases)
      for (const auto& s : shapes)
        for (bool unaligned : {false, true}) {
          Tensor x = rand_cpu(s, ++seed, c.lo, c.hi, dt);
          Tensor want = Tensor::empty(s, dt);
          cpu::unary(c.op, x, want, c.a, c.b);
          Tensor got = poisoned(s, dt);
          cuda::unary(c.op, to_cuda(x, unaligned), got, c.a, c.b);
          EXPECT_LT(rel_error(got, want), tol(dt))
              << c.name << " " << shape_str(s) << " " << dtype_name(dt) << (unaligned ? " unaligned" : "");
        }
}

TEST(CudaElementwise, UnaryOverManyGridStrides) {
  SKIP_WITHOUT_GPU();
  const Shape s = {(int64_t(1) << 22) + 3};  // more elements than one pass of the grid covers
  Tensor x = randn_cpu(s, 9, kF32);
  Tensor want = Tensor::empty(s, kF32);
  cpu::unary(UnaryOp::Tanh, x, want, 0, 0);
  Tensor got = poisoned(s, kF32);
  cuda::unary(UnaryOp::Tanh, x.to(kCuda), got, 0, 0);
  EXPECT_LT(rel_error(got, want), 1e-5);
}

TEST(CudaElementwise, EveryBinaryOpWithBroadcastingMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::pair<Shape, Shape> cases[] = {
      {{5, 7, 3}, {5, 7, 3}},        // same shape
      {{5, 7, 3}, {}},               // scalar second
      {{}, {4, 9}},                  // scalar first
      {{1031}, {1}},                 // one-element tensor second
      {{5, 1, 7}, {3, 1}},           // both broadcast
      {{2, 3, 4, 5}, {1, 3, 1, 1}},  // bias over NCHW
      {{6, 1}, {1, 9}},              // outer product shape
      {{3, 1, 5}, {3, 4, 5}},        // first broadcast in the middle
      {{7}, {2, 3, 7}},              // rank differs
  };
  uint64_t seed = 500;
  for (DType dt : {kF32, kF64})
    for (BinaryOp op : kernels::kAllBinaryOps)  // every row of the op table
      for (const auto& [sx, sy] : cases)
        for (bool unaligned : {false, true}) {
          Tensor x = randn_cpu(sx, ++seed, dt);
          // Divisors kept away from zero; other ops see signed values.
          Tensor y = op == BinaryOp::Div ? rand_cpu(sy, ++seed, 0.5, 2.0, dt) : randn_cpu(sy, ++seed, dt);
          Shape so = broadcast_shapes(sx, sy, "test");
          Tensor want = Tensor::empty(so, dt);
          cpu::binary(op, x, y, want, 0.2);
          Tensor got = poisoned(so, dt);
          cuda::binary(op, to_cuda(x, unaligned), to_cuda(y), got, 0.2);
          EXPECT_LT(rel_error(got, want), tol(dt)) << kernels::op_name(op) << " " << shape_str(sx) << " with "
                                                   << shape_str(sy) << " " << dtype_name(dt)
                                                   << (unaligned ? " unaligned" : "");
        }
}

// The run-broadcast fast path (kernels::binary_run): one operand full and contiguous, the other read at
// (i / inner) % mid. Inner sizes divisible by the 16-byte pack (one small element per pack) and not
// (each element steps its own index), both operand orders, aligned and unaligned full operand.
TEST(CudaElementwise, RunBroadcastFastPathMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::pair<Shape, Shape> cases[] = {  // {full, small}
      {{3, 5, 4, 4}, {1, 5, 1, 1}},     // per-channel bias, inner 16
      {{3, 5, 7, 9}, {1, 5, 1, 1}},     // per-channel bias, inner 63
      {{3, 5, 7, 9}, {5, 1, 1}},        // the same with a lower-rank bias
      {{7, 3, 5, 5}, {7, 1, 1, 1}},     // per-sample weight, inner 75
      {{6, 2, 2, 2}, {6, 1, 1, 1}},     // per-sample weight, inner 8
      {{13, 37}, {1, 37}},              // row vector, inner 1
      {{13, 36}, {36}},                 // row vector, mid divisible by the pack
      {{13, 37}, {13, 1}},              // column vector, inner 37
      {{2, 3}, {1, 3}},                 // fewer elements than one pack
      {{4, 3, 5, 6}, {1, 3, 5, 1}},     // a block of two dims, inner 6
      {{2, 1, 3, 1, 5}, {1, 1, 3, 1, 1}},  // extent-1 dims around the block
  };
  uint64_t seed = 900;
  for (DType dt : {kF32, kF64})
    for (BinaryOp op : kernels::kAllBinaryOps)
      for (const auto& [sf, ss] : cases)
        for (bool small_first : {false, true})
          for (bool unaligned : {false, true}) {
            const Shape sx = small_first ? ss : sf, sy = small_first ? sf : ss;
            Tensor x = randn_cpu(sx, ++seed, dt);
            Tensor y = op == BinaryOp::Div ? rand_cpu(sy, ++seed, 0.5, 2.0, dt) : randn_cpu(sy, ++seed, dt);
            Tensor want = Tensor::empty(sf, dt);
            cpu::binary(op, x, y, want, 0.2);
            Tensor got = poisoned(sf, dt);
            // Misalign the full operand (the one the kernel reads 16 bytes at a time).
            cuda::binary(op, to_cuda(x, unaligned && !small_first), to_cuda(y, unaligned && small_first), got, 0.2);
            EXPECT_LT(rel_error(got, want), tol(dt))
                << kernels::op_name(op) << " " << shape_str(sx) << " with " << shape_str(sy) << " " << dtype_name(dt)
                << (unaligned ? " unaligned" : "");
          }
}

// Tensors larger than one pass of the grid (about 1M float elements on an H100), so every thread
// moves its run position forward by the grid step several times, including across the wrap of mid.
TEST(CudaElementwise, RunBroadcastOverManyGridStridesMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::pair<Shape, Shape> cases[] = {
      {{9, 33, 64, 64}, {1, 33, 1, 1}},  // inner 4096
      {{5, 37, 67, 97}, {1, 37, 1, 1}},  // inner 6499, not a multiple of the pack
      {{3, 7, 229, 251}, {3, 1, 1, 1}},  // per-sample, inner 402493
      {{1300, 1001}, {1, 1001}},          // row, inner 1
      {{1201, 1001}, {1201, 1}},          // column, inner 1001
  };
  uint64_t seed = 1900;
  for (DType dt : {kF32, kF64})
    for (BinaryOp op : {BinaryOp::Sub, BinaryOp::Div})
      for (const auto& [sf, ss] : cases)
        for (bool small_first : {false, true})
          for (bool unaligned : {false, true}) {
            const Shape sx = small_first ? ss : sf, sy = small_first ? sf : ss;
            Tensor x = rand_cpu(sx, ++seed, 0.5, 2.0, dt);
            Tensor y = rand_cpu(sy, ++seed, 0.5, 2.0, dt);
            Tensor want = Tensor::empty(sf, dt);
            cpu::binary(op, x, y, want, 0.0);
            Tensor got = poisoned(sf, dt);
            cuda::binary(op, to_cuda(x, unaligned && !small_first), to_cuda(y, unaligned && small_first), got, 0.0);
            EXPECT_LT(rel_error(got, want), tol(dt))
                << (op == BinaryOp::Sub ? "sub " : "div ") << shape_str(sx) << " with " << shape_str(sy) << " "
                << dtype_name(dt) << (unaligned ? " unaligned" : "");
          }
}

TEST(CudaElementwise, AddInplaceMatchesCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {kF32, kF64})
    for (int64_t n : {1, 13, 40001}) {
      Tensor acc = randn_cpu({n}, 60 + n, dt), x = randn_cpu({n}, 61 + n, dt);
      Tensor d = acc.to(kCuda);
      cpu::add_inplace(acc, x, -0.75);
      cuda::add_inplace(d, x.to(kCuda), -0.75);
      EXPECT_LT(rel_error(d, acc), tol(dt)) << n;
    }
}

// ---------------------------------------------------------------- reductions and data movement

TEST(CudaReduction, SumToMatchesCpuForEveryReductionPattern) {
  SKIP_WITHOUT_GPU();
  const std::pair<Shape, Shape> cases[] = {
      {{1031}, {1}},                        // full, one warp-row
      {{2000003}, {1}},                     // full, split across the GPU
      {{8, 16, 5, 5}, {1, 16, 1, 1}},       // per-channel
      {{64, 32, 9, 9}, {1, 32, 1, 1}},      // per-channel, split
      {{37, 29}, {37, 1}},                  // row sums
      {{37, 29}, {1, 29}},                  // column sums
      {{40961, 3}, {1, 3}},                 // few long columns (split)
      {{3, 50001}, {3, 1}},                 // few long rows (split)
      {{300, 700}, {300, 1}},               // many long rows
      {{2, 3, 4, 5}, {2, 1, 4, 1}},         // alternating
      {{2, 3, 4, 5}, {1, 3, 1, 5}},
      {{7, 1, 5}, {1, 1, 5}},
      {{5, 3}, {5, 3}},                     // nothing to sum
      {{0, 5}, {1, 5}},                     // empty sum: zeros
  };
  uint64_t seed = 900;
  for (DType dt : {kF32, kF64})
    for (const auto& [sx, so] : cases) {
      Tensor x = randn_cpu(sx, ++seed, dt);
      Tensor want = Tensor::empty(so, dt);
      cpu::sum_to(x, want);
      Tensor xd = x.to(kCuda);
      Tensor got = poisoned(so, dt), again = poisoned(so, dt);
      cuda::sum_to(xd, got);
      cuda::sum_to(xd, again);
      EXPECT_LT(rel_error(got, want), tol(dt)) << shape_str(sx) << " -> " << shape_str(so) << " " << dtype_name(dt);
      EXPECT_TRUE(same_values(got, again)) << "two runs differ: " << shape_str(sx) << " -> " << shape_str(so);
    }
}

TEST(CudaReduction, BroadcastCopyMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::pair<Shape, Shape> cases[] = {
      {{3, 1}, {3, 5}}, {{}, {4, 3}}, {{1, 4, 1}, {2, 4, 3}}, {{5}, {2, 3, 5}}, {{1, 7, 1, 1}, {3, 7, 5, 5}},
      {{6, 2}, {6, 2}}};
  uint64_t seed = 1000;
  for (DType dt : {kF32, kF64})
    for (const auto& [sx, so] : cases) {
      Tensor x = randn_cpu(sx, ++seed, dt);
      Tensor want = Tensor::empty(so, dt);
      cpu::broadcast_copy(x, want);
      Tensor got = poisoned(so, dt);
      cuda::broadcast_copy(x.to(kCuda), got);
      EXPECT_TRUE(same_values(got, want)) << shape_str(sx) << " -> " << shape_str(so);
    }
}

TEST(CudaReduction, PermuteMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::pair<Shape, std::vector<int64_t>> cases[] = {
      {{3, 4, 5}, {2, 0, 1}}, {{2, 3, 4, 5}, {0, 2, 3, 1}}, {{6, 7}, {1, 0}}, {{2, 3, 4, 5}, {3, 2, 1, 0}},
      {{3, 5, 7}, {0, 1, 2}}, {{9, 1, 5}, {1, 2, 0}}};
  uint64_t seed = 1100;
  for (DType dt : {kF32, kF64})
    for (const auto& [sx, perm] : cases) {
      Tensor x = randn_cpu(sx, ++seed, dt);
      Shape so;
      for (int64_t p : perm) so.push_back(sx[p]);
      Tensor want = Tensor::empty(so, dt);
      cpu::permute(x, want, perm);
      Tensor got = poisoned(so, dt);
      cuda::permute(x.to(kCuda), got, perm);
      EXPECT_TRUE(same_values(got, want)) << shape_str(sx);
    }
}

TEST(CudaReduction, SliceCopyMatchesCpu) {
  SKIP_WITHOUT_GPU();
  struct Case {
    Shape src, dst;
    int64_t dim, src_start, dst_start, length;
  };
  const Case cases[] = {{{4, 9, 5}, {4, 6, 5}, 1, 2, 1, 4},
                        {{7, 3}, {10, 3}, 0, 0, 3, 7},
                        {{3, 11}, {3, 4}, 1, 7, 0, 4},
                        {{2, 3, 4, 5}, {2, 3, 4, 2}, 3, 1, 0, 2}};
  uint64_t seed = 1200;
  for (DType dt : {kF32, kF64})
    for (const auto& c : cases) {
      Tensor src = randn_cpu(c.src, ++seed, dt), dst = randn_cpu(c.dst, ++seed, dt);
      Tensor got = dst.to(kCuda);
      cpu::slice_copy(src, dst, c.dim, c.src_start, c.dst_start, c.length);
      cuda::slice_copy(src.to(kCuda), got, c.dim, c.src_start, c.dst_start, c.length);
      EXPECT_TRUE(same_values(got, dst)) << shape_str(c.src) << " dim " << c.dim;
    }
}

TEST(CudaReduction, PerSampleNormMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const Shape shapes[] = {{6, 3, 5, 5}, {1, 100003}, {300, 7}, {5, 1}};
  uint64_t seed = 1300;
  for (DType dt : {kF32, kF64})
    for (const auto& s : shapes)
      for (double eps : {0.0, 1e-3}) {
        Tensor x = randn_cpu(s, ++seed, dt);
        Tensor want = Tensor::empty({s[0]}, dt);
        cpu::per_sample_norm(x, want, eps);
        Tensor got = poisoned({s[0]}, dt);
        cuda::per_sample_norm(x.to(kCuda), got, eps);
        EXPECT_LT(rel_error(got, want), tol(dt)) << shape_str(s) << " eps " << eps;
      }
}

// ---------------------------------------------------------------- matmul

TEST(CudaLinalg, MatmulAllTransposesAndBetasMatchCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t dims[][3] = {{37, 29, 41}, {1, 513, 3}, {130, 1, 77}, {64, 128, 33}};
  uint64_t seed = 1400;
  for (DType dt : {kF32, kF64})
    for (const auto& d : dims)
      for (int t = 0; t < 4; ++t)
        for (double beta : {0.0, 1.0, 0.5}) {
          const int64_t M = d[0], K = d[1], N = d[2];
          const bool ta = t & 1, tb = t & 2;
          Tensor a = randn_cpu(ta ? Shape{K, M} : Shape{M, K}, ++seed, dt);
          Tensor b = randn_cpu(tb ? Shape{N, K} : Shape{K, N}, ++seed, dt);
          Tensor c0 = randn_cpu({M, N}, ++seed, dt);
          Tensor want = c0.clone();
          cpu::matmul(a, ta, b, tb, want, beta);
          // beta = 0 must not read the output: poison it.
          Tensor got = beta == 0 ? poisoned({M, N}, dt) : c0.to(kCuda);
          cuda::matmul(a.to(kCuda), ta, b.to(kCuda), tb, got, beta);
          EXPECT_LT(rel_error(got, want), tol(dt))
              << M << "x" << K << "x" << N << " ta=" << ta << " tb=" << tb << " beta=" << beta << " " << dtype_name(dt);
        }
}

TEST(CudaLinalg, MatmulWithEmptyInnerDimensionScalesOutput) {
  SKIP_WITHOUT_GPU();
  Tensor a = Tensor::empty({4, 0}, kF32, kCuda), b = Tensor::empty({0, 3}, kF32, kCuda);
  Tensor c0 = randn_cpu({4, 3}, 77, kF32);
  Tensor got = c0.to(kCuda);
  cuda::matmul(a, false, b, false, got, 0.5);
  EXPECT_LT(rel_error(got, c0 * 0.5), 1e-7);
  Tensor z = poisoned({4, 3}, kF32);
  cuda::matmul(a, false, b, false, z, 0.0);
  EXPECT_TRUE(same_values(z, Tensor::zeros({4, 3})));
}

TEST(CudaLinalg, Tf32SwitchTradesAccuracyOnlyWhenOn) {
  SKIP_WITHOUT_GPU();
  Tensor a = randn_cpu({256, 512}, 1, kF32), b = randn_cpu({512, 128}, 2, kF32);
  Tensor want = Tensor::empty({256, 128}, kF32);
  cpu::matmul(a, false, b, false, want, 0.0);
  Tensor strict = poisoned({256, 128}, kF32), fast = poisoned({256, 128}, kF32);
  cuda::matmul(a.to(kCuda), false, b.to(kCuda), false, strict, 0.0);
  cuda::set_allow_tf32(true);
  cuda::matmul(a.to(kCuda), false, b.to(kCuda), false, fast, 0.0);
  cuda::set_allow_tf32(false);
  EXPECT_LT(rel_error(strict, want), 1e-5);
  EXPECT_LT(rel_error(fast, want), 1e-2);
}

// ---------------------------------------------------------------- fused BCE

TEST(CudaLoss, BceWithLogitsFusedMatchesCompositeReference) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {kF32, kF64})
    for (int64_t n : {1, 257, 100003})
      for (int mode = 0; mode < 3; ++mode) {  // target tensor, constant 1, constant 0
        Tensor x = randn_cpu({n, 1}, 1500 + n, dt, 3.0);
        Tensor t = mode == 0 ? rand_cpu({n, 1}, 1600 + n, 0, 1, dt) : Tensor::full({n, 1}, mode == 1 ? 1.0 : 0.0, dt);
        const double scale = 1.0 / static_cast<double>(n);
        // Reference from the CPU's differentiable ops, in float64.
        Tensor x64 = x.to(kF64), t64 = t.to(kF64);
        Tensor want_loss = sum(sub(softplus(x64), mul(x64, t64)));
        Tensor want_grad = mul(sub(sigmoid(x64), t64), scale);
        Tensor loss = poisoned({}, dt), dlogits = poisoned({n, 1}, dt);
        cuda::bce_with_logits_fused(x.to(kCuda), mode == 0 ? t.to(kCuda) : Tensor(), mode == 1 ? 1.0 : 0.0, loss,
                                    dlogits, scale);
        EXPECT_LT(rel_error(loss, want_loss), tol(dt)) << "n=" << n << " mode " << mode;
        EXPECT_LT(rel_error(dlogits, want_grad), tol(dt)) << "n=" << n << " mode " << mode;
      }
}

TEST(CudaLoss, L1LossAndItsGradientMatchCpu) {
  SKIP_WITHOUT_GPU();
  // A composite (sub, abs, reduction): the value and sign(input - target) gradient on both devices,
  // every reduction, a tie (input == target) in each batch where the gradient must be 0.
  for (DType dt : {kF32, kF64})
    for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None})
      for (const Shape& s : {Shape{1}, Shape{3, 5, 7}, Shape{4, 3, 33, 35}}) {
        Tensor a = randn_cpu(s, 1700 + numel_of(s), dt), b = randn_cpu(s, 1800 + numel_of(s), dt);
        auto bv = b.to_double_vector();
        bv[0] = a.to_double_vector()[0];
        b = Tensor::from_vector(bv, s).to(dt);
        Tensor out[2], ga[2];
        for (int d = 0; d < 2; ++d) {
          const Device dev = d ? kCuda : Device::cpu();
          Tensor ad = a.to(dev).requires_grad_();
          Tensor l = l1_loss(ad, b.to(dev), red);
          out[d] = l.detach();
          ga[d] = grad({sum(mul(l, randn_cpu(l.shape(), 1900, dt).to(dev)))}, {ad})[0];
        }
        const std::string at = shape_str(s) + " " + dtype_name(dt);
        EXPECT_LT(rel_error(out[1], out[0]), tol(dt)) << at;
        EXPECT_LT(rel_error(ga[1], ga[0]), tol(dt)) << at;
        EXPECT_EQ(ga[1].to_double_vector()[0], 0.0) << at << ": gradient at input == target";
      }
}

// ---------------------------------------------------------------- embedding, one-hot, softmax cross-entropy

namespace {

// `n` ids in [0, k), each class likely repeated, as `dt` on the CPU.
Tensor ids_cpu(int64_t n, int64_t k, uint64_t seed, DType dt) {
  std::mt19937_64 r(seed);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = static_cast<double>(r() % static_cast<uint64_t>(k));
  return Tensor::from_vector(v, {n}).to(dt);
}

// NaN in exactly the same places, and ||a - b|| / ||b|| < tol over the rest.
void expect_nan_pattern_and_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  auto a = got.to_double_vector(), b = want.to_double_vector();
  ASSERT_EQ(a.size(), b.size()) << what;
  double num = 0, den = 0;
  int wrong = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) {
      if (wrong++ < 5) ADD_FAILURE() << what << " element " << i << ": " << a[i] << " vs " << b[i];
      continue;
    }
    if (std::isnan(b[i])) continue;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  EXPECT_LE(den > 0 ? std::sqrt(num / den) : std::sqrt(num), tol) << what;
}

// Odd table and batch shapes, from one row to past a grid's worth of elements.
struct EmbedCase {
  int64_t n, k, e;
};
const EmbedCase kEmbedCases[] = {{1, 1, 1}, {37, 10, 5}, {129, 7, 513}, {1001, 1000, 3}, {3, 5, 100003}};

}  // namespace

TEST(CudaEmbedding, GatherScatterOneHotMatchCpu) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 1700;
  for (DType dt : {kF32, kF64})
    for (DType id_dt : {kF32, kF64})
      for (const auto& c : kEmbedCases) {
        const std::string at = std::to_string(c.n) + " ids into [" + std::to_string(c.k) + ", " + std::to_string(c.e) +
                               "] " + dtype_name(dt) + " ids " + dtype_name(id_dt);
        Tensor w = randn_cpu({c.k, c.e}, ++seed, dt), g = randn_cpu({c.n, c.e}, ++seed, dt);
        Tensor ids = ids_cpu(c.n, c.k, ++seed, id_dt);
        Tensor want = Tensor::empty({c.n, c.e}, dt), got = poisoned({c.n, c.e}, dt);
        cpu::embedding_gather(w, ids, want);
        cuda::embedding_gather(w.to(kCuda), ids.to(kCuda), got);
        EXPECT_TRUE(same_values(got, want)) << "gather " << at;
        // The scatter must overwrite its output (poisoned), and adds with atomics: order-dependent last bits.
        Tensor gw_want = Tensor::empty({c.k, c.e}, dt), gw_got = poisoned({c.k, c.e}, dt);
        cpu::embedding_scatter_add(g, ids, gw_want);
        cuda::embedding_scatter_add(g.to(kCuda), ids.to(kCuda), gw_got);
        EXPECT_LT(rel_error(gw_got, gw_want), tol(dt)) << "scatter " << at;
        Tensor oh_want = Tensor::empty({c.n, c.k}, dt), oh_got = poisoned({c.n, c.k}, dt);
        cpu::one_hot(ids, oh_want);
        cuda::one_hot(ids.to(kCuda), oh_got);
        EXPECT_TRUE(same_values(oh_got, oh_want)) << "one_hot " << at;
      }
}

TEST(CudaEmbedding, BadIdsWriteTheSameNaNRowsAsTheCpuPrimitives) {
  SKIP_WITHOUT_GPU();
  // The CUDA ops never read ids on the host: a bad id must come out as NaN, where the CPU primitives
  // (behind the CPU ops' check) put it too: gather/one-hot rows 1-4 NaN; scatter rows 0, 2, 3 NaN.
  const int64_t k = 4, e = 37;
  const std::vector<double> bad = {1, -1, 2.5, 4, NAN, 3};
  for (DType id_dt : {kF32, kF64}) {
    Tensor ids = Tensor::from_vector(bad, {6}).to(id_dt);
    Tensor w = randn_cpu({k, e}, 1800, kF32), g = randn_cpu({6, e}, 1801, kF32);
    Tensor want = Tensor::empty({6, e}, kF32), got = poisoned({6, e}, kF32);
    cpu::embedding_gather(w, ids, want);
    cuda::embedding_gather(w.to(kCuda), ids.to(kCuda), got);
    expect_nan_pattern_and_close(got, want, 0.0, "gather");
    Tensor gw_want = Tensor::empty({k, e}, kF32), gw_got = poisoned({k, e}, kF32);
    cpu::embedding_scatter_add(g, ids, gw_want);
    cuda::embedding_scatter_add(g.to(kCuda), ids.to(kCuda), gw_got);
    expect_nan_pattern_and_close(gw_got, gw_want, 1e-6, "scatter");
    Tensor oh_want = Tensor::empty({6, k}, kF32), oh_got = poisoned({6, k}, kF32);
    cpu::one_hot(ids, oh_want);
    cuda::one_hot(ids.to(kCuda), oh_got);
    expect_nan_pattern_and_close(oh_got, oh_want, 0.0, "one_hot");
    // The op on CUDA does not throw (no host sync); its output carries the NaN rows.
    Tensor y = embedding(w.to(kCuda), ids.to(kCuda));
    expect_nan_pattern_and_close(y, want, 0.0, "embedding op");
  }
}

TEST(CudaLoss, SoftmaxCrossEntropyFusedMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {37, 10}, {3, 33}, {129, 1000}, {1001, 3}, {5, 4099}};
  uint64_t seed = 1900;
  for (DType dt : {kF32, kF64})
    for (const auto& [n, k] : shapes)
      for (double s : {0.0, 0.1})
        for (int mode = 0; mode < 4; ++mode) {  // loss per row, summed loss, gradient only, softmax (no targets)
          const std::string at = "[" + std::to_string(n) + ", " + std::to_string(k) + "] s " + std::to_string(s) +
                                 " mode " + std::to_string(mode) + " " + dtype_name(dt);
          Tensor x = randn_cpu({n, k}, ++seed, dt, 3.0);
          Tensor t = mode == 3 ? Tensor() : ids_cpu(n, k, ++seed, mode == 1 ? kF64 : kF32);
          const double scale = 1.0 / static_cast<double>(n);
          Tensor loss_want = mode == 0 ? Tensor::empty({n}, dt) : mode == 1 ? Tensor::empty({}, dt) : Tensor();
          Tensor loss_got = mode == 0 ? poisoned({n}, dt) : mode == 1 ? poisoned({}, dt) : Tensor();
          Tensor d_want = Tensor::empty({n, k}, dt), d_got = poisoned({n, k}, dt);
          const double smooth = mode == 3 ? 0.0 : s;
          cpu::softmax_cross_entropy_fused(x, t, smooth, loss_want, d_want, scale);
          cuda::softmax_cross_entropy_fused(x.to(kCuda), t.defined() ? t.to(kCuda) : Tensor(), smooth, loss_got, d_got,
                                            scale);
          if (loss_want.defined()) {
            EXPECT_LT(rel_error(loss_got, loss_want), tol(dt)) << "loss " << at;
          }
          EXPECT_LT(rel_error(d_got, d_want), tol(dt)) << "dlogits " << at;
        }
  // The loss alone (no gradient buffer), as the op runs it when nothing needs a gradient.
  Tensor x = randn_cpu({65, 300}, 1999, kF32, 2.0), t = ids_cpu(65, 300, 2000, kF32);
  Tensor want = Tensor::empty({}, kF32), got = poisoned({}, kF32), none_cpu, none_cuda;
  cpu::softmax_cross_entropy_fused(x, t, 0.2, want, none_cpu, 1.0);
  cuda::softmax_cross_entropy_fused(x.to(kCuda), t.to(kCuda), 0.2, got, none_cuda, 1.0);
  EXPECT_LT(rel_error(got, want), 1e-5);
}

TEST(CudaLoss, SoftmaxCrossEntropyBadTargetGivesNaNRowAndLoss) {
  SKIP_WITHOUT_GPU();
  Tensor x = randn_cpu({4, 6}, 2010, kF32);
  Tensor t = Tensor::from_vector(std::vector<float>{1, 6, 2.5f, 0}, {4});
  Tensor rows_want = Tensor::empty({4}, kF32), rows_got = poisoned({4}, kF32);
  Tensor d_want = Tensor::empty({4, 6}, kF32), d_got = poisoned({4, 6}, kF32);
  cpu::softmax_cross_entropy_fused(x, t, 0.0, rows_want, d_want, 1.0);
  cuda::softmax_cross_entropy_fused(x.to(kCuda), t.to(kCuda), 0.0, rows_got, d_got, 1.0);
  expect_nan_pattern_and_close(rows_got, rows_want, 1e-5, "row losses");
  expect_nan_pattern_and_close(d_got, d_want, 1e-5, "dlogits");
  auto rv = rows_got.to_double_vector();
  EXPECT_TRUE(std::isnan(rv[1]) && std::isnan(rv[2]) && !std::isnan(rv[0]) && !std::isnan(rv[3]));
  // The op does not throw on CUDA; a mean over a NaN row is NaN.
  EXPECT_TRUE(std::isnan(softmax_cross_entropy(x.to(kCuda), t.to(kCuda)).item()));
}

// ---------------------------------------------------------------- cat and slice on 4-D tensors

TEST(CudaShapeOps, CatAndSliceAlongChannelsOfOdd4DMatchCpu) {
  SKIP_WITHOUT_GPU();
  // As a concat discriminator joins label maps to images: [N, C_i, H, W] along dim 1, odd sizes.
  uint64_t seed = 2100;
  for (DType dt : {kF32, kF64})
    for (const Shape& base : {Shape{3, 0, 5, 7}, Shape{1, 0, 33, 31}, Shape{17, 0, 1, 3}}) {
      std::vector<Tensor> parts;
      int64_t total = 0;
      for (int64_t c : {3, 1, 10}) {
        Shape s = base;
        s[1] = c;
        parts.push_back(randn_cpu(s, ++seed, dt));
        total += c;
      }
      Shape ys = base;
      ys[1] = total;
      // The primitive into a poisoned output: every element must be written by one of the copies.
      Tensor want = Tensor::empty(ys, dt), got = poisoned(ys, dt);
      int64_t at = 0;
      for (const Tensor& p : parts) {
        cpu::slice_copy(p, want, 1, 0, at, p.shape()[1]);
        cuda::slice_copy(p.to(kCuda), got, 1, 0, at, p.shape()[1]);
        at += p.shape()[1];
      }
      EXPECT_TRUE(same_values(got, want)) << shape_str(ys);
      // The ops: cat, slice and their first and second derivatives.
      std::vector<Tensor> ph, pd;
      for (const Tensor& p : parts) {
        ph.push_back(p.detach().requires_grad_());
        pd.push_back(p.to(kCuda).requires_grad_());
      }
      Tensor w = randn_cpu(ys, ++seed, dt);
      auto f = [&](const std::vector<Tensor>& in, const Tensor& wt) {
        Tensor y = cat(in, 1);
        Tensor mid = slice(y, 1, 2, total - 1);
        Tensor l = add(sum(mul(tanh(y), wt)), sum(square(mid)));
        auto g = grad({l}, in, {}, /*create_graph=*/true);
        return add(l, sum(square(g[0])) + sum(square(g[2])));
      };
      Tensor lh = f(ph, w), ld = f(pd, w.to(kCuda));
      EXPECT_LT(rel_error(ld, lh), tol(dt)) << shape_str(ys);
      auto gh = grad({lh}, ph), gd = grad({ld}, pd);
      for (size_t i = 0; i < gh.size(); ++i) EXPECT_LT(rel_error(gd[i], gh[i]), tol(dt)) << shape_str(ys) << " part " << i;
    }
}

// ---------------------------------------------------------------- optimizers

namespace {

// 70 tensors (more than one launch's worth) of random sizes, some crossing chunk boundaries, some
// starting off 16-byte alignment.
struct ParamSet {
  std::vector<Shape> shapes;
  std::vector<bool> unaligned;
};

ParamSet make_param_set(uint64_t seed) {
  std::mt19937_64 r(seed);
  ParamSet ps;
  for (int i = 0; i < 70; ++i) {
    int64_t n = i % 9 == 0 ? 8192 * 2 + 1 + static_cast<int64_t>(r() % 5000) : 1 + static_cast<int64_t>(r() % 700);
    ps.shapes.push_back({n});
    ps.unaligned.push_back(i % 5 == 3);
  }
  return ps;
}

std::vector<Tensor> cpu_list(const ParamSet& ps, uint64_t seed, double scale, bool positive = false) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < ps.shapes.size(); ++i)
    out.push_back(positive ? rand_cpu(ps.shapes[i], seed + i, 0.0, scale, kF32)
                           : randn_cpu(ps.shapes[i], seed + i, kF32, scale));
  return out;
}

std::vector<Tensor> cuda_list(const ParamSet& ps, const std::vector<Tensor>& host) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < host.size(); ++i) out.push_back(to_cuda(host[i], ps.unaligned[i]));
  return out;
}

void expect_lists_match(const std::vector<Tensor>& got, const std::vector<Tensor>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_LT(rel_error(got[i], want[i]), 1e-5) << what << " tensor " << i;
}

}  // namespace

TEST(CudaOptim, AdamMultiTensorMatchesCpu) {
  SKIP_WITHOUT_GPU();
  ParamSet ps = make_param_set(1);
  auto p = cpu_list(ps, 10, 1.0), m = cpu_list(ps, 200, 0.1), v = cpu_list(ps, 400, 0.01, true);
  auto pd = cuda_list(ps, p), md = cuda_list(ps, m), vd = cuda_list(ps, v);
  for (int64_t step = 1; step <= 3; ++step) {
    auto g = cpu_list(ps, 1000 * step, 0.5);
    AdamHyper h{2e-4, 0.5, 0.999, 1e-8, step == 2 ? 0.01 : 0.0, step};
    cpu::adam_step(p, g, m, v, h);
    cuda::adam_step(pd, cuda_list(ps, g), md, vd, h);
  }
  expect_lists_match(pd, p, "param");
  expect_lists_match(md, m, "exp_avg");
  expect_lists_match(vd, v, "exp_avg_sq");
}

TEST(CudaOptim, SgdMultiTensorMatchesCpu) {
  SKIP_WITHOUT_GPU();
  ParamSet ps = make_param_set(2);
  for (double mu : {0.0, 0.9}) {
    auto p = cpu_list(ps, 20, 1.0);
    auto b = mu != 0 ? cpu_list(ps, 30, 0.0) : std::vector<Tensor>(ps.shapes.size());
    auto pd = cuda_list(ps, p);
    auto bd = mu != 0 ? cuda_list(ps, b) : std::vector<Tensor>(ps.shapes.size());
    for (int step = 1; step <= 3; ++step) {
      auto g = cpu_list(ps, 2000 * step, 0.5);
      SgdHyper h{0.05, mu, 1e-3, step == 1};
      cpu::sgd_step(p, g, b, h);
      cuda::sgd_step(pd, cuda_list(ps, g), bd, h);
    }
    expect_lists_match(pd, p, "param");
    if (mu != 0) expect_lists_match(bd, b, "momentum buffer");
  }
}

TEST(CudaOptim, RmspropMultiTensorMatchesCpu) {
  SKIP_WITHOUT_GPU();
  ParamSet ps = make_param_set(3);
  for (double mu : {0.0, 0.5}) {
    auto p = cpu_list(ps, 40, 1.0), sq = cpu_list(ps, 50, 0.01, true);
    auto b = mu > 0 ? cpu_list(ps, 60, 0.1) : std::vector<Tensor>(ps.shapes.size());
    auto pd = cuda_list(ps, p), sqd = cuda_list(ps, sq);
    auto bd = mu > 0 ? cuda_list(ps, b) : std::vector<Tensor>(ps.shapes.size());
    for (int step = 1; step <= 3; ++step) {
      auto g = cpu_list(ps, 3000 * step, 0.5);
      RmspropHyper h{5e-5, 0.99, 1e-8, 0.01, mu};
      cpu::rmsprop_step(p, g, sq, b, h);
      cuda::rmsprop_step(pd, cuda_list(ps, g), sqd, bd, h);
    }
    expect_lists_match(pd, p, "param");
    expect_lists_match(sqd, sq, "square_avg");
    if (mu > 0) expect_lists_match(bd, b, "momentum buffer");
  }
}

TEST(CudaOptim, ClampParamsMatchesCpu) {
  SKIP_WITHOUT_GPU();
  ParamSet ps = make_param_set(4);
  auto p = cpu_list(ps, 70, 0.05);
  auto pd = cuda_list(ps, p);
  cpu::clamp_params(p, 0.01);
  cuda::clamp_params(pd, 0.01);
  for (size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(same_values(pd[i], p[i])) << "tensor " << i;
}

// ---------------------------------------------------------------- gradient penalty primitives

TEST(CudaPenalty, InterpolateForwardBackwardMatchCpu) {
  SKIP_WITHOUT_GPU();
  const Shape shapes[] = {{9, 3, 5, 5}, {3, 200001}, {64, 1}};
  uint64_t seed = 1700;
  for (DType dt : {kF32, kF64})
    for (const auto& s : shapes) {
      const int64_t N = s[0];
      Tensor real = randn_cpu(s, ++seed, dt), fake = randn_cpu(s, ++seed, dt), eps = rand_cpu({N}, ++seed, 0, 1, dt);
      Tensor want = Tensor::empty(s, dt), got = poisoned(s, dt);
      cpu::interpolate_per_sample(real, fake, eps, want);
      cuda::interpolate_per_sample(real.to(kCuda), fake.to(kCuda), eps.to(kCuda), got);
      EXPECT_LT(rel_error(got, want), tol(dt)) << "interpolate " << shape_str(s);

      Tensor g = randn_cpu(s, ++seed, dt, 0.3);
      Tensor wn = Tensor::empty({N}, dt), wp = Tensor::empty({}, dt);
      cpu::gradient_penalty_forward(g, 10.0, wn, wp);
      Tensor gd = g.to(kCuda), dn = poisoned({N}, dt), dp = poisoned({}, dt);
      cuda::gradient_penalty_forward(gd, 10.0, dn, dp);
      EXPECT_LT(rel_error(dn, wn), tol(dt)) << "norms " << shape_str(s);
      EXPECT_LT(rel_error(dp, wp), tol(dt)) << "penalty " << shape_str(s);

      Tensor up = Tensor::scalar(0.8, dt);
      Tensor wdg = Tensor::empty(s, dt), ddg = poisoned(s, dt);
      cpu::gradient_penalty_backward(g, wn, up, 10.0, wdg);
      cuda::gradient_penalty_backward(gd, dn, up.to(kCuda), 10.0, ddg);
      EXPECT_LT(rel_error(ddg, wdg), tol(dt)) << "backward " << shape_str(s);
    }
}

// ---------------------------------------------------------------- graph capture

// A training step must be capturable in a CUDA graph: no primitive may synchronise the host or
// allocate outside the stream-ordered pool. Capture a chain of primitives, replay it, compare.
TEST(CudaGraph, PrimitivesAreCapturableAndReplayMatchesEager) {
  SKIP_WITHOUT_GPU();
  Tensor a = randn_cpu({33, 47}, 1, kF32).to(kCuda), w = randn_cpu({19, 47}, 2, kF32).to(kCuda);
  Tensor bias = randn_cpu({1, 19}, 3, kF32).to(kCuda);
  auto run = [&](Tensor& h, Tensor& act, Tensor& colsum, Tensor& loss, Tensor& dl, Tensor& norms, Tensor& pen,
                 Tensor& hb, std::vector<Tensor>& params, std::vector<Tensor>& m, std::vector<Tensor>& v) {
    cuda::matmul(a, false, w, true, h, 0.0);
    cuda::binary(BinaryOp::Add, h, bias, hb, 0.0);
    cuda::unary(UnaryOp::LeakyRelu, hb, act, 0.2, 0.0);
    cuda::sum_to(act, colsum);
    cuda::bce_with_logits_fused(act, Tensor(), 1.0, loss, dl, 1.0 / 627);
    cuda::gradient_penalty_forward(dl, 10.0, norms, pen);
    cuda::adam_step(params, {dl}, m, v, AdamHyper{1e-3, 0.5, 0.999, 1e-8, 0.0, 1});
  };
  auto fresh = [&](std::vector<Tensor>& t) {
    t = {Tensor::empty({33, 19}, kF32, kCuda), Tensor::empty({33, 19}, kF32, kCuda), Tensor::empty({1, 19}, kF32, kCuda),
         Tensor::empty({}, kF32, kCuda),       Tensor::empty({33, 19}, kF32, kCuda), Tensor::empty({33}, kF32, kCuda),
         Tensor::empty({}, kF32, kCuda),       Tensor::empty({33, 19}, kF32, kCuda)};
  };
  Tensor p0 = randn_cpu({33, 19}, 4, kF32);
  std::vector<Tensor> e, c;
  fresh(e);
  fresh(c);
  std::vector<Tensor> pe = {p0.to(kCuda)}, me = {Tensor::zeros({33, 19}, kF32, kCuda)}, ve = {Tensor::zeros({33, 19}, kF32, kCuda)};
  std::vector<Tensor> pc = {p0.to(kCuda)}, mc = {Tensor::zeros({33, 19}, kF32, kCuda)}, vc = {Tensor::zeros({33, 19}, kF32, kCuda)};
  run(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], pe, me, ve);  // eager (also creates the cuBLAS handle)
  cuda::synchronize(0);

  cudaStream_t s = cuda::stream(0);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  try {
    run(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], pc, mc, vc);
  } catch (const Error& err) {
    cudaStreamEndCapture(s, &graph);
    if (graph) cudaGraphDestroy(graph);
    FAIL() << "a primitive failed under capture: " << err.what();
  }
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  cuda::synchronize(0);
  for (size_t i = 0; i < e.size(); ++i) EXPECT_TRUE(same_values(c[i], e[i])) << "output " << i;
  EXPECT_TRUE(same_values(pc[0], pe[0]));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

// ---------------------------------------------------------------- differentiable ops end to end

namespace {

struct Mlp {
  Tensor w1, b1, w2, b2;
  std::vector<Tensor> params() const { return {w1, b1, w2, b2}; }
};

Mlp make_mlp(Device dev, int64_t in, int64_t hidden, int64_t out) {
  Mlp m;
  m.w1 = randn_cpu({hidden, in}, 11, kF32, 0.4).to(dev).requires_grad_();
  m.b1 = randn_cpu({hidden}, 12, kF32, 0.1).to(dev).requires_grad_();
  m.w2 = randn_cpu({out, hidden}, 13, kF32, 0.4).to(dev).requires_grad_();
  m.b2 = randn_cpu({out}, 14, kF32, 0.1).to(dev).requires_grad_();
  return m;
}

Tensor critic(const Mlp& m, const Tensor& x) { return linear(leaky_relu(linear(x, m.w1, m.b1), 0.2), m.w2, m.b2); }

}  // namespace

TEST(CudaAutograd, MlpForwardBackwardMatchesCpu) {
  SKIP_WITHOUT_GPU();
  Mlp hc = make_mlp(Device::cpu(), 10, 21, 3), dc = make_mlp(kCuda, 10, 21, 3);
  Tensor x = randn_cpu({13, 10}, 15, kF32), t = rand_cpu({13, 3}, 16, 0, 1, kF32);
  auto loss_of = [&](const Mlp& m, const Tensor& xin, const Tensor& tin) {
    Tensor h = tanh(linear(xin, m.w1, m.b1));
    Tensor logits = linear(leaky_relu(h, 0.2), m.w2, m.b2);
    return add(bce_with_logits(logits, tin), mean(sum(square(sigmoid(logits)), {1})));
  };
  Tensor xh = x.detach().requires_grad_(), xd = x.to(kCuda).requires_grad_();
  Tensor lh = loss_of(hc, xh, t), ld = loss_of(dc, xd, t.to(kCuda));
  EXPECT_TRUE(ld.is_cuda());
  EXPECT_LT(rel_error(ld, lh), 1e-5);
  lh.backward();
  ld.backward();
  auto ph = hc.params(), pd = dc.params();
  for (size_t i = 0; i < ph.size(); ++i) {
    ASSERT_TRUE(pd[i].grad().defined()) << "param " << i;
    EXPECT_TRUE(pd[i].grad().is_cuda());
    EXPECT_LT(rel_error(pd[i].grad(), ph[i].grad()), 1e-5) << "param " << i;
  }
  EXPECT_LT(rel_error(xd.grad(), xh.grad()), 1e-5);
}

TEST(CudaAutograd, GradientPenaltyDoubleBackwardMatchesCpu) {
  SKIP_WITHOUT_GPU();
  // WGAN-GP on a tiny critic: D(x) = linear(leaky_relu(linear(x))); penalty = 10 mean((||dD/dx|| - 1)^2),
  // then the penalty's gradient with respect to the critic's weights (a second derivative).
  Mlp hc = make_mlp(Device::cpu(), 6, 9, 1), dc = make_mlp(kCuda, 6, 9, 1);
  Tensor real = randn_cpu({8, 6}, 21, kF32), fake = randn_cpu({8, 6}, 22, kF32);
  Tensor eps = rand_cpu({8, 1}, 23, 0, 1, kF32);
  auto penalty_of = [&](const Mlp& m, Device dev) {
    Tensor e = eps.to(dev);
    Tensor xi = add(mul(e, real.to(dev)), mul(sub(ones_like(e), e), fake.to(dev))).detach().requires_grad_();
    Tensor out = critic(m, xi);
    Tensor g = grad({sum(out)}, {xi}, {}, /*create_graph=*/true)[0];
    return mul(mean(square(per_sample_norm(g) - 1.0)), 10.0);
  };
  Tensor ph = penalty_of(hc, Device::cpu()), pd = penalty_of(dc, kCuda);
  EXPECT_GT(ph.item(), 0.0);
  EXPECT_LT(rel_error(pd, ph), 1e-5);
  ph.backward();
  pd.backward();
  auto a = hc.params(), b = dc.params();
  int compared = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(b[i].grad().defined(), a[i].grad().defined()) << "param " << i;
    if (!a[i].grad().defined()) continue;
    EXPECT_LT(rel_error(b[i].grad(), a[i].grad()), 1e-5) << "param " << i;
    ++compared;
  }
  EXPECT_GE(compared, 2);  // at least both weight matrices receive a second-order gradient
}

TEST(CudaAutograd, ConditionalCriticPenaltyAndAuxiliaryLossesMatchCpu) {
  SKIP_WITHOUT_GPU();
  // A projection critic D(x, y) = linear(h) + sum(embedding(E, y) * h, 1), h = leaky_relu(linear(x)),
  // under the WGAN-GP penalty (a second derivative through the embedding), plus an ACGAN class
  // loss (softmax cross-entropy with label smoothing) and an InfoGAN Gaussian code term on heads of h.
  const int64_t n = 11, classes = 7;
  Mlp hc = make_mlp(Device::cpu(), 6, 9, 1), dc = make_mlp(kCuda, 6, 9, 1);
  Tensor emb = randn_cpu({classes, 9}, 31, kF32, 0.3);
  Tensor wc = randn_cpu({classes, 9}, 32, kF32, 0.3), wq = randn_cpu({4, 9}, 33, kF32, 0.3);
  Tensor real = randn_cpu({n, 6}, 34, kF32), fake = randn_cpu({n, 6}, 35, kF32), eps = rand_cpu({n, 1}, 36, 0, 1, kF32);
  Tensor y = ids_cpu(n, classes, 37, kF32), code = randn_cpu({n, 2}, 38, kF32);
  auto total_of = [&](const Mlp& m, Device dev, std::vector<Tensor>& extra) {
    extra = {emb.detach().to(dev).requires_grad_(), wc.detach().to(dev).requires_grad_(),
             wq.detach().to(dev).requires_grad_()};
    Tensor e = eps.to(dev), yd = y.to(dev);
    Tensor xi = add(mul(e, real.to(dev)), mul(sub(ones_like(e), e), fake.to(dev))).detach().requires_grad_();
    Tensor h = leaky_relu(linear(xi, m.w1, m.b1), 0.2);
    Tensor d = add(linear(h, m.w2, m.b2).reshape({n}), sum(mul(embedding(extra[0], yd), h), {1}));
    Tensor g = grad({sum(d)}, {xi}, {}, /*create_graph=*/true)[0];
    Tensor penalty = mul(mean(square(per_sample_norm(g) - 1.0)), 10.0);
    Tensor cls = softmax_cross_entropy(linear(h, extra[1]), yd, 0.1);
    Tensor q = linear(h, extra[2]);
    Tensor info = gaussian_nll(code.to(dev), slice(q, 1, 0, 2), slice(q, 1, 2, 4));
    return add(add(penalty, cls), info);
  };
  std::vector<Tensor> eh, ed;
  Tensor th = total_of(hc, Device::cpu(), eh), td = total_of(dc, kCuda, ed);
  EXPECT_LT(rel_error(td, th), 1e-5);
  th.backward();
  td.backward();
  auto a = hc.params(), b = dc.params();
  a.insert(a.end(), eh.begin(), eh.end());
  b.insert(b.end(), ed.begin(), ed.end());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(b[i].grad().defined(), a[i].grad().defined()) << "param " << i;
    if (!a[i].grad().defined()) continue;
    // Scatter-adds use atomics on CUDA: order-dependent last bits, well inside the tolerance.
    EXPECT_LT(rel_error(b[i].grad(), a[i].grad()), 1e-5) << "param " << i;
  }
  ASSERT_TRUE(ed[0].grad().defined());  // the embedding receives the penalty's second-order gradient
}

// The conditional-GAN primitives (gather, scatter-add with its memset, one-hot, softmax
// cross-entropy with its workspace) under capture: no host sync, no allocation outside the pool.
TEST(CudaGraph, ConditionalPrimitivesAreCapturable) {
  SKIP_WITHOUT_GPU();
  Tensor w = randn_cpu({10, 33}, 41, kF32).to(kCuda), ids = ids_cpu(64, 10, 42, kF32).to(kCuda);
  Tensor g = randn_cpu({64, 33}, 43, kF32).to(kCuda), x = randn_cpu({64, 10}, 44, kF32).to(kCuda);
  auto fresh = [] {
    return std::vector<Tensor>{Tensor::empty({64, 33}, kF32, kCuda), Tensor::empty({10, 33}, kF32, kCuda),
                               Tensor::empty({64, 10}, kF32, kCuda), Tensor::empty({}, kF32, kCuda),
                               Tensor::empty({64, 10}, kF32, kCuda)};
  };
  auto run = [&](std::vector<Tensor>& o) {
    cuda::embedding_gather(w, ids, o[0]);
    cuda::embedding_scatter_add(g, ids, o[1]);
    cuda::one_hot(ids, o[2]);
    cuda::softmax_cross_entropy_fused(x, ids, 0.1, o[3], o[4], 1.0 / 64);
  };
  std::vector<Tensor> e = fresh(), c = fresh();
  run(e);
  cuda::synchronize(0);
  cudaStream_t s = cuda::stream(0);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  try {
    run(c);
  } catch (const Error& err) {
    cudaStreamEndCapture(s, &graph);
    if (graph) cudaGraphDestroy(graph);
    FAIL() << "a primitive failed under capture: " << err.what();
  }
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  cuda::synchronize(0);
  for (size_t i = 0; i < e.size(); ++i)
    EXPECT_LE(rel_error(c[i], e[i]), i == 1 ? 1e-6 : 0.0) << "output " << i;  // 1: atomics
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}
