// Training end to end: short runs of each model whose losses move and stay finite, checkpoint
// contents and names, exact resume (N steps straight == N/2 + restore + N/2, bit for bit), a
// pluggable loss with several critic steps, and wrong or damaged checkpoints.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/io/file_util.h"
#include "engine/io/safetensors.h"
#include "models/data.h"
#include "models/sampling.h"
#include "models/gan_recipe.h"
#include "models/trainer.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("gan_train_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& n) const { return (path / n).string(); }
};

const io::ImageDataset& bundled_mnist() {
  static io::ImageDataset ds = io::read_mnist_like(std::string(GAN_SOURCE_DIR) + "/data/mnist-10k");
  return ds;
}

models::TrainConfig tiny_mlp(int64_t steps) { return test::tiny_mlp(16, steps, 7); }

// A trainer that ran `half` steps of `c`, was saved to `path` and restored into a fresh trainer.
std::unique_ptr<models::Trainer> resumed_from_half(const models::TrainConfig& c, const io::ImageDataset& ds,
                                                   int64_t half, const std::string& path) {
  {
    models::Trainer first(c, ds, Device::cpu());
    for (int64_t i = 0; i < half; ++i) first.train_step();
    io::save_safetensors(path, first.checkpoint());
  }
  auto resumed = std::make_unique<models::Trainer>(c, ds, Device::cpu());
  resumed->restore(io::load_safetensors(path), path);
  return resumed;
}

models::TrainConfig tiny_dcgan(const std::string& arch, int64_t channels, int64_t steps) {
  models::TrainConfig c;
  c.model.arch = arch;
  c.model.nz = 6;
  c.model.ngf = c.model.ndf = 4;
  c.model.channels = channels;
  c.model.image_size = arch == "dcgan32" ? 32 : 64;
  c.batch = 4;
  c.steps = steps;
  c.seed = 3;
  return c;
}

struct Scalars {
  double loss_d, loss_g, d_x, d_g_z;
};

Scalars read(const models::StepScalars& s) {
  return {s["loss_d"].item(), s["loss_g"].item(), s["d_x"].item(), s["d_g_z"].item()};
}

// Every tensor of the full state (parameters, buffers, optimizer moments) as raw bytes.
std::map<std::string, std::vector<uint8_t>> state_bytes(const models::Trainer& t) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (auto& [k, v] : t.checkpoint().tensors) out[k] = v.data;
  return out;
}

}  // namespace

TEST(Train, MlpLossesMoveAndStayFinite) {
  models::TrainConfig c;
  c.model.g_hidden = {64, 128};
  c.model.d_hidden = {128, 64};
  c.batch = 32;
  c.steps = 200;
  c.seed = 1;
  models::fit_model_to_data(c, bundled_mnist());
  EXPECT_EQ(c.model.image_size, 28);
  models::Trainer t(c, bundled_mnist(), Device::cpu());
  auto g0 = t.network("generator").parameters()[0].to_double_vector();
  std::vector<Scalars> s;
  for (int i = 0; i < 200; ++i) s.push_back(read(t.train_step()));
  for (auto& x : s) {
    ASSERT_TRUE(std::isfinite(x.loss_d) && std::isfinite(x.loss_g));
    ASSERT_TRUE(x.d_x > 0 && x.d_x < 1 && x.d_g_z > 0 && x.d_g_z < 1);
  }
  // An untrained D says ~0.5 to everything: L_D ~ 2 log 2. Training moves it away.
  EXPECT_NEAR(s[0].loss_d, 2 * std::log(2.0), 0.15);
  double late = 0, d_x = 0, d_g_z = 0;
  for (int i = 150; i < 200; ++i) {
    late += s[i].loss_d / 50;
    d_x += s[i].d_x / 50;
    d_g_z += s[i].d_g_z / 50;
  }
  EXPECT_GT(std::abs(late - s[0].loss_d), 0.1);
  EXPECT_GT(d_x, d_g_z);  // D tells real from fake better than chance
  EXPECT_NE(t.network("generator").parameters()[0].to_double_vector(), g0);
  EXPECT_EQ(t.step(), 200);
  EXPECT_EQ(t.epoch(), 200 * 32 / 10000);
  EXPECT_TRUE(t.state_finite());
  Tensor img = t.generate(t.fixed_inputs());
  EXPECT_EQ(img.shape(), (Shape{64, 1, 28, 28}));
}

