// bfloat16: the rounding (against a reference that picks the nearer of the two neighbouring
// bfloat16 values by exact arithmetic), bfloat16 tensors on float32 primitives (each op's result is
// the float32 result rounded once), layers on bfloat16 activations with float32 masters, and
// --precision bf16 training on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/backend/dispatch.h"
#include "engine/backend/reduction.h"
#include "engine/nn/layers.h"
#include "engine/ops/ops.h"
#include "engine/rng/generator.h"
#include "models/trainer.h"
#include "tests/resume_check.h"
#include "tests/test_helpers.h"

namespace gan {
namespace {

double bf16_value(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The bfloat16 nearest v, ties to the even bit pattern, found by comparing v with its two
// neighbours: the largest bfloat16 magnitude at or below |v| and the next one up.
uint16_t reference_round(double v) {
  const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  const double a = std::fabs(v);
  if (a >= bf16_value(0x7f7f) + std::ldexp(1.0, 127 - 8)) return sign | 0x7f80;  // past the last tie: inf
  uint16_t lo = 0;
  for (int bit = 14; bit >= 0; --bit) {  // binary search over the ordered positive patterns
    const uint16_t t = static_cast<uint16_t>(lo | (1u << bit));
    if (t < 0x7f80 && bf16_value(t) <= a) lo = t;
  }
  const double below = a - bf16_value(lo), above = bf16_value(static_cast<uint16_t>(lo + 1)) - a;
  uint16_t m = lo;
  if (above < below || (above == below && (lo & 1))) m = static_cast<uint16_t>(lo + 1);
  return sign | m;
}

TEST(BFloat16, FloatsRoundToTheNearestTiesToEven) {
  Generator g(11);
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = static_cast<uint32_t>(g.below(uint64_t{1} << 32));
    if (i % 4 == 1) u = (u & 0xffff0000u) | 0x8000u;  // exact ties
    float f;
    std::memcpy(&f, &u, 4);
    if (std::isnan(f)) continue;
    ASSERT_EQ(bf16(f).bits, reference_round(f)) << "float bits 0x" << std::hex << u;
    ++checked;
  }
  EXPECT_GT(checked, 190000);
  EXPECT_EQ(bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(bf16(-2.5f).bits, 0xc020);
  EXPECT_EQ(bf16(std::numeric_limits<float>::max()).bits, 0x7f80);  // rounds up past the largest finite
  EXPECT_EQ(bf16(std::numeric_limits<float>::infinity()).bits, 0x7f80);
  EXPECT_EQ(bf16(-0.0f).bits, 0x8000);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(static_cast<float>(bf16(nan))));
  uint32_t signalling = 0x7f800001u;  // a NaN whose payload lies in the dropped bits stays a NaN
  float s;
  std::memcpy(&s, &signalling, 4);
  EXPECT_TRUE(std::isnan(static_cast<float>(bf16(s))));
}

TEST(BFloat16, DoublesRoundOnceNotThroughFloat) {
  Generator g(12);
  for (int i = 0; i < 100000; ++i) {
    // Values near a bfloat16 tie, off it by less than half a float step: rounding to float first
    // would land on the tie and then go to even, whichever side v was on.
    const uint16_t base = static_cast<uint16_t>(0x0080 + g.below(0x7e00));
    const double tie = (bf16_value(base) + bf16_value(static_cast<uint16_t>(base + 1))) / 2;
    const double ulp_f = std::ldexp(1.0, std::ilogb(tie) - 23);
    const double off = (g.uniform() - 0.5) * ulp_f * 0.9;
    const double v = (i % 2 ? -1 : 1) * (tie + off);
    ASSERT_EQ(bf16(v).bits, reference_round(v)) << "v = " << v;
  }
}

TEST(BFloat16, TensorsCastBothWays) {
  Tensor x = Tensor::from_vector(std::vector<float>{1.0f, 1.00390625f, 3.14159f, -1e-3f, 65504.f}, {5});
  Tensor b = x.to(DType::BFloat16);
  EXPECT_EQ(b.dtype(), DType::BFloat16);
  EXPECT_EQ(b.nbytes(), 10u);
  EXPECT_EQ(b.str(), "bfloat16[5] on cpu");
  const std::vector<double> back = b.to_double_vector();
  const std::vector<float> in = x.to_float_vector();
  for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(back[i], bf16_value(bf16(in[i]).bits)) << i;
  EXPECT_EQ(back[1], 1.0);  // 1 + 2^-8 is a tie: to even
  EXPECT_TRUE(test::same_bits(b.to(DType::Float32).to(DType::BFloat16), b));
}

// What a bfloat16 kernel gives: the float32 computation on the widened inputs, rounded once.
Tensor rounded(const Tensor& t) { return t.to(DType::BFloat16); }
Tensor wide(const Tensor& t) { return t.to(DType::Float32); }

TEST(BFloat16, PrimitivesComputeInFloat32AndRoundOnce) {
  Generator g(3);
  Tensor x = Tensor::randn({2, 3, 7, 7}, &g).to(DType::BFloat16);
  Tensor w = Tensor::randn({4, 3, 3, 3}, &g).to(DType::BFloat16);
  Conv2dParams p = Conv2dParams::make(2, 1);
  EXPECT_TRUE(test::same_bits(conv2d(x, w, Tensor(), p), rounded(conv2d(wide(x), wide(w), Tensor(), p))));
  Tensor y = Tensor::randn({2, 3, 7, 7}, &g).to(DType::BFloat16);
  EXPECT_TRUE(test::same_bits(add(x, y), rounded(add(wide(x), wide(y)))));
  EXPECT_TRUE(test::same_bits(leaky_relu(x, 0.2), rounded(leaky_relu(wide(x), 0.2))));
  EXPECT_TRUE(test::same_bits(sum(x), rounded(sum(wide(x)))));
  EXPECT_TRUE(test::same_bits(permute(x, {0, 2, 3, 1}), rounded(permute(wide(x), {0, 2, 3, 1}))));
  EXPECT_TRUE(test::same_bits(cat({x, y}, 1), rounded(cat({wide(x), wide(y)}, 1))));
  EXPECT_EQ(cat({x, y}, 1).dtype(), DType::BFloat16);
  EXPECT_EQ(conv2d(x, w, Tensor(), p).dtype(), DType::BFloat16);
}

// The copies' cost: a primitive that overwrites its outputs (GAN_OVERWRITES_OUTPUTS) gets fresh
// float32 outputs, one that reads them (+=, a slice into a larger tensor) gets them widened first,
// and both give the float32 result rounded once.
TEST(BFloat16, OutputsAreWidenedOnlyWhereThePrimitiveReadsThem) {
  using backend::widening_counts;
  Generator g(4);
  Tensor x = Tensor::randn({3, 5, 4}, &g).to(DType::BFloat16), y = Tensor::randn({3, 5, 4}, &g).to(DType::BFloat16);
  // unary: x widened, the output only rounded back.
  Tensor out = Tensor::empty({3, 5, 4}, DType::BFloat16);
  widening_counts() = {};
  GAN_BACKEND(Device::cpu(), unary, UnaryOp::LeakyRelu, x, out, 0.2, 0.0);
  EXPECT_EQ(widening_counts().widened, 1);
  EXPECT_EQ(widening_counts().rounded, 1);
  EXPECT_EQ(widening_counts().bytes, 2 * (x.nbytes() + 2 * x.nbytes()));
  EXPECT_TRUE(test::same_bits(out, rounded(leaky_relu(wide(x), 0.2))));
  // add_inplace reads its output: widened, then rounded back, and the sum is right.
  Tensor acc = y.clone();
  widening_counts() = {};
  GAN_BACKEND(Device::cpu(), add_inplace, acc, x, 1.0);
  EXPECT_EQ(widening_counts().widened, 2);
  EXPECT_EQ(widening_counts().rounded, 1);
  EXPECT_TRUE(test::same_bits(acc, rounded(add(wide(y), wide(x)))));
  // A slice into a larger tensor keeps the rest of it.
  Tensor big = Tensor::full({3, 9, 4}, 1.5, DType::BFloat16);
  GAN_BACKEND(Device::cpu(), slice_copy, x, big, 1, 0, 2, 5);
  EXPECT_TRUE(test::same_bits(slice(big, 1, 2, 7), x));
  EXPECT_TRUE(test::same_bits(slice(big, 1, 0, 2), Tensor::full({3, 2, 4}, 1.5, DType::BFloat16)));
  EXPECT_TRUE(test::same_bits(slice(big, 1, 7, 9), Tensor::full({3, 2, 4}, 1.5, DType::BFloat16)));
  // Float32 arguments are never copied.
  widening_counts() = {};
  Tensor o32 = Tensor::empty({3, 5, 4});
  GAN_BACKEND(Device::cpu(), unary, UnaryOp::Relu, wide(x), o32, 0.0, 0.0);
  EXPECT_EQ(widening_counts().widened + widening_counts().rounded, 0);
}

TEST(BFloat16, GradientsReachFloat32MastersThroughTheCopies) {
  Generator g(4);
  nn::Linear lin(6, 5, true, &g);
  Tensor x = Tensor::randn({8, 6}, &g);
  // The bfloat16 run: activations and the weight copy in bfloat16, the master in float32.
  Tensor y = lin.forward(x.to(DType::BFloat16));
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  sum(square(y.to(DType::Float32))).backward();
  Tensor gw = lin.weight.grad(), gb = lin.bias.grad();
  ASSERT_TRUE(gw.defined() && gb.defined());
  EXPECT_EQ(gw.dtype(), DType::Float32);
  EXPECT_EQ(lin.weight.dtype(), DType::Float32);
  // The float32 run of the same layer: the gradients agree to bfloat16's precision.
  lin.zero_grad();
  sum(square(lin.forward(x))).backward();
  EXPECT_LT(test::rel_error(gw, lin.weight.grad()), 2e-2);
  EXPECT_LT(test::rel_error(gb, lin.bias.grad()), 2e-2);
  EXPECT_GT(test::rel_error(gw, lin.weight.grad()), 0.0);  // it did run in bfloat16
}

TEST(BFloat16, BatchNormComputesInFloat32BesideItsFloat32Statistics) {
  nn::BatchNorm2d bn(3);
  Generator g(5);
  Tensor x = Tensor::randn({4, 3, 5, 5}, &g).to(DType::BFloat16);
  Tensor y = bn.forward(x);
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  EXPECT_EQ(bn.running_mean.dtype(), DType::Float32);
  nn::BatchNorm2d ref(3);
  Tensor y_ref = ref.forward(wide(x));
  EXPECT_TRUE(test::same_bits(y, rounded(y_ref)));
  EXPECT_TRUE(test::same_bits(bn.running_mean, ref.running_mean));
  EXPECT_TRUE(test::same_bits(bn.running_var, ref.running_var));
}

TEST(BFloat16, ANetworkWithAComputeDtypeTakesAndGivesFloat32) {
  Generator g(6);
  nn::Sequential net;
  net.push_back(std::make_shared<nn::Linear>(4, 8, true, &g));
  net.push_back(std::make_shared<nn::LeakyReLU>(0.2));
  net.push_back(std::make_shared<nn::Linear>(8, 2, true, &g));
  Tensor x = Tensor::randn({3, 4}, &g);
  Tensor y32 = net(x);
  net.set_compute_dtype(DType::BFloat16);
  DType seen = DType::Float32;
  net.children()[1].second->set_forward_hook([&](const Tensor& t) { seen = t.dtype(); });
  Tensor y = net(x);
  EXPECT_EQ(seen, DType::BFloat16);  // inside, the activations are bfloat16
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_LT(test::rel_error(y, y32), 3e-2);
  EXPECT_FALSE(test::same_bits(y, y32));
  // A float64 input (gradient checks) is left alone.
  EXPECT_THROW(net(x.to(DType::Float64)), Error);  // float32 weights meet float64: refused as before
}

TEST(BFloat16, DcganTrainsOnTheCpuCloseToFloat32AndResumesExactly) {
  auto ds = test::random_images(16, 1, 32, 9);
  models::TrainConfig c = test::tiny_dcgan32(6);
  models::TrainConfig b = c;
  b.precision = "bf16";
  models::Trainer t32(c, ds, Device::cpu()), t16(b, ds, Device::cpu());
  const models::StepScalars s32 = t32.train_step(), s16 = t16.train_step();
  // The first step starts from the same weights and data: losses within bfloat16's few digits.
  EXPECT_NEAR(s16["loss_d"].item(), s32["loss_d"].item(), 0.02 * std::fabs(s32["loss_d"].item()));
  EXPECT_NEAR(s16["loss_g"].item(), s32["loss_g"].item(), 0.02 * std::fabs(s32["loss_g"].item()));
  EXPECT_NE(s16["loss_d"].item(), s32["loss_d"].item());
  for (int i = 1; i < 6; ++i) {
    const models::StepScalars s = t16.train_step();
    ASSERT_TRUE(std::isfinite(s["loss_d"].item()) && std::isfinite(s["loss_g"].item()));
  }
  for (const Tensor& p : t16.network("generator").parameters()) EXPECT_EQ(p.dtype(), DType::Float32);
  test::expect_exact_resume(b, ds, 4, 2);
}

TEST(BFloat16, WganGpCriticDifferentiatesTwiceInBfloat16) {
  auto ds = test::random_images(16, 1, 32, 10);
  models::TrainConfig c = test::tiny_dcgan32(3);
  c.loss = "wgan-gp";
  c.n_critic = 2;
  c.model.critic_norm = "layer";
  c.precision = "bf16";
  models::Trainer t(c, ds, Device::cpu());
  for (int i = 0; i < 3; ++i) {
    const models::StepScalars s = t.train_step();
    ASSERT_TRUE(std::isfinite(s["loss_d"].item()) && std::isfinite(s["loss_g"].item())) << i;
  }
}

TEST(BFloat16, PrecisionSettingsAreChecked) {
  models::TrainConfig c = test::tiny_dcgan32(1);
  c.precision = "fp16";
  EXPECT_THROW(
      {
        try {
          c.validate();
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("'fp16'"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  c.precision = "bf16";
  c.tf32 = true;
  EXPECT_THROW(c.validate(), Error);
  c.tf32 = false;
  EXPECT_NO_THROW(c.validate());
  c.precision = "tf32";
  EXPECT_TRUE(c.tf32_math());
}

}  // namespace
}  // namespace gan
