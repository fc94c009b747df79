// Whole-model checks on the GPU: one GAN training step on CUDA equals the same step on the CPU
// (losses and every parameter gradient) from the same weights, batch and noise; a short CUDA run
// stays finite and its checkpoint restores on the CPU. Skipped, saying why, without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/cuda/kernel_select.h"
#include "engine/ops/ops.h"
#include "models/config.h"
#include "models/trainer.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/test_helpers.h"

using namespace gan;
using gan::test::random_images;
using gan::test::rel_error;

namespace {

struct StepResult {
  double loss_d = 0, loss_g = 0;
  std::vector<std::pair<std::string, Tensor>> grads;  // D's, then G's, on the CPU
};

// One training step of the trainer, with its losses and every parameter gradient read by the
// step's hooks before the optimizers use them.
StepResult step_with_gradients(models::Trainer& t) {
  StepResult r;
  models::StepHooks h;
  h.before_optimizer_step = [&](const models::StepPoint& p, const Tensor& loss) {
    const bool critic = p.phase == models::Phase::Critic;
    (critic ? r.loss_d : r.loss_g) = loss.item();
    for (auto& [n, w] : t.network(critic ? "discriminator" : "generator").named_parameters())
      r.grads.emplace_back((critic ? "D " : "G ") + n, w.grad().cpu());
  };
  t.train_step(&h);
  return r;
}

}  // namespace

