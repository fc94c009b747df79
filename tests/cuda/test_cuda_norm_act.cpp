// batch_norm_act on CUDA (the hand kernels with the activation fused, and the cuDNN path with an
// element-wise pass beside it): values, running statistics and gradients against the CPU op, the
// same bits as the CUDA composition batch_norm -> relu / leaky_relu, the second derivative, and a
// DCGAN training run with fusion on and off. Skipped, saying why, where no GPU is visible.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "engine/cuda/kernel_select.h"
#include "engine/nn/module.h"
#include "engine/ops/ops.h"
#include "models/trainer.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/cuda/kernel_choice.h"
#include "tests/op_reference.h"
#include "tests/test_helpers.h"

using namespace gan;
using gan::cuda::KernelImpl;
using gan::cuda::OpFamily;
using gan::test::ImplScope;
using gan::test::impls;
using gan::test::randn64;
using gan::test::rel_error;
using gan::test::same_bits;

namespace {

Tensor unfused(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv,
               const NormAct& act) {
  Tensor z = batch_norm(x, w, b, rm, rv, true);
  return act.kind == NormActKind::Relu ? relu(z) : leaky_relu(z, act.slope);
}

// y, the running statistics after it, and the gradients of <y, up> in x, w and b.
struct Result {
  Tensor y, rm, rv;
  std::vector<Tensor> grads;
};
Result run(const Device& dev, DType dt, const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& up,
           const NormAct& act, bool fused) {
  Result r;
  Tensor x = x0.to(dt).to(dev).detach().requires_grad_();
  Tensor w = w0.to(dt).to(dev).detach().requires_grad_(), b = b0.to(dt).to(dev).detach().requires_grad_();
  r.rm = Tensor::zeros({x0.size(1)}, dt).to(dev);
  r.rv = Tensor::ones({x0.size(1)}, dt).to(dev);
  r.y = fused ? batch_norm_act(x, w, b, r.rm, r.rv, act) : unfused(x, w, b, r.rm, r.rv, act);
  r.grads = grad({r.y}, {x, w, b}, {up.to(dt).to(dev)});
  return r;
}

}  // namespace

TEST(CudaBatchNormAct, MatchesTheCpuAndTheCudaCompositionBitForBit) {
  SKIP_WITHOUT_GPU();
  // The kernel strategies of tests/cuda/test_cuda_conv.cpp's batch-norm cases: per channel cached
  // (4-wide and scalar), per channel read twice, a channel split over blocks (4-wide and scalar),
  // x[N, C], and DCGAN's 4x4 layer.
  const Shape shapes[] = {{16, 24, 4, 4}, {7, 5, 7, 7},  {40, 6, 9, 9},   {32, 4, 32, 32},
                          {64, 3, 31, 31}, {64, 37},     {128, 512, 4, 4}};
  const NormAct acts[] = {{NormActKind::Relu, 0.0}, {NormActKind::LeakyRelu, 0.2}};
  uint64_t seed = 700;
  for (KernelImpl impl : impls())
    for (DType dt : {DType::Float32, DType::Float64})
      for (const Shape& xs : shapes)
        for (const NormAct& act : acts) {
          SCOPED_TRACE(shape_str(xs) + " " + dtype_name(dt) + " " + cuda::kernel_impl_name(impl) +
                       (act.kind == NormActKind::Relu ? " relu" : " leaky"));
          ImplScope scope(OpFamily::BatchNorm, impl);
          const int64_t C = xs[1];
          Tensor x = add(mul(randn64(xs, ++seed, false), 1.5), 0.3), up = randn64(xs, ++seed, false);
          Tensor w = add(mul(randn64({C}, ++seed, false), 0.2), 1.0), b = randn64({C}, ++seed, false);
          const Result cpu = run(Device::cpu(), dt, x, w, b, up, act, true);
          const Result gpu = run(Device::cuda(0), dt, x, w, b, up, act, true);
          const Result gpu_unfused = run(Device::cuda(0), dt, x, w, b, up, act, false);
          const double tol = dt == DType::Float64 ? 1e-10 : 1e-5;
          EXPECT_LT(rel_error(gpu.y.cpu(), cpu.y), tol) << "y";
          EXPECT_LT(rel_error(gpu.rm.cpu(), cpu.rm), tol) << "running_mean";
          EXPECT_LT(rel_error(gpu.rv.cpu(), cpu.rv), tol) << "running_var";
          for (int i = 0; i < 3; ++i) EXPECT_LT(rel_error(gpu.grads[i].cpu(), cpu.grads[i]), tol) << "gradient " << i;
          EXPECT_TRUE(same_bits(gpu.y, gpu_unfused.y)) << "y against the CUDA composition";
          EXPECT_TRUE(same_bits(gpu.rv, gpu_unfused.rv)) << "running_var against the CUDA composition";
          for (int i = 0; i < 3; ++i)
            EXPECT_TRUE(same_bits(gpu.grads[i], gpu_unfused.grads[i])) << "gradient " << i << " vs the composition";
        }
}

TEST(CudaBatchNormAct, SecondDerivativeMatchesCpu) {
  SKIP_WITHOUT_GPU();
  // d/dx of ||d<y, up>/dx||^2, as a gradient penalty through the layer takes it.
  const Tensor x = randn64({6, 4, 3, 3}, 801, false), up = randn64({6, 4, 3, 3}, 802, false);
  const Tensor w = add(mul(randn64({4}, 803, false), 0.2), 1.0);
  auto penalty_grad = [&](const Device& dev) {
    Tensor xd = x.to(dev).detach().requires_grad_(), wd = w.to(dev).detach().requires_grad_();
    Tensor y = batch_norm_act(xd, wd, Tensor(), Tensor(), Tensor(), {NormActKind::LeakyRelu, 0.2});
    Tensor gx = grad({y}, {xd}, {up.to(dev)}, /*create_graph=*/true)[0];
    return grad({sum(square(gx))}, {xd, wd});
  };
  const auto cpu = penalty_grad(Device::cpu());
  for (KernelImpl impl : impls()) {
    ImplScope scope(OpFamily::BatchNorm, impl);
    const auto gpu = penalty_grad(Device::cuda(0));
    for (int i = 0; i < 2; ++i)
      EXPECT_LT(rel_error(gpu[i].cpu(), cpu[i]), 1e-10) << cuda::kernel_impl_name(impl) << " input " << i;
  }
}

TEST(CudaBatchNormAct, DcganTrainingIsTheSameWithFusionOnOrOff) {
  SKIP_WITHOUT_GPU();
  cuda::set_allow_tf32(false);
  models::TrainConfig c = gan::test::tiny_dcgan32(3, 3, 9);
  c.model.nz = 16;
  c.model.ngf = c.model.ndf = 8;
  c.batch = 8;
  c.device = "cuda";
  c.kernels = "hand";  // deterministic kernels throughout: any difference is the fusion's
  const io::ImageDataset ds = gan::test::random_images(24, 3, 32, 31);
  auto train = [&](bool fusion) {
    const nn::LayerFusionScope fusion_scope(fusion);
    models::Trainer t(c, ds, Device::cuda(0));
    for (int i = 0; i < 3; ++i) t.train_step();
    return t.checkpoint();
  };
  gan::test::expect_same_tensors(train(true), train(false), 21);
}
