// The recorded training step (--cuda-graph on, engine/capture/step_graph.h) on the GPU: a recorded
// step replays with fresh draws, batches and optimizer steps, and gives the numbers of the
// uncaptured run; a replay neither allocates from the pool nor waits for the device; a recording
// refuses host copies. Skipped, saying why, without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/capture/step_graph.h"
#include "engine/cuda/kernel_select.h"
#include "engine/ops/ops.h"
#include "models/config.h"
#include "models/trainer.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/op_reference.h"
#include "tests/test_helpers.h"

using namespace gan;
using gan::test::random_images;
using gan::test::expect_error_naming;
using gan::test::rel_error;

namespace {

const Device kGpu = Device::cuda(0);

// acc += z with z drawn fresh from `g` each step: the draw number must change at every replay.
struct DrawStep {
  Generator g{11};
  Tensor acc = Tensor::zeros({1031}, DType::Float32, kGpu);
  void operator()() {
    NoGradGuard no_grad;
    Tensor z = Tensor::randn({1031}, &g, DType::Float32, kGpu);
    Tensor u = Tensor::rand({1031}, &g, -0.5, 2.0, DType::Float32, kGpu);
    acc.copy_(add(acc, mul(z, u)));
  }
};

models::TrainConfig graph_config(const std::string& kind) {
  models::TrainConfig c;
  if (kind == "dcgan-bce-ema") {
    c.data = "mnist";
    c.model.arch = "dcgan32";
    c.model.image_size = 32;
    c.model.ngf = c.model.ndf = 8;
    c.ema = 0.99;
    c.lr_schedule = "linear";  // a new learning rate at every step
  } else if (kind == "dcgan-bce-bf16") {  // --precision bf16: casts and float32 copies inside the step
    c.data = "mnist";
    c.model.arch = "dcgan32";
    c.model.image_size = 32;
    c.model.ngf = c.model.ndf = 8;
    c.precision = "bf16";
  } else if (kind == "toy-wgan-gp") {
    c.data = "gaussians25";
    c.loss = "wgan-gp";
  } else {  // "dcgan-wgan-clip": RMSprop and weight clipping
    c.data = "mnist";
    c.loss = "wgan";
    c.model.arch = "dcgan32";
    c.model.image_size = 32;
    c.model.ngf = c.model.ndf = 8;
  }
  models::apply_defaults(c, {});
  c.batch = 8;
  c.steps = 9;
  c.seed = 4;
  if (c.data == "gaussians25") c.model.g_hidden = c.model.d_hidden = {64, 64};
  return c;
}

models::Trainer graph_trainer(models::TrainConfig c, const io::ImageDataset& ds, const std::string& graph) {
  c.cuda_graph = graph;
  return c.data == "mnist" ? models::Trainer(c, ds, kGpu) : models::Trainer(c, kGpu);
}

}  // namespace

TEST(CudaGraph, RecordedStepReplaysWithFreshDraws) {
  SKIP_WITHOUT_GPU();
  DrawStep plain;
  for (int i = 0; i < 6; ++i) plain();
  DrawStep rec;
  StepGraph graph(kGpu);
  const size_t bytes = graph.measure([&] { rec(); });
  EXPECT_GT(bytes, 0u);
  graph.record([&] { rec(); }, bytes);
  ASSERT_TRUE(graph.recorded());
  const DeviceActivity before = device_activity();
  for (int i = 0; i < 4; ++i) graph.replay();
  const DeviceActivity after = device_activity();
  EXPECT_EQ(after.pool_allocations, before.pool_allocations) << "a replay allocated from the pool";
  EXPECT_EQ(after.synchronisations, before.synchronisations) << "a replay waited for the device";
  EXPECT_EQ(graph.launches(), 5);
  EXPECT_EQ(rec.g.draws(), plain.g.draws());
  // The same kernels on the same draws: the same bits.
  EXPECT_EQ(rec.acc.to_double_vector(), plain.acc.to_double_vector());
}

TEST(CudaGraph, RecordingRefusesHostCopiesAndSynchronisation) {
  SKIP_WITHOUT_GPU();
  Tensor x = Tensor::ones({7}, DType::Float32, kGpu);
  {
    StepGraph graph(kGpu);
    expect_error_naming([&] { graph.record([&] { (void)sum(x).item(); }, 1 << 20); },
                        {"recording the training step", "cuda:0", "cpu"});
  }
  {
    StepGraph graph(kGpu);
    Tensor host = Tensor::ones({7});
    expect_error_naming([&] { graph.record([&] { (void)host.to(kGpu); }, 1 << 20); },
                        {"recording the training step", "being recorded"});
  }
  // The device is usable after a failed recording.
  EXPECT_DOUBLE_EQ(sum(x).item(), 7.0);
}

