// What the CPU can check of the recorded training step (--cuda-graph on; the recording itself runs
// on the GPU, tests/cuda/test_cuda_graph.cpp): the flag's values and its refusals, old configs,
// the CPU backend's refusal of device-held step values, and which steps the gradient log watches.
#include <gtest/gtest.h>

#include "engine/backend/elementwise.h"
#include "engine/backend/optim.h"
#include "engine/capture/step_graph.h"
#include "models/config.h"
#include "models/eval/gradient_log.h"
#include "models/trainer.h"
#include "tests/app_runner.h"
#include "tests/op_reference.h"
#include "tests/test_helpers.h"

using namespace gan;
using gan::test::expect_error_naming;

TEST(StepGraph, TheFlagTakesOnOrOffAndOldConfigsReadOff) {
  models::TrainConfig c = test::tiny_mlp(8, 3, 1);
  EXPECT_EQ(c.cuda_graph, "off");
  c.cuda_graph = "maybe";
  expect_error_naming([&] { c.validate(); }, {"--cuda-graph", "'maybe'", "on or off"});
  c.cuda_graph = "on";
  c.validate();
  auto j = models::to_json(c);
  EXPECT_EQ(models::train_config_from_json(j, "new.json").cuda_graph, "on");
  j.erase("cuda_graph");
  EXPECT_EQ(models::train_config_from_json(j, "old.json").cuda_graph, "off");
  j["cuda_graph"] = 3;
  expect_error_naming([&] { models::train_config_from_json(j, "damaged.json"); }, {"damaged.json", "cuda_graph"});
}

TEST(StepGraph, ACpuRunRefusesToRecord) {
  models::TrainConfig c = test::tiny_mlp(8, 3, 1);
  c.cuda_graph = "on";
  expect_error_naming([&] { models::Trainer t(c, test::random_images(16, 1, 28, 2), Device::cpu()); },
                      {"--cuda-graph on", "this run trains on cpu", "--cuda-graph off"});
  expect_error_naming([] { StepGraph g(Device::cpu()); }, {"CUDA", "cpu"});
  EXPECT_FALSE(step_recording(Device::cpu()));
  // Uncaptured, the same config trains.
  c.cuda_graph = "off";
  models::Trainer t(c, test::random_images(16, 1, 28, 2), Device::cpu());
  t.train_step();
  EXPECT_EQ(t.step_graph(), nullptr);
}

// Which families a recording can hold, in the recipe's own words.
TEST(StepGraph, RecipesSayWhetherTheirStepCanBeRecorded) {
  models::TrainConfig c = test::tiny_mlp(8, 3, 1);
  models::Trainer gan(c, test::random_images(16, 1, 28, 2), Device::cpu());
  EXPECT_EQ(gan.recipe().graph_obstacle(), "");
  // On the CPU the device is the trainer's first obstacle.
  EXPECT_NE(gan.graph_obstacle().find("trains on cpu"), std::string::npos) << gan.graph_obstacle();
  models::TrainConfig cc = c;
  cc.model.condition = "class";
  cc.model.num_classes = 10;
  io::ImageDataset labelled = test::random_images(20, 1, 28, 3);
  for (int i = 0; i < 20; ++i) labelled.labels.push_back(i % 10);
  models::Trainer cond(cc, labelled, Device::cpu());
  EXPECT_NE(cond.recipe().graph_obstacle().find("class ids"), std::string::npos) << cond.recipe().graph_obstacle();
}

TEST(StepGraph, TheCpuBackendRefusesStepValuesHeldOnADevice) {
  Tensor t = Tensor::empty({5});
  const uint64_t draw = 3;
  expect_error_naming([&] { cpu::random_normal(t, 1, 2, 0.0, 1.0, &draw); }, {"randn", "host only"});
  expect_error_naming([&] { cpu::random_uniform(t, 1, 2, 0.0, 1.0, &draw); }, {"rand", "host only"});
  std::vector<Tensor> p{Tensor::zeros({3})}, g{Tensor::ones({3})}, m{Tensor::zeros({3})}, v{Tensor::zeros({3})};
  const AdamStepScalars k{1e-3, 1.0};
  AdamHyper h{1e-3, 0.9, 0.999, 1e-8, 0, 1, &k};
  expect_error_naming([&] { cpu::adam_step(p, g, m, v, h); }, {"adam_step", "host only"});
  const double lr = 0.1;
  SgdHyper sh{0.1, 0, 0, false, &lr};
  expect_error_naming([&] { cpu::sgd_step(p, g, {}, sh); }, {"sgd_step", "host only"});
  RmspropHyper rh{0.1, 0.99, 1e-8, 0, 0, &lr};
  expect_error_naming([&] { cpu::rmsprop_step(p, g, m, {}, rh); }, {"rmsprop_step", "host only"});
}

// The per-step Adam values both CUDA paths share, against the update's formula.
TEST(StepGraph, AdamStepScalarsFollowTheBiasCorrection) {
  for (int64_t t : {1, 2, 10, 1000}) {
    const AdamStepScalars k = kernels::adam_step_scalars(2e-4, 0.5, 0.999, t);
    EXPECT_DOUBLE_EQ(k.step_size, 2e-4 / (1 - std::pow(0.5, t)));
    EXPECT_DOUBLE_EQ(k.bias_correction2_sqrt, std::sqrt(1 - std::pow(0.999, t)));
  }
}

// The gradient log watches its log and histogram steps only, so a recorded run replays the rest.
TEST(StepGraph, TheGradientLogWatchesItsStepsOnly) {
  models::TrainConfig c = test::tiny_mlp(8, 25, 1);
  c.log_every = 10;
  c.grad_hist_steps = {3};
  models::Trainer t(c, test::random_images(16, 1, 28, 2), Device::cpu());
  models::eval::GradientLog log(t, ::testing::TempDir());
  const models::StepHooks& h = log.hooks();
  ASSERT_TRUE(h.observes);
  std::vector<int64_t> watched;
  for (int64_t s = 1; s <= 25; ++s)
    if (h.observes(s)) watched.push_back(s);
  EXPECT_EQ(watched, (std::vector<int64_t>{3, 10, 20, 25}));
}

#ifdef GAN_APP_PATH
using StepGraphApp = test::AppRunner;

TEST_F(StepGraphApp, TheCommandNamesABadValueAndACpuRun) {
  test::AppResult r = gan("train --data gaussians25 --steps 2 --cuda-graph sometimes --out run");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--cuda-graph"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sometimes"), std::string::npos) << r.out;
  r = gan("train --data gaussians25 --steps 2 --device cpu --cuda-graph on --out run");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("--cuda-graph on"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cpu"), std::string::npos) << r.out;
}
#endif
