// bias_act on CUDA (kernels/bias_act.cu): the CPU's bits on odd shapes in float, double and
// bfloat16 (the same IEEE add and select on both, and the same bfloat16 rounding), every output
// element written (a NaN-poisoned output), in place too; the one-pass backward against the CUDA
// composition it replaces, bit for bit; gradients and a second derivative against the CPU; and an
// MLP GAN training run with fusion on and off. Skipped, saying why, where no GPU is visible.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/backend/bias_act.h"
#include "engine/nn/module.h"
#include "engine/ops/ops.h"
#include "models/trainer.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/op_reference.h"
#include "tests/test_helpers.h"

using namespace gan;
using gan::test::randn64;
using gan::test::rel_error;
using gan::test::same_bits;

namespace {

const NormAct kActs[] = {{NormActKind::None, 0.0}, {NormActKind::Relu, 0.0}, {NormActKind::LeakyRelu, 0.2}};

// Odd sizes: S = 1 with C not a multiple of a warp, runs of S = 35 and 1021, a single channel.
const Shape kShapes[] = {{7, 5}, {67, 1031}, {3, 4, 5, 7}, {2, 3, 1021}, {5, 1, 3, 3}, {1, 257, 2, 2}};

}  // namespace

TEST(CudaBiasAct, MatchesTheCpuBitForBitAndWritesEveryElement) {
  SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  uint64_t seed = 900;
  for (DType dt : {DType::Float32, DType::Float64, DType::BFloat16})
    for (const Shape& s : kShapes)
      for (const NormAct& act : kActs) {
        const std::string what = std::string(dtype_name(dt)) + " " + shape_str(s) + " act " +
                                 std::to_string(static_cast<int>(act.kind));
        Tensor x = randn64(s, ++seed, false).to(dt), b = randn64({s[1]}, ++seed, false).to(dt);
        Tensor cpu = bias_act(x, b, act);
        // The primitive on a poisoned output: an element the kernel skips stays NaN.
        Tensor y = Tensor::full(s, std::nan(""), dt, gpu);
        cuda::bias_act_forward(x.to(gpu), b.to(gpu), act, y);
        EXPECT_TRUE(same_bits(y.to(Device::cpu()), cpu)) << what;
        // In place, as linear() and the convolutions add their bias.
        Tensor in_place = x.to(gpu).clone();
        cuda::bias_act_forward(in_place, b.to(gpu), act, in_place);
        EXPECT_TRUE(same_bits(in_place.to(Device::cpu()), cpu)) << what << " in place";
      }
}

// The one-pass backward (kernels/reduction.cu: masked_grad_sum) against the CUDA composition it
// replaces, leaky_relu_backward then sum, bit for bit, on every reduction mode: column sums (a
// Linear's [N, C]), split column sums (a long batch), one warp per channel and block rows with
// split pieces (per-channel sums of images), and a single value per channel. Outputs poisoned.
TEST(CudaBiasAct, BackwardIsTheCudaCompositionBitForBit) {
  SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  const Shape shapes[] = {{64, 1031}, {70000, 3}, {7, 5, 3, 3}, {3, 2, 200, 200}, {1, 9}, {5, 1, 1, 1}};
  uint64_t seed = 980;
  for (DType dt : {DType::Float32, DType::Float64, DType::BFloat16})
    for (const Shape& s : shapes)
      for (const NormAct& act : kActs) {
        if (act.kind == NormActKind::None) continue;
        const std::string what = std::string(dtype_name(dt)) + " " + shape_str(s) + " act " +
                                 std::to_string(static_cast<int>(act.kind));
        Tensor g = randn64(s, ++seed, false).to(dt).to(gpu), y = randn64(s, ++seed, false).to(dt).to(gpu);
        Tensor dx = Tensor::full(s, std::nan(""), dt, gpu), db = Tensor::full({s[1]}, std::nan(""), dt, gpu);
        cuda::bias_act_backward(g, y, act, dx, db);
        Tensor gz = leaky_relu_backward(g, y, act.slope);
        std::vector<int64_t> dims{0};
        for (int64_t k = 2; k < static_cast<int64_t>(s.size()); ++k) dims.push_back(k);
        EXPECT_TRUE(same_bits(dx.cpu(), gz.cpu())) << what;
        EXPECT_TRUE(same_bits(db.cpu(), sum(gz, dims).cpu())) << what;
        auto cpu = bias_act_backward(g.cpu(), y.cpu(), act);
        const double tol = dt == DType::BFloat16 ? 1e-2 : 1e-5;  // sums in another order
        EXPECT_LT(rel_error(db.cpu().to(DType::Float64), cpu[1].to(DType::Float64)), tol) << what;
      }
}

TEST(CudaBiasAct, GradientsAndSecondDerivativeMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  for (const Shape& s : {Shape{9, 13}, Shape{3, 5, 6, 7}})
    for (const NormAct& act : kActs) {
      Tensor x0 = randn64(s, 950, false).to(DType::Float32), b0 = randn64({s[1]}, 951, false).to(DType::Float32);
      auto run = [&](const Device& dev) {
        Tensor x = x0.to(dev).requires_grad_(), b = b0.to(dev).requires_grad_();
        Tensor y = bias_act(x, b, act);
        // A penalty on the input gradient, as WGAN-GP takes it: the second derivative too.
        Tensor gx = grad({sum(square(y))}, {x}, {}, /*create_graph=*/true)[0];
        auto g2 = grad({sum(square(gx)) + sum(y)}, {x, b});
        return std::vector<Tensor>{y.to(Device::cpu()), gx.to(Device::cpu()), g2[0].to(Device::cpu()),
                                   g2[1].to(Device::cpu())};
      };
      auto c = run(Device::cpu()), g = run(gpu);
      for (size_t i = 0; i < c.size(); ++i)
        EXPECT_LT(rel_error(g[i], c[i]), 1e-5) << shape_str(s) << " act " << static_cast<int>(act.kind) << " output "
                                               << i;
    }
}

TEST(CudaBiasAct, MlpGanTrainingIsTheSameWithFusionOnOrOff) {
  SKIP_WITHOUT_GPU();
  models::TrainConfig c = gan::test::tiny_mlp(16, 3, 5);
  c.device = "cuda";
  c.kernels = "hand";  // deterministic kernels throughout: any difference is the fusion's
  const io::ImageDataset ds = gan::test::random_images(32, 1, 8, 21);
  auto train = [&](bool fusion) {
    const nn::LayerFusionScope fusion_scope(fusion);
    models::Trainer t(c, ds, Device::cuda(0));
    for (int i = 0; i < 3; ++i) t.train_step();
    return t.checkpoint();
  };
  gan::test::expect_same_tensors(train(true), train(false), 11);
}
