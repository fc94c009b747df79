// Damaged or inconsistent checkpoints are refused with an error naming the file, the tensor or
// metadata key, the value found and what was expected; none of them is loaded as if it were fine.
// Each case starts from a real checkpoint of a short run and changes one thing in it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "models/config.h"
#include "models/trainer.h"
#include "tests/test_helpers.h"

using namespace gan;

namespace {

class DamagedCheckpoint : public ::testing::Test {
 protected:
  io::ImageDataset ds = test::random_images(12, 1, 28, 5);
  models::TrainConfig cfg = test::tiny_mlp(4, 10, 3);
  io::SafetensorsFile good;

  void SetUp() override {
    models::Trainer t(cfg, ds, Device::cpu());
    for (int i = 0; i < 3; ++i) t.train_step();
    good = t.checkpoint();
  }

  // `f` restored into a fresh trainer: refused, with every needle in the message.
  void expect_refused(const io::SafetensorsFile& f, std::initializer_list<std::string> needles) {
    models::Trainer t(cfg, ds, Device::cpu());
    try {
      t.restore(f, "run/checkpoints/last.safetensors");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("run/checkpoints/last.safetensors"), std::string::npos) << msg;
      for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
    }
  }

  io::SafetensorsFile with(const std::function<void(io::SafetensorsFile&)>& change) const {
    io::SafetensorsFile f = good;
    change(f);
    return f;
  }

  static io::StoredTensor& tensor(io::SafetensorsFile& f, const std::string& name) {
    for (auto& [n, t] : f.tensors)
      if (n == name) return t;
    throw Error("no tensor " + name);
  }
  static void erase(io::SafetensorsFile& f, const std::string& name) {
    for (auto it = f.tensors.begin(); it != f.tensors.end(); ++it)
      if (it->first == name) {
        f.tensors.erase(it);
        return;
      }
    throw Error("no tensor " + name);
  }
  static void set_float(io::StoredTensor& t, size_t i, float v) { std::memcpy(t.data.data() + 4 * i, &v, 4); }
};

TEST_F(DamagedCheckpoint, TheUntouchedCheckpointLoads) {
  models::Trainer t(cfg, ds, Device::cpu());
  t.restore(good, "good");
  EXPECT_EQ(t.step(), 3);
}

TEST_F(DamagedCheckpoint, NonFiniteWeightsAndMomentsAreRefusedNamingTheTensor) {
  expect_refused(with([](auto& f) { set_float(tensor(f, "generator.main.0.weight"), 5, std::nanf("")); }),
                 {"'generator.main.0.weight'", "NaN at element 5"});
  expect_refused(with([](auto& f) {
                   set_float(tensor(f, "discriminator.main.0.bias"), 2, -std::numeric_limits<float>::infinity());
                 }),
                 {"'discriminator.main.0.bias'", "-inf at element 2", "expected finite"});
  expect_refused(with([](auto& f) {
                   set_float(tensor(f, "optim.generator.main.0.weight.exp_avg_sq"), 0,
                             std::numeric_limits<float>::infinity());
                 }),
                 {"'optim.generator.main.0.weight.exp_avg_sq'", "+inf at element 0"});
}

TEST_F(DamagedCheckpoint, MissingOptimizerStateIsRefusedRatherThanRestartingAdam) {
  // A moment gone: that parameter's Adam would start again from zero.
  expect_refused(with([](auto& f) { erase(f, "optim.discriminator.main.0.weight.exp_avg"); }),
                 {"Adam state lacks 'main.0.weight.exp_avg'", "made 3 step(s)"});
  // A parameter's whole state gone (slots and count): it would look like one that never stepped.
  expect_refused(with([](auto& f) {
                   erase(f, "optim.generator.main.0.bias.exp_avg");
                   erase(f, "optim.generator.main.0.bias.exp_avg_sq");
                   erase(f, "optim.generator.main.0.bias.step");
                 }),
                 {"lacks 'main.0.bias.step'"});
  // The count alone gone: the bias correction would start again at t = 1.
  expect_refused(with([](auto& f) { erase(f, "optim.generator.main.0.bias.step"); }),
                 {"'main.0.bias.exp_avg' has no step count"});
}

