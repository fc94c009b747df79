// bfloat16 on the GPU: the cast kernel rounds exactly as the CPU does (the same bits, NaN, ties,
// infinities), widened primitives give the CPU's results on the same bfloat16 inputs, the maps,
// sums and fills that store bfloat16 themselves give the float32 kernels' values rounded once, and
// a --precision bf16 DCGAN step on CUDA stays close to the CPU's.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "engine/backend/bf16_widening.h"
#include "engine/backend/conv.h"
#include "engine/cuda/kernel_select.h"
#include "engine/ops/ops.h"
#include "models/trainer.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/cuda/kernel_choice.h"
#include "tests/test_helpers.h"

using namespace gan;

TEST(CudaBf16, CastRoundsAsTheCpu) {
  SKIP_WITHOUT_GPU();
  Generator g(21);
  std::vector<float> v;
  for (int i = 0; i < 100003; ++i) {  // odd length: the kernel's tail
    uint32_t u = static_cast<uint32_t>(g.below(uint64_t{1} << 32));
    if (i % 3 == 0) u = (u & 0xffff0000u) | 0x8000u;  // ties
    float f;
    std::memcpy(&f, &u, 4);
    v.push_back(f);
  }
  v.push_back(std::numeric_limits<float>::infinity());
  v.push_back(std::numeric_limits<float>::max());
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  Tensor x = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
  Tensor cpu = x.to(DType::BFloat16);
  Tensor gpu = x.to(Device::cuda(0)).to(DType::BFloat16).cpu();
  EXPECT_TRUE(test::same_bits(cpu, gpu));
  // And back, and from float64.
  EXPECT_TRUE(test::same_bits(cpu.to(DType::Float32), gpu.to(Device::cuda(0)).to(DType::Float32).cpu()));
  Tensor d = Tensor::randn({4097}, &g, DType::Float64);
  EXPECT_TRUE(test::same_bits(d.to(DType::BFloat16), d.to(Device::cuda(0)).to(DType::BFloat16).cpu()));
}

TEST(CudaBf16, WidenedPrimitivesMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Generator g(22);
  const Device gpu = Device::cuda(0);
  Tensor x = Tensor::randn({3, 5, 9, 9}, &g).to(DType::BFloat16);
  Tensor w = Tensor::randn({7, 5, 4, 4}, &g).to(DType::BFloat16);
  Conv2dParams p = Conv2dParams::make(2, 1);
  Tensor y_cpu = conv2d(x, w, Tensor(), p), y_gpu = conv2d(x.to(gpu), w.to(gpu), Tensor(), p).cpu();
  EXPECT_EQ(y_gpu.dtype(), DType::BFloat16);
  // Float32 sums in another order: at most one bfloat16 step apart.
  EXPECT_LT(test::rel_error(y_gpu, y_cpu), 1e-2);
  Tensor a = leaky_relu(x, 0.2), b = leaky_relu(x.to(gpu), 0.2).cpu();
  EXPECT_TRUE(test::same_bits(a, b));  // element-wise: the same bits
}