TEST(Train, DcganSmokeBothSizes) {
  for (std::string arch : {"dcgan32", "dcgan64"}) {
    int64_t side = arch == "dcgan32" ? 32 : 64;
    io::ImageDataset ds = random_images(12, 3, side, 11);
    models::TrainConfig c = tiny_dcgan(arch, 3, 3);
    models::Trainer t(c, ds, Device::cpu());
    auto d0 = t.network("discriminator").parameters()[0].to_double_vector();
    for (int i = 0; i < 3; ++i) {
      Scalars s = read(t.train_step());
      ASSERT_TRUE(std::isfinite(s.loss_d) && std::isfinite(s.loss_g)) << arch;
    }
    EXPECT_NE(t.network("discriminator").parameters()[0].to_double_vector(), d0) << arch;
    // One generator forward in training mode per step; three discriminator forwards (real,
    // fake, and the generator step's).
    for (auto& [k, v] : t.network("generator").state_dict())
      if (v.is_counter) {
        EXPECT_EQ(v.counter, 3) << arch << " " << k;
      }
    for (auto& [k, v] : t.network("discriminator").state_dict())
      if (v.is_counter) {
        EXPECT_EQ(v.counter, 9) << arch << " " << k;
      }
    EXPECT_EQ(t.generate(t.fixed_inputs()).shape(), (Shape{64, 3, side, side})) << arch;
  }
}

TEST(Train, CheckpointNamesFollowPytorch) {
  io::ImageDataset ds = random_images(8, 1, 32, 12);
  models::Trainer t(tiny_dcgan("dcgan32", 1, 1), ds, Device::cpu());
  t.train_step();
  io::SafetensorsFile f = t.checkpoint();
  const auto& w = f.get("generator.main.0.weight");
  EXPECT_EQ(w.dtype, "F32");
  EXPECT_EQ(w.shape, (Shape{6, 32, 4, 4}));  // ConvTranspose2d(nz, ngf * 8, 4)
  EXPECT_EQ(f.get("generator.main.1.num_batches_tracked").dtype, "I64");
  EXPECT_EQ(f.get("generator.main.1.num_batches_tracked").to_int64(), 1);
  EXPECT_TRUE(f.has("generator.main.1.running_var"));
  EXPECT_TRUE(f.has("discriminator.main.8.weight"));  // the last Conv2d of DCGAN-32's D
  EXPECT_TRUE(f.has("optim.generator.main.0.weight.exp_avg"));
  EXPECT_TRUE(f.has("optim.discriminator.main.3.bias.exp_avg_sq"));
  EXPECT_EQ(f.get("optim.generator.main.0.weight.step").to_int64(), 1);
  EXPECT_EQ(f.metadata.at("format"), models::kCheckpointFormat);
  EXPECT_EQ(f.metadata.at("step"), "1");
  EXPECT_EQ(f.metadata.at("arch"), "dcgan32");
  EXPECT_NO_THROW(models::checkpoint_config(f, "x"));
  for (auto& [k, v] : f.tensors)
    EXPECT_TRUE(k.rfind("generator.", 0) == 0 || k.rfind("discriminator.", 0) == 0 || k.rfind("optim.", 0) == 0) << k;
}

TEST(Train, ResumeIsExactMlp) {
  TempDir dir;
  const int64_t N = 2000;
  models::TrainConfig c = tiny_mlp(N);
  models::fit_model_to_data(c, bundled_mnist());
  models::Trainer straight(c, bundled_mnist(), Device::cpu());
  for (int64_t i = 0; i < N; ++i) straight.train_step();

  auto owner = resumed_from_half(c, bundled_mnist(), N / 2, dir / "half.safetensors");
  models::Trainer& resumed = *owner;
  EXPECT_EQ(resumed.step(), N / 2);
  for (int64_t i = N / 2; i < N; ++i) resumed.train_step();

  auto a = state_bytes(straight), b = state_bytes(resumed);
  ASSERT_EQ(a.size(), b.size());
  for (auto& [k, v] : a) EXPECT_TRUE(v == b.at(k)) << k << " differs after resume";
  EXPECT_EQ(straight.checkpoint().metadata, resumed.checkpoint().metadata);
  // The run did go somewhere: the weights are not the initial ones.
  models::Trainer fresh(c, bundled_mnist(), Device::cpu());
  EXPECT_FALSE(state_bytes(fresh).at("generator.main.0.weight") == a.at("generator.main.0.weight"));
}