TEST_F(DamagedCheckpoint, MistypedOrMisshapedOptimizerStateIsRefused) {
  expect_refused(with([](auto& f) {
                   io::StoredTensor& t = tensor(f, "optim.generator.main.0.weight.exp_avg");
                   t.dtype = "I32";  // same byte count: only the type is wrong
                 }),
                 {"'optim.generator.main.0.weight.exp_avg' is I32", "expected F32"});
  expect_refused(with([](auto& f) {
                   io::StoredTensor& t = tensor(f, "optim.generator.main.0.weight.step");
                   t = io::StoredTensor::from_tensor(Tensor::full({1}, 3.0));
                 }),
                 {"'optim.generator.main.0.weight.step' is F32", "expected one integer"});
  expect_refused(with([](auto& f) {
                   io::StoredTensor& t = tensor(f, "optim.generator.main.0.weight.exp_avg");
                   t.shape = {t.shape[1], t.shape[0]};
                 }),
                 {"'main.0.weight.exp_avg' has shape"});
  expect_refused(with([](auto& f) { tensor(f, "optim.generator.main.0.weight.step") = io::StoredTensor::from_int64(-2); }),
                 {"'main.0.weight.step' is -2", "expected a positive count"});
}

TEST_F(DamagedCheckpoint, UnknownFormatVersionAndInconsistentArchAreRefused) {
  expect_refused(with([](auto& f) { f.metadata["format_version"] = "2"; }), {"format_version is '2'", "reads version 1"});
  expect_refused(with([](auto& f) { f.metadata.erase("format_version"); }), {"lacks 'format_version'"});
  expect_refused(with([](auto& f) { f.metadata["arch"] = "dcgan32"; }),
                 {"'arch' is dcgan32", "config describes a mlp model"});
}

TEST_F(DamagedCheckpoint, StepCountsOutOfRangeAreRefused) {
  expect_refused(with([](auto& f) { f.metadata["step"] = "-3"; }), {"'step' is -3", "expected a count of steps >= 0"});
  expect_refused(with([](auto& f) { f.metadata["step"] = "99999999999999999999"; }),
                 {"'step' is 99999999999999999999, out of range", "9223372036854775807"});
  expect_refused(with([](auto& f) { f.metadata["step"] = "12abc"; }), {"'step' is not an integer: '12abc'"});
}

TEST_F(DamagedCheckpoint, LoaderAndRngPositionsOutOfRangeAreRefused) {
  // 12 images in batches of 4: 3 batches per epoch, positions 0..3.
  expect_refused(with([](auto& f) { f.metadata["loader"] = R"({"epoch": 0, "position": 40})"; }),
                 {"does not fit this run's data", "position 40", "3 batches per epoch"});
  expect_refused(with([](auto& f) { f.metadata["loader"] = R"({"epoch": -1, "position": 0})"; }),
                 {"'loader.epoch' is -1", "expected an integer >= 0"});
  expect_refused(with([](auto& f) { f.metadata["loader"] = R"({"epoch": 4294967296, "position": 0})"; }),
                 {"'loader.epoch' is 4294967296, out of range"});
  expect_refused(with([](auto& f) { f.metadata["loader"] = R"({"epoch": 0})"; }), {"'loader' lacks 'position'"});
  // A negative count read as unsigned would wrap to 2^64 - 1 and draw numbers no run ever drew.
  expect_refused(with([](auto& f) { f.metadata["rng"] = R"({"noise_seed": 3, "noise_draws": -1})"; }),
                 {"'rng.noise_draws' is -1"});
  expect_refused(with([](auto& f) { f.metadata["rng"] = R"({"noise_seed": 3, "noise_draws": 1.5})"; }),
                 {"'rng.noise_draws' is 1.5"});
  expect_refused(with([](auto& f) { f.metadata["rng"] = R"({"noise_seed": "3", "noise_draws": 7})"; }),
                 {"'rng.noise_seed' is \"3\""});
}