// The four convolution primitives on bfloat16 data, on the hand BF16 tensor-core kernels (mma.sync
// with ldmatrix) and on cuDNN, against the CPU's float32 copies rounded once. The shapes reach
// every tile: narrow products (the FP32 kernel), 64x64, 128x64 and 128x128 tiles, split
// reductions, stride phases and the 1x1-input product. The hand path must run them itself: a
// fallback note fails the test.
TEST(CudaBf16, ConvolutionsOnBothPathsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  struct Case {
    Shape x, w;
    int stride, pad;
  };
  const Case cases[] = {
      {{3, 5, 9, 9}, {7, 5, 4, 4}, 2, 1},          // narrow: 7 output channels
      {{2, 67, 8, 8}, {70, 67, 3, 3}, 1, 1},       // ragged 64-wide products
      {{32, 128, 16, 16}, {256, 128, 4, 4}, 2, 1}, // a DCGAN middle layer: 128x128 tiles
      {{8, 256, 8, 8}, {512, 256, 4, 4}, 2, 1},    // few output pixels: split reduction
      {{5, 33, 4, 4}, {20, 33, 4, 4}, 1, 0},       // 1x1 output: its backward-data is a plain product
  };
  const Device gpu = Device::cuda(0);
  uint64_t seed = 900;
  for (cuda::KernelImpl impl : test::impls())
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(cuda::kernel_impl_name(impl)) + " x " + shape_str(c.x) + " w " + shape_str(c.w));
      test::ImplScope scope(cuda::OpFamily::Conv, impl);
      std::vector<std::string> said;
      cuda::set_message_sink([&](const std::string& m) { said.push_back(m); });
      cuda::set_verbose(true);
      Generator g(seed++);
      const Conv2dParams p = Conv2dParams::make(c.stride, c.pad);
      const Tensor x = Tensor::randn(c.x, &g).to(DType::BFloat16), w = Tensor::randn(c.w, &g).to(DType::BFloat16);
      const int64_t P = (c.x[2] + 2 * c.pad - c.w[2]) / c.stride + 1, Q = (c.x[3] + 2 * c.pad - c.w[3]) / c.stride + 1;
      const Tensor dy = Tensor::randn({c.x[0], c.w[0], P, Q}, &g).to(DType::BFloat16);
      auto nan = [](const Shape& s, const Device& d) { return Tensor::full(s, NAN, DType::BFloat16).to(d); };
      Tensor y_c = nan(dy.shape(), Device::cpu()), dx_c = nan(x.shape(), Device::cpu()), dw_c = nan(w.shape(), Device::cpu());
      Tensor yt_c = nan(x.shape(), Device::cpu());
      backend::call_widened<&cpu::conv2d_forward>(x, w, y_c, p);
      backend::call_widened<&cpu::conv2d_backward_data>(dy, w, dx_c, p);
      backend::call_widened<&cpu::conv2d_backward_weight>(x, dy, dw_c, p);
      backend::call_widened<&cpu::conv_transpose2d_forward>(dy, w, yt_c, p);
      Tensor y = nan(dy.shape(), gpu), dx = nan(x.shape(), gpu), dw = nan(w.shape(), gpu), yt = nan(x.shape(), gpu);
      cuda::conv2d_forward(x.to(gpu), w.to(gpu), y, p);
      cuda::conv2d_backward_data(dy.to(gpu), w.to(gpu), dx, p);
      cuda::conv2d_backward_weight(x.to(gpu), dy.to(gpu), dw, p);
      cuda::conv_transpose2d_forward(dy.to(gpu), w.to(gpu), yt, p);
      cuda::set_verbose(false);
      cuda::set_message_sink(nullptr);
      // Float32 sums in another order, rounded once: mostly the same bfloat16, else a step apart.
      EXPECT_LT(test::rel_error(y.cpu(), y_c), 1e-2) << "forward";
      EXPECT_LT(test::rel_error(dx.cpu(), dx_c), 1e-2) << "backward-data";
      EXPECT_LT(test::rel_error(dw.cpu(), dw_c), 1e-2) << "backward-weight";
      EXPECT_LT(test::rel_error(yt.cpu(), yt_c), 1e-2) << "conv_transpose2d forward";
      EXPECT_EQ(y.dtype(), DType::BFloat16);
      if (impl == cuda::KernelImpl::Hand)
        for (const auto& m : said) ADD_FAILURE() << "the hand kernels fell back: " << m;
    }
}

// Deterministic: two runs of the hand BF16 kernels give the same bits.
TEST(CudaBf16, HandConvolutionsAreDeterministic) {
  SKIP_WITHOUT_GPU();
  test::ImplScope scope(cuda::OpFamily::Conv, cuda::KernelImpl::Hand);
  Generator g(950);
  const Device gpu = Device::cuda(0);
  const Tensor x = Tensor::randn({8, 256, 8, 8}, &g).to(DType::BFloat16).to(gpu);
  const Tensor dy = Tensor::randn({8, 512, 4, 4}, &g).to(DType::BFloat16).to(gpu);
  const Conv2dParams p = Conv2dParams::make(2, 1);
  Tensor a = Tensor::zeros({512, 256, 4, 4}, DType::BFloat16).to(gpu), b = a.clone();
  cuda::conv2d_backward_weight(x, dy, a, p);
  cuda::conv2d_backward_weight(x, dy, b, p);
  EXPECT_TRUE(test::same_bits(a.cpu(), b.cpu()));
}