TEST(Train, ResumeIsExactDcganWithBatchNorm) {
  // 20 images, batch 4: epochs wrap several times across the split.
  io::ImageDataset ds = random_images(20, 1, 32, 13);
  models::TrainConfig c = tiny_dcgan("dcgan32", 1, 12);
  models::Trainer straight(c, ds, Device::cpu());
  for (int i = 0; i < 12; ++i) straight.train_step();
  models::Trainer first(c, ds, Device::cpu());
  for (int i = 0; i < 7; ++i) first.train_step();
  std::string bytes = io::serialize_safetensors(first.checkpoint());
  models::Trainer resumed(c, ds, Device::cpu());
  resumed.restore(io::parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem"), "mem");
  for (int i = 7; i < 12; ++i) resumed.train_step();
  auto a = state_bytes(straight), b = state_bytes(resumed);
  for (auto& [k, v] : a) EXPECT_TRUE(v == b.at(k)) << k;
  EXPECT_EQ(a.at("generator.main.1.num_batches_tracked"), b.at("generator.main.1.num_batches_tracked"));
}

TEST(Train, WrongOrDamagedCheckpointsAreRefused) {
  TempDir dir;
  io::ImageDataset ds = random_images(20, 1, 32, 14);
  models::Trainer dc(tiny_dcgan("dcgan32", 1, 2), ds, Device::cpu());
  models::TrainConfig mc = tiny_mlp(2);
  mc.model.image_size = 32;
  models::Trainer mlp(mc, ds, Device::cpu());
  auto expect_error = [](auto&& f, const std::string& a, const std::string& b) {
    try {
      f();
      ADD_FAILURE() << "no error (expected " << a << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(a), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(b), std::string::npos) << e.what();
    }
  };
  io::SafetensorsFile mf = mlp.checkpoint();
  expect_error([&] { dc.restore(mf, "mlp.safetensors"); }, "mlp.safetensors", "holds a mlp model");

  // Same model description, but one tensor reshaped.
  io::SafetensorsFile df = dc.checkpoint();
  for (auto& [k, v] : df.tensors)
    if (k == "generator.main.3.weight") v.shape = {v.shape[1], v.shape[0], v.shape[2], v.shape[3]};
  expect_error([&] { dc.restore(df, "edited.safetensors"); }, "edited.safetensors", "'main.3.weight' has shape");
  // A tensor missing.
  df = dc.checkpoint();
  df.tensors.erase(df.tensors.begin() + 2);
  expect_error([&] { dc.restore(df, "short.safetensors"); }, "short.safetensors", "missing");
  // Not ours.
  io::SafetensorsFile foreign;
  foreign.add("main.0.weight", Tensor::zeros({2}));
  expect_error([&] { dc.restore(foreign, "foreign.safetensors"); }, "foreign.safetensors", "not a checkpoint");
  // Truncated on disk.
  std::string path = dir / "cut.safetensors";
  std::string bytes = io::serialize_safetensors(dc.checkpoint());
  io::write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
  expect_error([&] { io::load_safetensors(path); }, path, "truncated");
  // After all that the trainer still steps.
  EXPECT_NO_THROW(dc.train_step());
}

namespace {

// Least squares GAN with two critic steps: exercises the loss-strategy seam.
class LeastSquaresTwoStep : public models::GanLoss {
 public:
  std::string name() const override { return "lsgan-test"; }
  Tensor discriminator_loss(const models::DiscriminatorLossInputs& in) override {
    ++calls;
    EXPECT_FALSE(in.fake.requires_grad());
    return 0.5 * (mean(square(in.d_real - 1.0)) + mean(square(in.d_fake)));
  }
  Tensor generator_loss(const Tensor& d_fake) override { return 0.5 * mean(square(d_fake - 1.0)); }
  int discriminator_steps() const override { return 2; }
  int calls = 0;
};

}  // namespace

TEST(Train, LossStrategyPlugsIn) {
  io::ImageDataset ds = random_images(40, 1, 28, 15);
  models::TrainConfig c = tiny_mlp(5);
  c.model.image_size = 28;
  auto loss = std::make_unique<LeastSquaresTwoStep>();
  LeastSquaresTwoStep* l = loss.get();
  models::Trainer t(c, models::image_source(ds, c.batch, 28, c.seed), Device::cpu(),
                    models::make_recipe(c, Device::cpu(), std::move(loss)));
  EXPECT_EQ(t.images_per_step(), 32);
  for (int i = 0; i < 5; ++i) {
    Scalars s = read(t.train_step());
    ASSERT_TRUE(std::isfinite(s.loss_d) && std::isfinite(s.loss_g));
  }
  EXPECT_EQ(l->calls, 10);
  EXPECT_EQ(t.data().state().epoch * t.data().batches_per_epoch() + t.data().state().position, 10);  // 2 batches a step
  // D stepped twice per G step.
  auto counters = t.optimizer("discriminator").state_counters();
  EXPECT_EQ(counters.front().second, 10);
  EXPECT_EQ(t.optimizer("generator").state_counters().front().second, 5);
}