TEST(DamagedToyCheckpoint, AMissingToyStreamPositionIsRefused) {
  models::TrainConfig c;
  c.data = "gaussians8";
  models::apply_defaults(c, {"hidden"});
  c.model.g_hidden = c.model.d_hidden = {8};
  c.batch = 8;
  c.steps = 5;
  c.device = "cpu";
  models::Trainer t(c, Device::cpu());
  t.train_step();
  io::SafetensorsFile f = t.checkpoint();
  ASSERT_NE(f.metadata.at("rng").find("data_draws"), std::string::npos);
  f.metadata["rng"] = R"({"noise_seed": 1, "noise_draws": 16})";
  models::Trainer fresh(c, Device::cpu());
  try {
    fresh.restore(f, "toy.safetensors");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("toy.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rng.data_draws) is missing"), std::string::npos) << e.what();
  }
}

}  // namespace

// ---- the same refusals as the `gan` commands meet them ----
#ifdef GAN_APP_PATH
#include <filesystem>

#include "engine/io/file_util.h"
#include "tests/app_runner.h"

namespace {

namespace fs = std::filesystem;

class DamagedCheckpointApp : public test::AppRunner {
 protected:
  // A 4-step MLP run in `name`, its last checkpoint loaded.
  io::SafetensorsFile short_run(const std::string& name) {
    const test::AppResult r = gan("train --model mlp --nz 8 --steps 4 --batch 8 --sample-every 0 --out " + name);
    EXPECT_EQ(r.code, 0) << r.out;
    return io::load_safetensors(p(name + "/checkpoints/last.safetensors"));
  }
  static void poison(io::SafetensorsFile& f, const std::string& name, float v) {
    for (auto& [n, t] : f.tensors)
      if (n == name) std::memcpy(t.data.data() + 4 * 7, &v, 4);
  }
};

// A NaN weight made `gan sample` write a grey grid and `gan eval` score NaN; resuming trained on
// NaN. Now each refuses, naming the tensor, and writes nothing.
TEST_F(DamagedCheckpointApp, NanWeightsAreRefusedBySampleEvalAndResume) {
  io::SafetensorsFile f = short_run("run");
  poison(f, "generator.main.0.weight", std::nanf(""));
  io::save_safetensors(p("nan.safetensors"), f);
  expect_fails("sample --checkpoint nan.safetensors --n 4 --out s.png",
               {"nan.safetensors", "'generator.main.0.weight' holds NaN at element 7"});
  EXPECT_FALSE(fs::exists(dir / "s.png"));
  expect_fails("sample --checkpoint nan.safetensors --n 4 --out s.npy", {"'generator.main.0.weight' holds NaN"});
  EXPECT_FALSE(fs::exists(dir / "s.npy"));
  expect_fails("eval --checkpoint nan.safetensors --n 20 --metrics is",
               {"nan.safetensors", "'generator.main.0.weight' holds NaN"});
  const std::string before = [&] {
    io::save_safetensors(p("run/checkpoints/last.safetensors"), f);
    auto v = io::read_file(p("run/checkpoints/last.safetensors"));
    return std::string(v.begin(), v.end());
  }();
  const std::string metrics = read_text("run/metrics.csv");
  expect_fails("train --resume run --steps 8",
               {"run/checkpoints/last.safetensors", "'generator.main.0.weight' holds NaN"});
  EXPECT_EQ(read_text("run/metrics.csv"), metrics);
  auto after = io::read_file(p("run/checkpoints/last.safetensors"));
  EXPECT_EQ(std::string(after.begin(), after.end()), before);
}

// The best FID of an evaluated run was read with std::stod: "abc" ended the resume with
// "stod" and no file named. Now the resume refuses naming the checkpoint and the values.
TEST_F(DamagedCheckpointApp, DamagedBestFidMetadataIsRefusedByResume) {
  io::SafetensorsFile f = short_run("run");
  f.metadata["best_fid"] = "abc";
  f.metadata["best_fid_step"] = "2";
  io::save_safetensors(p("run/checkpoints/last.safetensors"), f);
  const std::string metrics = read_text("run/metrics.csv");
  expect_fails("train --resume run --steps 8",
               {"run/checkpoints/last.safetensors", "best_fid 'abc'", "expected a finite number"});
  EXPECT_EQ(read_text("run/metrics.csv"), metrics);
  f.metadata["best_fid"] = "12.5";
  f.metadata["best_fid_step"] = "-1";
  io::save_safetensors(p("run/checkpoints/last.safetensors"), f);
  expect_fails("train --resume run --steps 8", {"best_fid_step '-1'"});
}

TEST_F(DamagedCheckpointApp, AConfigThatDisagreesWithTheTensorsIsRefused) {
  io::SafetensorsFile f = short_run("run");
  const std::string cfg = f.metadata.at("config");
  const size_t at = cfg.find("\"nz\":8");
  ASSERT_NE(at, std::string::npos) << cfg;
  f.metadata["config"] = cfg.substr(0, at) + "\"nz\":12" + cfg.substr(at + 6);
  io::save_safetensors(p("nz.safetensors"), f);
  expect_fails("sample --checkpoint nz.safetensors --n 4 --out s.png",
               {"nz.safetensors", "'main.0.weight' has shape [", "the model expects [", "12]"});
  EXPECT_FALSE(fs::exists(dir / "s.png"));
}

// Model flags were ignored for checkpoints of gan train, so `--nz 100` on an nz-8 checkpoint
// sampled the nz-8 model without a word. A flag that says otherwise is refused; one that agrees is
// accepted.
TEST_F(DamagedCheckpointApp, SampleRefusesModelFlagsThatContradictTheCheckpoint) {
  short_run("run");
  const std::string ck = "sample --checkpoint run/checkpoints/last.safetensors --n 4 --out s.png ";
  expect_fails(ck + "--nz 100", {"--nz 100 contradicts run/checkpoints/last.safetensors", "has nz 8"});
  expect_fails(ck + "--model dcgan32", {"--model dcgan32 contradicts", "has model mlp"});
  expect_fails(ck + "--channels 3", {"--channels 3 contradicts", "has channels 1"});
  expect_fails(ck + "--ngf 16", {"--ngf 16 contradicts", "has ngf 64"});
  EXPECT_FALSE(fs::exists(dir / "s.png"));
  const test::AppResult r = gan(ck + "--model mlp --nz 8");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir / "s.png"));
}