TEST(CudaTrain, StepMatchesCpuForEveryModel) {
  SKIP_WITHOUT_GPU();
  cuda::set_allow_tf32(false);
  for (std::string arch : {"mlp", "dcgan32", "dcgan64"}) {
    models::TrainConfig c;
    c.model.arch = arch;
    c.model.channels = 3;
    c.model.image_size = arch == "dcgan64" ? 64 : arch == "dcgan32" ? 32 : 28;
    c.model.nz = 17;
    c.model.ngf = c.model.ndf = 8;
    c.model.g_hidden = {64, 96};
    c.model.d_hidden = {80, 48};
    c.batch = 6;
    c.steps = 1;
    c.seed = 5;
    Generator data(7);
    Tensor real = Tensor::rand({c.batch, 3, c.model.image_size, c.model.image_size}, &data, -1.0, 1.0);
    // The same seed gives both the same weights (built on the CPU) and the same noise (Philox).
    models::Trainer cpu(c, models::fixed_batch_source(real, "random"), Device::cpu());
    models::Trainer gpu(c, models::fixed_batch_source(real.to(Device::cuda(0)), "random"), Device::cuda(0));
    StepResult a = step_with_gradients(cpu), b = step_with_gradients(gpu);
    EXPECT_NEAR(b.loss_d, a.loss_d, 1e-5 * std::abs(a.loss_d) + 1e-6) << arch;
    EXPECT_NEAR(b.loss_g, a.loss_g, 1e-5 * std::abs(a.loss_g) + 1e-6) << arch;
    ASSERT_EQ(a.grads.size(), b.grads.size());
    for (size_t i = 0; i < a.grads.size(); ++i)
      EXPECT_LT(rel_error(b.grads[i].second, a.grads[i].second), 1e-4) << arch << " " << a.grads[i].first;
    // BatchNorm's running statistics moved the same way on both devices.
    auto sa = cpu.network("generator").state_dict(), sb = gpu.network("generator").state_dict();
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

// Whole conditional steps on CUDA against the same steps on the CPU: a projection critic under
// WGAN-GP (the embedding's second derivative), ACGAN's auxiliary cross-entropy, and InfoGAN's codes
// and Q head. Labels come from the same loader and codes from the same Philox stream on both.
TEST(CudaTrain, ConditionalAndInfoGanStepsMatchCpu) {
  SKIP_WITHOUT_GPU();
  cuda::set_allow_tf32(false);
  io::ImageDataset ds = random_images(48, 1, 32, 10);
  for (size_t i = 0; i < 48; ++i) ds.labels.push_back(static_cast<int32_t>(i % 4));
  struct Case {
    const char* method;
    const char* codes;
    const char* loss;
  };
  for (Case k : {Case{"projection", "", "wgan-gp"}, Case{"acgan", "", "bce"}, Case{"concat", "", "hinge"},
                 Case{"projection", "cat4,cont2", "bce"}}) {
    SCOPED_TRACE(std::string(k.method) + " " + k.codes + " " + k.loss);
    models::TrainConfig c;
    c.model.arch = "dcgan32";
    c.model.ngf = c.model.ndf = 8;
    c.model.condition = *k.codes ? "none" : "class";
    c.model.cond_method = k.method;
    c.model.codes = k.codes;
    c.loss = k.loss;
    models::apply_defaults(c, {});
    if (c.loss == "wgan-gp") c.model.critic_norm = "layer";
    c.batch = 8;
    c.steps = 2;
    models::fit_model_to_data(c, ds);
    models::Trainer cpu(c, ds, Device::cpu()), gpu(c, ds, Device::cuda(0));
    for (int s = 0; s < 2; ++s) {
      models::StepScalars a = cpu.train_step(), b = gpu.train_step();
      for (const char* n : {"loss_d", "loss_g"})
        EXPECT_NEAR(b[n].item(), a[n].item(), 1e-4 * std::abs(a[n].item()) + 1e-5) << n << " step " << s;
    }
    for (auto& [name, net] : cpu.recipe().networks()) {
      auto sa = net->state_dict(), sb = gpu.network(name).state_dict();
      ASSERT_EQ(sa.size(), sb.size());
      for (size_t i = 0; i < sa.size(); ++i)
        if (!sa[i].second.is_counter) {
          EXPECT_LT(rel_error(sb[i].second.tensor, sa[i].second.tensor), 1e-4) << name << " " << sa[i].first;
        }
    }
  }
}

// One whole CycleGAN step (two generators through instance norm and reflection padding, two
// PatchGANs, the pools, LSGAN + cycle + identity L1) on CUDA equals the CPU's: both losses and
// every gradient of the four networks, then a second step (the pools full: swaps drawn) as well.
TEST(CudaTrain, CycleGanStepMatchesCpu) {
  SKIP_WITHOUT_GPU();
  cuda::set_allow_tf32(false);
  models::TrainConfig c;
  c.recipe = "cyclegan";
  c.model.arch = "cyclegan";
  c.data_b = "random";
  c.model.channels = 3;
  c.model.image_size = 20;
  c.model.ngf = c.model.ndf = 5;
  c.model.res_blocks = 2;
  c.model.d_layers = 2;
  c.loss = "lsgan";
  c.batch = 3;
  c.steps = 2;
  c.pool_size = 3;
  c.n_samples = 2;
  c.seed = 9;
  io::ImageDataset a = gan::test::random_images(7, 3, 20, 1), b = gan::test::random_images(5, 3, 20, 2);
  models::Trainer cpu(c, models::unpaired_source(a, b, c.batch, 20, c.seed), Device::cpu());
  models::Trainer gpu(c, models::unpaired_source(a, b, c.batch, 20, c.seed), Device::cuda(0));
  for (int step = 0; step < 2; ++step) {
    std::vector<std::pair<std::string, Tensor>> ga, gb;
    std::vector<double> la, lb;
    auto hooks = [](models::Trainer& t, std::vector<std::pair<std::string, Tensor>>& g, std::vector<double>& l) {
      models::StepHooks h;
      h.before_optimizer_step = [&t, &g, &l](const models::StepPoint& p, const Tensor& loss) {
        l.push_back(loss.item());
        const bool critic = p.phase == models::Phase::Critic;
        for (const char* net : critic ? std::vector<const char*>{"d_a", "d_b"} : std::vector<const char*>{"g_ab", "g_ba"})
          for (auto& [n, w] : t.network(net).named_parameters()) g.emplace_back(std::string(net) + "." + n, w.grad().cpu());
      };
      return h;
    };
    models::StepHooks ha = hooks(cpu, ga, la), hb = hooks(gpu, gb, lb);
    cpu.train_step(&ha);
    gpu.train_step(&hb);
    ASSERT_EQ(la.size(), 2u);
    ASSERT_EQ(lb.size(), 2u);
    for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(lb[i], la[i], 1e-5 * std::abs(la[i]) + 1e-6) << "step " << step;
    ASSERT_EQ(ga.size(), gb.size());
    for (size_t i = 0; i < ga.size(); ++i)
      EXPECT_LT(rel_error(gb[i].second, ga[i].second), 1e-4) << "step " << step << " " << ga[i].first;
  }
  EXPECT_LT(rel_error(gpu.network("pool_b").state_dict()[0].second.tensor.cpu(),
                      cpu.network("pool_b").state_dict()[0].second.tensor), 1e-5);
}