// The CUDA maps store bfloat16 themselves (kernels/elementwise.cu: Bf16Map): the CPU's float32-copy
// values, bit for bit where the float math is exact on both sides.
TEST(CudaBf16, MapsStoreWhatTheCpuCopiesGive) {
  SKIP_WITHOUT_GPU();
  Generator g(24);
  const Device gpu = Device::cuda(0);
  Tensor x = Tensor::randn({5, 6, 7, 3}, &g).to(DType::BFloat16);  // odd sizes: vector tails
  Tensor y = Tensor::randn({5, 6, 7, 3}, &g).to(DType::BFloat16);
  Tensor bias = Tensor::randn({1, 6, 1, 1}, &g).to(DType::BFloat16);
  Tensor xg = x.to(gpu), yg = y.to(gpu), bg = bias.to(gpu);
  EXPECT_TRUE(test::same_bits(add(x, y), add(xg, yg).cpu()));                 // same shape
  EXPECT_TRUE(test::same_bits(mul(x, 0.37), mul(xg, 0.37).cpu()));            // scalar
  EXPECT_TRUE(test::same_bits(add(x, bias), add(xg, bg).cpu()));              // a broadcast run
  EXPECT_TRUE(test::same_bits(mul(x, bias.reshape({6, 1, 1})), mul(xg, bg.reshape({6, 1, 1})).cpu()));
  EXPECT_TRUE(test::same_bits(relu(x), relu(xg).cpu()));
  EXPECT_LT(test::rel_error(tanh(xg).cpu(), tanh(x)), 1e-2);  // device and host tanhf may differ by an ulp
  EXPECT_EQ(add(xg, yg).dtype(), DType::BFloat16);
  // Data movement: the same bits.
  EXPECT_TRUE(test::same_bits(broadcast_to(bias, {5, 6, 7, 3}), broadcast_to(bg, {5, 6, 7, 3}).cpu()));
  EXPECT_TRUE(test::same_bits(permute(x, {0, 2, 3, 1}), permute(xg, {0, 2, 3, 1}).cpu()));
  EXPECT_TRUE(test::same_bits(cat({x, y}, 1), cat({xg, yg}, 1).cpu()));
  EXPECT_TRUE(test::same_bits(slice(x, 1, 2, 5), slice(xg, 1, 2, 5).cpu()));
}

// Sums and fills store bfloat16 themselves on CUDA: the bits the float32 kernels give on the
// widened values, rounded once (what the copies gave before), on every reduction mode (one warp
// per output, block rows with split pieces, column sums), and the CPU's values to a bfloat16 step.
TEST(CudaBf16, SumsAndFillsStoreWhatTheFloat32KernelsGive) {
  SKIP_WITHOUT_GPU();
  Generator g(25);
  const Device gpu = Device::cuda(0);
  struct Case {
    Shape x;
    std::vector<int64_t> dims;
  };
  const Case cases[] = {{{7, 5, 3, 3}, {0, 2, 3}},  // a bias gradient: warp rows
                        {{64, 1031}, {0}},          // a Linear's bias gradient: column sums
                        {{3, 70000}, {1}},          // block rows, split pieces
                        {{2, 3, 40000}, {0, 2}},    // long per-channel sums
                        {{129, 3}, {0, 1}}};        // everything
  for (const Case& c : cases) {
    Tensor x = Tensor::randn(c.x, &g).to(DType::BFloat16);
    Tensor xg = x.to(gpu);
    Tensor native = sum(xg, c.dims);
    ASSERT_EQ(native.dtype(), DType::BFloat16);
    Tensor widened = sum(xg.to(DType::Float32), c.dims).to(DType::BFloat16);
    EXPECT_TRUE(test::same_bits(native.cpu(), widened.cpu())) << shape_str(c.x);
    EXPECT_LT(test::rel_error(native.cpu().to(DType::Float64), sum(x.to(DType::Float64), c.dims)), 1e-2)
        << shape_str(c.x);
  }
  Tensor n = per_sample_norm(Tensor::randn({9, 3, 17, 5}, &g).to(DType::BFloat16).to(gpu));
  EXPECT_EQ(n.dtype(), DType::BFloat16);
  for (double v : {0.1, -3.3, 1e-30, 65504.5}) {
    Tensor f = Tensor::full({1001}, v, DType::BFloat16, gpu);
    EXPECT_TRUE(test::same_bits(f.cpu(), Tensor::full({1001}, v, DType::Float32).to(DType::BFloat16))) << v;
  }
}

TEST(CudaBf16, ADcganStepOnCudaStaysCloseToTheCpu) {
  SKIP_WITHOUT_GPU();
  auto ds = test::random_images(16, 1, 32, 23);
  models::TrainConfig c = test::tiny_dcgan32(2);
  c.precision = "bf16";
  models::Trainer cpu(c, ds, Device::cpu()), gpu(c, ds, Device::cuda(0));
  for (int i = 0; i < 2; ++i) {
    const models::StepScalars a = cpu.train_step(), b = gpu.train_step();
    EXPECT_NEAR(a["loss_d"].item(), b["loss_d"].item(), 0.03 * std::fabs(a["loss_d"].item())) << i;
    EXPECT_NEAR(a["loss_g"].item(), b["loss_g"].item(), 0.03 * std::fabs(a["loss_g"].item())) << i;
  }
}