// --overwrite started a new run over the old one's samples, periodic checkpoints and gradient
// logs: a folder mixing two runs. Now every output of the old run goes; files of the user stay.
TEST_F(DamagedCheckpointApp, OverwriteRemovesEveryOutputOfThePreviousRunAndKeepsOtherFiles) {
  test::AppResult r = gan("train --model mlp --nz 8 --steps 6 --batch 8 --sample-every 2 --checkpoint-every 2 "
                          "--grad-hist-steps 2 --out run");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::vector<std::string> old = {"run/samples/step-000002.png", "run/samples/step-000006.png",
                                        "run/checkpoints/step-000002.safetensors",
                                        "run/checkpoints/step-000004.safetensors"};
  for (const auto& f : old) ASSERT_TRUE(fs::exists(dir / f)) << f << "\n" << r.out;
  const std::string old_hist = read_text("run/gradients-hist.csv");
  ASSERT_GT(std::count(old_hist.begin(), old_hist.end(), '\n'), 1) << old_hist;
  fs::create_directories(dir / "run/analysis");
  const std::vector<std::string> user = {"run/notes.txt", "run/samples/my-favourite.png",
                                         "run/checkpoints/keep.safetensors", "run/analysis/my.txt"};
  for (const auto& f : user) io::write_file_atomic(p(f), std::string("the user's"));
  io::write_file_atomic(p("run/analysis/saliency.png"), std::string("an old analysis"));

  r = gan("train --model mlp --nz 8 --steps 3 --batch 8 --sample-every 3 --checkpoint-every 0 --overwrite --out run");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("--overwrite: removed"), std::string::npos) << r.out;
  for (const auto& f : old) EXPECT_FALSE(fs::exists(dir / f)) << f << " of the old run is still there";
  EXPECT_FALSE(fs::exists(dir / "run/analysis/saliency.png"));
  for (const auto& f : user) EXPECT_TRUE(fs::exists(dir / f)) << f;
  EXPECT_TRUE(fs::exists(dir / "run/samples/step-000003.png"));
  EXPECT_EQ(io::load_safetensors(p("run/checkpoints/last.safetensors")).metadata.at("step"), "3");
  // The logs start again: the old run's histogram rows (step 2) are gone, only the header is left.
  const std::string hist = read_text("run/gradients-hist.csv");
  EXPECT_EQ(std::count(hist.begin(), hist.end(), '\n'), 1) << hist;
}

}  // namespace
#endif