TEST(Train, ConfigJsonRoundTripAndValidation) {
  models::TrainConfig c = tiny_dcgan("dcgan64", 3, 9);
  c.lr = 1e-3;
  c.data = "cifar10:/x";
  auto j = models::to_json(c);
  models::TrainConfig back = models::train_config_from_json(j, "cfg");
  EXPECT_EQ(models::to_json(back), j);
  j["model"]["arch"] = "resnet";
  EXPECT_THROW(models::train_config_from_json(j, "cfg"), Error);
  j = models::to_json(c);
  j["batch"] = "many";
  try {
    models::train_config_from_json(j, "cfg.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'batch'"), std::string::npos) << e.what();
  }
  models::TrainConfig bad = c;
  bad.model.image_size = 32;
  EXPECT_THROW(bad.validate(), Error);  // dcgan64 makes 64x64 images
}

// The linear schedule: step i of N trains both networks at lr (1 - i/N); the schedule is a pure
// function of the step, so a resumed run repeats it exactly.
TEST(Train, LinearLrScheduleDecaysToZeroAndResumesExactly) {
  const int64_t N = 40;
  models::TrainConfig c = tiny_mlp(N);
  c.lr = 4e-4;
  c.lr_schedule = "linear";
  models::fit_model_to_data(c, bundled_mnist());
  models::Trainer straight(c, bundled_mnist(), Device::cpu());
  for (int64_t i = 0; i < N; ++i) {
    straight.train_step();
    const double expected = 4e-4 * (N - i) / N;
    EXPECT_NEAR(straight.optimizer("generator").lr(), expected, 1e-15) << "step " << i;
    EXPECT_NEAR(straight.optimizer("discriminator").lr(), expected, 1e-15) << "step " << i;
  }
  EXPECT_NEAR(straight.optimizer("generator").lr(), 4e-4 / N, 1e-15);  // the last step's, one notch above 0

  TempDir dir;
  auto resumed = resumed_from_half(c, bundled_mnist(), N / 2, dir / "half.safetensors");
  for (int64_t i = N / 2; i < N; ++i) resumed->train_step();
  auto a = state_bytes(straight), b = state_bytes(*resumed);
  for (auto& [k, v] : a) EXPECT_TRUE(v == b.at(k)) << k << " differs after resume";

  // The constant schedule leaves the optimizers at --lr; the linear one changed the weights.
  models::TrainConfig k = c;
  k.lr_schedule = "constant";
  models::Trainer constant(k, bundled_mnist(), Device::cpu());
  for (int64_t i = 0; i < 3; ++i) constant.train_step();
  EXPECT_DOUBLE_EQ(constant.optimizer("generator").lr(), 4e-4);
}

TEST(Train, LrScheduleInConfigJson) {
  models::TrainConfig c = tiny_mlp(5);
  c.lr_schedule = "linear";
  auto j = models::to_json(c);
  EXPECT_EQ(models::train_config_from_json(j, "cfg").lr_schedule, "linear");
  j.erase("lr_schedule");  // a run written before the option existed trained at a constant rate
  EXPECT_EQ(models::train_config_from_json(j, "cfg").lr_schedule, "constant");
  j["lr_schedule"] = "cosine";
  try {
    models::train_config_from_json(j, "cfg.json");
    ADD_FAILURE() << "an unknown schedule was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cosine"), std::string::npos) << e.what();
  }
}

TEST(Train, GeneratorFromAForeignFileWithBareNames) {
  // What PyTorch's save_file(netG.state_dict()) writes: bare names, no metadata.
  TempDir dir;
  models::ModelConfig cfg;
  cfg.arch = "dcgan32";
  cfg.channels = 3;
  cfg.image_size = 32;
  cfg.nz = 5;
  cfg.ngf = 4;
  Generator g(21);
  auto G = models::build_generator(cfg, g);
  io::SafetensorsFile f;
  for (auto& [k, v] : G->state_dict()) {
    if (v.is_counter) f.add_int64(k, v.counter);
    else f.add(k, v.tensor);
  }
  std::string path = dir / "torch.safetensors";
  io::save_safetensors(path, f);
  try {
    models::load_generator(path, Device::cpu());
    ADD_FAILURE() << "a file without a model description needs --model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--model"), std::string::npos) << e.what();
  }
  models::LoadedGenerator lg = models::load_generator(path, Device::cpu(), cfg);
  Tensor z = Tensor::randn({2, 5, 1, 1}, &g);
  G->eval();
  NoGradGuard no_grad;
  EXPECT_EQ(lg.generator->forward(z).to_double_vector(), G->forward(z).to_double_vector());
  models::ModelConfig wrong = cfg;
  wrong.ngf = 8;
  EXPECT_THROW(models::load_generator(path, Device::cpu(), wrong), Error);
}
