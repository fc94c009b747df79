// Whole-model checks on the GPU: one GAN training step on CUDA equals the same step on the CPU
// (losses and every parameter gradient) from the same weights, batch and noise; a short CUDA run
// stays finite and its checkpoint restores on the CPU. Skipped, saying why, without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/cuda/kernel_select.h"
#include "engine/ops/ops.h"
#include "models/model.h"
#include "models/defaults.h"
#include "models/trainer.h"
#include "tests/test_helpers.h"

using namespace gan;
using gan::test::random_images;
using gan::test::rel_error;

namespace {

#define SKIP_WITHOUT_GPU() \
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible: the CUDA training step was not run"

struct StepResult {
  double loss_d = 0, loss_g = 0;
  std::vector<std::pair<std::string, Tensor>> d_grads, g_grads;  // on the CPU
};

// One discriminator and one generator step's losses and gradients (no optimizer update), as
// the trainer computes them.
StepResult gan_step(models::GanModel& m, const Tensor& real, const Tensor& z) {
  StepResult r;
  Tensor fake = m.generator->forward(z);
  Tensor d_real = m.discriminator->forward(real);
  Tensor d_fake = m.discriminator->forward(fake.detach());
  Tensor loss_d = add(bce_with_logits(d_real, 1.0), bce_with_logits(d_fake, 0.0));
  m.discriminator->zero_grad();
  loss_d.backward();
  for (auto& [n, p] : m.discriminator->named_parameters()) r.d_grads.emplace_back(n, p.grad().cpu());
  m.discriminator->set_requires_grad(false);
  Tensor loss_g = bce_with_logits(m.discriminator->forward(fake), 1.0);
  m.generator->zero_grad();
  loss_g.backward();
  m.discriminator->set_requires_grad(true);
  for (auto& [n, p] : m.generator->named_parameters()) r.g_grads.emplace_back(n, p.grad().cpu());
  r.loss_d = loss_d.item();
  r.loss_g = loss_g.item();
  return r;
}

void copy_weights(const nn::Module& from, nn::Module& to) {
  std::map<std::string, nn::StateValue> sd;
  for (auto& [k, v] : from.state_dict()) sd[k] = v;
  to.load_state_dict(sd, "cpu model");
}

}  // namespace

TEST(CudaTrain, StepMatchesCpuForEveryModel) {
  SKIP_WITHOUT_GPU();
  cuda::set_allow_tf32(false);
  for (std::string arch : {"mlp", "dcgan32", "dcgan64"}) {
    models::ModelConfig cfg;
    cfg.arch = arch;
    cfg.channels = 3;
    cfg.image_size = arch == "dcgan64" ? 64 : arch == "dcgan32" ? 32 : 28;
    cfg.nz = 17;
    cfg.ngf = cfg.ndf = 8;
    cfg.g_hidden = {64, 96};
    cfg.d_hidden = {80, 48};
    Generator init(5);
    models::GanModel cpu = models::build_model(cfg, init);
    Generator other(6);
    models::GanModel gpu = models::build_model(cfg, other);
    copy_weights(*cpu.generator, *gpu.generator);
    copy_weights(*cpu.discriminator, *gpu.discriminator);
    gpu.generator->to(Device::cuda(0));
    gpu.discriminator->to(Device::cuda(0));
    Generator data(7);
    const int64_t B = 6;
    Tensor real = Tensor::rand({B, 3, cfg.image_size, cfg.image_size}, &data, -1.0, 1.0);
    Tensor z = Tensor::randn(cpu.noise_shape(B), &data);
    StepResult a = gan_step(cpu, real, z);
    StepResult b = gan_step(gpu, real.to(Device::cuda(0)), z.to(Device::cuda(0)));
    EXPECT_NEAR(b.loss_d, a.loss_d, 1e-5 * std::abs(a.loss_d) + 1e-6) << arch;
    EXPECT_NEAR(b.loss_g, a.loss_g, 1e-5 * std::abs(a.loss_g) + 1e-6) << arch;
    for (size_t i = 0; i < a.d_grads.size(); ++i)
      EXPECT_LT(rel_error(b.d_grads[i].second, a.d_grads[i].second), 1e-4) << arch << " D " << a.d_grads[i].first;
    for (size_t i = 0; i < a.g_grads.size(); ++i)
      EXPECT_LT(rel_error(b.g_grads[i].second, a.g_grads[i].second), 1e-4) << arch << " G " << a.g_grads[i].first;
    // BatchNorm's running statistics moved the same way on both devices.
    auto sa = cpu.generator->state_dict(), sb = gpu.generator->state_dict();
    for (size_t i = 0; i < sa.size(); ++i)
      if (!sa[i].second.is_counter) {
        EXPECT_LT(rel_error(sb[i].second.tensor, sa[i].second.tensor), 1e-5) << arch << " " << sa[i].first;
      }
  }
}