// The uncaptured and the recorded run from one seed: per-step losses, then every tensor and every
// counter of the final checkpoint (weights, the moving average, optimizer moments and step counts,
// batch norm's statistics and num_batches_tracked, the noise stream's draws, the data position).
TEST(CudaGraph, RecordedTrainingMatchesUncaptured) {
  SKIP_WITHOUT_GPU();
  cuda::set_allow_tf32(false);
  const io::ImageDataset ds = random_images(40, 1, 28, 3);  // 5 batches: replays cross epochs
  for (const std::string kind : {"dcgan-bce-ema", "toy-wgan-gp", "dcgan-wgan-clip", "dcgan-bce-bf16"}) {
    const models::TrainConfig c = graph_config(kind);
    models::Trainer off = graph_trainer(c, ds, "off"), on = graph_trainer(c, ds, "on");
    for (int s = 0; s < c.steps; ++s) {
      models::StepScalars a = off.train_step(), b = on.train_step();
      for (const auto& [name, v] : a.values) {
        const double x = v.item(), y = b[name].item();
        EXPECT_NEAR(y, x, 1e-4 * std::abs(x) + 1e-6) << kind << " step " << s + 1 << " " << name;
      }
    }
    ASSERT_NE(on.step_graph(), nullptr) << kind;
    EXPECT_TRUE(on.step_graph()->recorded()) << kind;
    EXPECT_EQ(on.step_graph()->launches(), c.steps - 2) << kind;
    io::SafetensorsFile fa = off.checkpoint(), fb = on.checkpoint();
    fa.metadata.erase("config");  // it says --cuda-graph on or off
    fb.metadata.erase("config");
    EXPECT_EQ(fb.metadata, fa.metadata) << kind;
    ASSERT_EQ(fa.tensors.size(), fb.tensors.size()) << kind;
    for (const auto& [name, t] : fa.tensors) {
      const io::StoredTensor* u = fb.find(name);
      ASSERT_NE(u, nullptr) << kind << " " << name;
      if (t.is_integer()) EXPECT_EQ(u->to_int64(), t.to_int64()) << kind << " " << name;
      else EXPECT_LT(rel_error(u->to_tensor(), t.to_tensor()), 1e-4) << kind << " " << name;
    }
  }
}

// After the recording, a replayed train_step neither allocates nor waits for the device: its
// scalars land in a ring row (one device copy) and come back as views of it, which keep their
// values until the ring comes round again.
TEST(CudaGraph, ReplayedTrainStepNeitherAllocatesNorSynchronises) {
  SKIP_WITHOUT_GPU();
  const io::ImageDataset ds = random_images(40, 1, 28, 5);
  models::Trainer t = graph_trainer(graph_config("dcgan-bce-ema"), ds, "on");
  for (int s = 0; s < 3; ++s) t.train_step();  // warm-up, measured, recorded
  ASSERT_TRUE(t.step_graph() && t.step_graph()->recorded());
  std::vector<models::StepScalars> kept;
  for (int s = 0; s < 4; ++s) {
    const DeviceActivity before = device_activity();
    kept.push_back(t.train_step());
    const DeviceActivity after = device_activity();
    EXPECT_EQ(after.synchronisations, before.synchronisations) << "replay " << s;
    EXPECT_EQ(after.pool_allocations, before.pool_allocations) << "replay " << s;
  }
  // Each replay's losses are its own: read after all four, they differ from step to step.
  EXPECT_NE(kept[0]["loss_d"].item(), kept[3]["loss_d"].item());
  EXPECT_NE(kept[2]["loss_g"].item(), kept[3]["loss_g"].item());
}

TEST(CudaGraph, RunsThatCannotBeRecordedAreRefusedByName) {
  SKIP_WITHOUT_GPU();
  const io::ImageDataset ds = random_images(40, 1, 28, 5);
  models::TrainConfig c = graph_config("dcgan-bce-ema");
  c.grad_clip = 1.0;
  expect_error_naming([&] { graph_trainer(c, ds, "on"); }, {"--cuda-graph on", "--grad-clip"});
  c = graph_config("dcgan-bce-ema");
  c.diffaugment = "translation";
  expect_error_naming([&] { graph_trainer(c, ds, "on"); }, {"--cuda-graph on", "--diffaugment"});
}