TEST(CudaTrain, ShortRunOnGpuRestoresOnCpu) {
  SKIP_WITHOUT_GPU();
  io::ImageDataset ds = random_images(40, 1, 28, 8);
  models::TrainConfig c;
  c.model.arch = "dcgan32";
  c.model.image_size = 32;  // the loader pads the 28x28 digits to the model's size
  c.model.ngf = c.model.ndf = 8;
  c.batch = 8;
  c.steps = 6;
  models::Trainer gpu(c, ds, Device::cuda(0));
  for (int i = 0; i < 6; ++i) {
    models::StepScalars s = gpu.train_step();
    ASSERT_TRUE(std::isfinite(s["loss_d"].item()) && std::isfinite(s["loss_g"].item()));
  }
  EXPECT_TRUE(gpu.state_finite());
  models::Trainer cpu(c, ds, Device::cpu());
  cpu.restore(gpu.checkpoint(), "gpu checkpoint");
  EXPECT_EQ(cpu.step(), 6);
  Tensor a = gpu.generate(gpu.fixed_inputs()).cpu(), b = cpu.generate(cpu.fixed_inputs());
  EXPECT_LT(rel_error(a, b), 1e-4);  // same weights, same fixed noise (Philox), eval-mode BatchNorm
}

// Whole WGAN-GP training steps (5 critic steps, each with the per-sample penalty through the
// double backward, then the generator step) on CUDA against the same steps on the CPU: the toy
// MLP pair and the LayerNorm DCGAN-32 critic. Noise, epsilon and toy data come from Philox
// streams that both devices draw identically, so the two runs see the same numbers.
TEST(CudaTrain, WganGpStepsMatchCpu) {
  SKIP_WITHOUT_GPU();
  cuda::set_allow_tf32(false);
  io::ImageDataset ds = random_images(48, 1, 28, 9);
  for (std::string data : {"gaussians25", "mnist"}) {
    models::TrainConfig c;
    c.loss = "wgan-gp";
    c.data = data;
    c.steps = 2;
    if (data == "mnist") {
      c.model.arch = "dcgan32";
      c.model.image_size = 32;
      c.model.ngf = c.model.ndf = 8;
      c.model.critic_norm = "layer";
    }
    models::apply_defaults(c, {});
    c.batch = 8;
    if (data != "mnist") c.model.g_hidden = c.model.d_hidden = {64, 64, 64};
    auto make = [&](Device d) {
      return data == "mnist" ? models::Trainer(c, ds, d) : models::Trainer(c, d);
    };
    models::Trainer cpu = make(Device::cpu()), gpu = make(Device::cuda(0));
    for (int s = 0; s < 2; ++s) {
      models::StepScalars a = cpu.train_step(), b = gpu.train_step();
      EXPECT_NEAR(b["loss_d"].item(), a["loss_d"].item(), 1e-4 * std::abs(a["loss_d"].item()) + 1e-5) << data << " step " << s;
      EXPECT_NEAR(b["loss_g"].item(), a["loss_g"].item(), 1e-4 * std::abs(a["loss_g"].item()) + 1e-5) << data << " step " << s;
      const double gp = a["gradient_penalty"].item(), norm = a["grad_norm"].item();
      EXPECT_NEAR(b["gradient_penalty"].item(), gp, 1e-4 * std::abs(gp) + 1e-6) << data;
      EXPECT_NEAR(b["grad_norm"].item(), norm, 1e-4 * std::abs(norm) + 1e-6) << data;
    }
    for (auto* pair : {&cpu, &gpu}) EXPECT_TRUE(pair->state_finite());
    auto check = [&](const nn::Module& x, const nn::Module& y, const char* who) {
      auto sa = x.state_dict(), sb = y.state_dict();
      ASSERT_EQ(sa.size(), sb.size());
      for (size_t i = 0; i < sa.size(); ++i)
        if (!sa[i].second.is_counter) {
          EXPECT_LT(rel_error(sb[i].second.tensor, sa[i].second.tensor), 1e-4) << data << " " << who << " " << sa[i].first;
        }
    };
    check(cpu.network("generator"), gpu.network("generator"), "G");
    check(cpu.network("discriminator"), gpu.network("discriminator"), "D");
  }
}
