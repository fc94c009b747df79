// The `gan` command as a user meets it: bad flags, values, data and checkpoints give a one-line
// error naming the flag or file and a non-zero exit without touching existing outputs; a short
// run writes its outputs, resumes, and its checkpoint samples to PNG and .npy.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "engine/cpu/packed_gemm.h"
#include "engine/io/file_util.h"
#include "engine/io/image.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "tests/app_runner.h"
#include "tests/test_helpers.h"

#ifdef GAN_APP_PATH

using namespace gan;
namespace fs = std::filesystem;

namespace {

using Result = test::AppResult;

using AppTest = test::AppRunner;

std::string slurp(const std::string& path) {
  auto v = io::read_file(path);
  return std::string(v.begin(), v.end());
}

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_F(AppTest, BadFlagsAndValues) {
  expect_fails("train --bogus 3", {"--bogus"});
  expect_fails("train --model resnet", {"--model", "resnet"});
  expect_fails("train --steps -5", {"--steps"});
  expect_fails("train --steps abc", {"--steps", "abc"});
  expect_fails("train --steps 5 --epochs 2", {"--steps", "--epochs"});
  expect_fails("train --lr 0", {"--lr"});
  expect_fails("train --kernels fast", {"--kernels", "fast"});
  expect_fails("train --device tpu --steps 1 --out o", {"tpu"});
  expect_fails("train --data imagenet --steps 1 --out o", {"--data", "imagenet"});
  // The data against the model comes first: not "dcgan32 makes 32x32 images, not 28" (an image size
  // nobody gave).
  expect_fails("train --data gaussians8 --model dcgan32 --steps 1 --out o", {"gaussians8", "--model toy", "dcgan32"});
  expect_fails("frobnicate", {"frobnicate"});
  expect_fails("sample --n 4 --out x.png", {"--checkpoint"});
  EXPECT_FALSE(fs::exists(dir / "o"));
  EXPECT_EQ(gan("train --help").code, 0);
}

// `gan trace` takes `gan train`'s model and loss flags: a WGAN-GP step with the LayerNorm critic
// (five critic steps, the penalty's double backward) on the bundled digits.
// Training on the CPU names the code behind the matrix products; OPENBLAS_CORETYPE forcing OpenBLAS
// onto narrower kernels than this CPU runs is warned about, and only then.
TEST_F(AppTest, CpuProductsLineNamesTheKernelsAndWarnsOnlyWhenForcedNarrower) {
  const std::string train = "train --model mlp --data mnist --steps 1 --sample-every 0 --overwrite --out run";
  const test::AppResult unset = gan_in_env("-u OPENBLAS_CORETYPE", train);
  ASSERT_EQ(unset.code, 0) << unset.out;
  EXPECT_NE(unset.out.find("cpu: matrix products by "), std::string::npos) << unset.out;
  EXPECT_EQ(unset.out.find("OPENBLAS_CORETYPE"), std::string::npos) << unset.out;
#ifdef GAN_WITH_OPENBLAS
  const test::AppResult forced = gan_in_env("OPENBLAS_CORETYPE=Haswell", train);
  ASSERT_EQ(forced.code, 0) << forced.out;
  EXPECT_NE(forced.out.find("OpenBLAS"), std::string::npos) << forced.out;
  EXPECT_NE(forced.out.find("Haswell kernels"), std::string::npos) << forced.out;
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  EXPECT_EQ(forced.out.find("set by gan"), std::string::npos) << "an explicit OPENBLAS_CORETYPE was overridden\n" << forced.out;
  // Held to narrower kernels, OpenBLAS keeps the double products while the float ones go to the
  // engine's AVX-512 kernel, which the line says, with no warning; GAN_GEMM=blas keeps OpenBLAS for
  // all of them, and then the warning says what that costs.
  EXPECT_EQ(forced.out.find("engine's AVX-512 kernel for float (the BLAS runs Haswell kernels") != std::string::npos,
            gan::cpu::packed_sgemm_available())
      << forced.out;
  EXPECT_EQ(forced.out.find("warning: OPENBLAS_CORETYPE=Haswell"), std::string::npos) << forced.out;
  const test::AppResult blas_only = gan_in_env("OPENBLAS_CORETYPE=Haswell GAN_GEMM=blas", train);
  ASSERT_EQ(blas_only.code, 0) << blas_only.out;
  EXPECT_EQ(blas_only.out.find("engine's AVX-512 kernel"), std::string::npos) << blas_only.out;
  EXPECT_EQ(blas_only.out.find("warning: OPENBLAS_CORETYPE=Haswell") != std::string::npos, avx512) << blas_only.out;
  // Left to itself, on an AVX-512 CPU the run gets 512-bit kernels: OpenBLAS's own choice or, where
  // its tables do not know the CPU (0.3.21 on Emerald Rapids picks Prescott), gan's (a restart with
  // OPENBLAS_CORETYPE=SkylakeX), which the line then says.
  if (avx512) {
    const bool wide = unset.out.find("SkylakeX kernels") != std::string::npos ||
                      unset.out.find("Cooperlake kernels") != std::string::npos ||
                      unset.out.find("SapphireRapids kernels") != std::string::npos;
    EXPECT_TRUE(wide) << unset.out;
  }
  const size_t own = unset.out.find("(set by gan: OpenBLAS's own choice for this CPU was ");
  if (own != std::string::npos) {
    EXPECT_TRUE(unset.out.find("SkylakeX kernels (set by gan") != std::string::npos ||
                unset.out.find("Haswell kernels (set by gan") != std::string::npos)
        << unset.out;
  }
#else
  EXPECT_NE(unset.out.find("Eigen ("), std::string::npos) << unset.out;
#endif
}

// GAN_GEMM chooses the float products' code; a value it cannot follow stops gan before any work,
// naming the variable, the value and what it accepts.
TEST_F(AppTest, GemmChoiceFromTheEnvironmentIsCheckedBeforeAnyWork) {
  const std::string train = "train --model mlp --data mnist --steps 1 --sample-every 0 --overwrite --out run";
  for (const char* bad : {"GAN_GEMM=bogus", "GAN_GEMM=0", "GAN_GEMM=-1", "GAN_GEMM=99999999999999999999", "GAN_GEMM=OWN"}) {
    const test::AppResult r = gan_in_env(bad, train);
    EXPECT_EQ(r.code, 2) << bad << "\n" << r.out;
    const std::string value = std::string(bad).substr(9);
    EXPECT_NE(r.out.find("GAN_GEMM='" + value + "'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("expected own, blas or auto"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(dir / "run" / "metrics.csv")) << bad;
  }
  for (const char* good : {"GAN_GEMM=blas", "GAN_GEMM=auto", "GAN_GEMM="}) {
    const test::AppResult r = gan_in_env(good, train);
    EXPECT_EQ(r.code, 0) << good << "\n" << r.out;
  }
  const test::AppResult own = gan_in_env("GAN_GEMM=own", train);
  if (gan::cpu::packed_sgemm_available()) {
    EXPECT_EQ(own.code, 0) << own.out;
    EXPECT_NE(own.out.find("engine's AVX-512 kernel for float (GAN_GEMM=own"), std::string::npos) << own.out;
  } else {
    EXPECT_EQ(own.code, 2) << own.out;
    EXPECT_NE(own.out.find("needs AVX-512F"), std::string::npos) << own.out;
  }
}

TEST_F(AppTest, ConvolutionChoiceFromTheEnvironmentIsCheckedBeforeAnyWork) {
  const std::string train = "train --model dcgan32 --ngf 16 --ndf 16 --data mnist --steps 1 --sample-every 0 --overwrite --out run";
  for (const char* bad : {"GAN_CONV=bogus", "GAN_CONV=Winograd", "GAN_CONV=1", "GAN_CONV=-1",
                          "GAN_CONV=99999999999999999999", "GAN_CONV=nan", "GAN_CONV=im2col_"}) {
    const test::AppResult r = gan_in_env(bad, train);
    EXPECT_EQ(r.code, 2) << bad << "\n" << r.out;
    const std::string value = std::string(bad).substr(9);
    EXPECT_NE(r.out.find("GAN_CONV='" + value + "'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("expected auto, winograd or im2col"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(dir / "run" / "metrics.csv")) << bad;
  }
  // Each accepted value runs, and the cpu: line says what takes the 4x4 stride-2 layers.
  const std::vector<std::pair<const char*, const char*>> good = {
      {"GAN_CONV=im2col", "cpu: 4x4 stride-2 convolutions by im2col and one product (GAN_CONV=im2col)"},
      {"GAN_CONV=winograd", "cpu: every 4x4 stride-2 convolution by polyphase Winograd F(2x2, 2x2)"},
      {"GAN_CONV=auto", "channels each side by polyphase Winograd F(2x2, 2x2), the rest by im2col"},
      {"GAN_CONV=", "channels each side by polyphase Winograd F(2x2, 2x2), the rest by im2col"}};
  for (const auto& [env, line] : good) {
    const test::AppResult r = gan_in_env(env, train);
    EXPECT_EQ(r.code, 0) << env << "\n" << r.out;
    EXPECT_NE(r.out.find(line), std::string::npos) << env << "\n" << r.out;
  }
  // A model without convolutions has no such line.
  const test::AppResult mlp = gan_in_env("GAN_CONV=auto", "train --model mlp --data mnist --steps 1 --sample-every 0 --overwrite --out mlp");
  EXPECT_EQ(mlp.code, 0) << mlp.out;
  EXPECT_NE(mlp.out.find("cpu: matrix products by "), std::string::npos) << mlp.out;
  EXPECT_EQ(mlp.out.find("stride-2 convolution"), std::string::npos) << mlp.out;
}

TEST_F(AppTest, TraceTakesTheTrainFlags) {
  Result r = gan("trace --model dcgan32 --loss wgan-gp --critic-norm layer --ngf 4 --ndf 4 --batch 4 --seed 1 --out tr");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("dcgan32 wgan-gp, batch 4, 5 critic step(s)"), std::string::npos) << r.out;
  io::SafetensorsFile f = io::load_safetensors(p("tr/trace.safetensors"));
  EXPECT_EQ(f.get("critic4.discriminator.penalty.main.3.out.grad").shape, (Shape{4, 16, 8, 8}));  // LayerNorm's output
  EXPECT_EQ(f.get("critic0.penalty.input_grad").shape, (Shape{4, 1, 32, 32}));
  EXPECT_TRUE(fs::exists(dir / "tr/graph.dot"));
  expect_fails("trace --model dcgan32 --loss wgan-gp --seed 1 --out tr2", {"wgan-gp", "BatchNorm"});
  expect_fails("trace --out tr3", {"--seed", "--checkpoint"});
  expect_fails("trace --checkpoint tr/graph.dot --loss hinge --out tr4", {"--checkpoint", "--loss"});
}

// The conditional families from the command line: a class-conditional run and an InfoGAN run on the
// bundled digits, their samples per class and along a code, the digits classifier reading them,
// and the refusals that name the flag.
TEST_F(AppTest, ConditionalAndInfoGanRunsSampleAndClassify) {
  Result r = gan("train --model dcgan32 --ngf 4 --ndf 4 --condition class --cond-method acgan --steps 4 --batch 8 "
                 "--ema 0.9 --sample-every 2 --n-samples 20 --out c");
  ASSERT_EQ(r.code, 0) << r.out;
  std::string header = slurp(p("c/metrics.csv"));
  EXPECT_NE(header.substr(0, header.find('\n')).find(",class_loss,"), std::string::npos) << header;
  io::Image grid = io::load_image(p("c/samples/last.png"));
  EXPECT_GT(grid.height, grid.width);  // 10 rows (one per class) of 2
  r = gan("sample --checkpoint c/checkpoints/last.safetensors --class 7 --n 5 --out seven.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(io::load_npy(p("seven.npy")).shape(), (Shape{5, 1, 32, 32}));
  expect_fails("sample --checkpoint c/checkpoints/last.safetensors --class 10 --out x.png", {"--class 10", "0..9"});
  expect_fails("sample --checkpoint c/checkpoints/last.safetensors --traverse cont0 --out x.png", {"--traverse"});

  r = gan("train --model dcgan32 --ngf 4 --ndf 4 --codes cat3,cont1 --steps 3 --batch 8 --sample-every 0 --out i");
  ASSERT_EQ(r.code, 0) << r.out;
  r = gan("sample --checkpoint i/checkpoints/last.safetensors --code cat=1 --traverse cont0 --n 2 --out walk.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(io::load_npy(p("walk.npy")).shape(), (Shape{18, 1, 32, 32}));
  expect_fails("sample --checkpoint i/checkpoints/last.safetensors --code cat=x --out x.png", {"--code", "x"});

  r = gan("classifier --data mnist --steps 20 --held-out 200 --out digits.safetensors");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("held-out accuracy"), std::string::npos) << r.out;
  r = gan("classify --classifier digits.safetensors --checkpoint c/checkpoints/last.safetensors --n 4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("class 9:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("moving average"), std::string::npos) << r.out;  // a --ema run is read through its average
  r = gan("classify --classifier digits.safetensors --checkpoint c/checkpoints/last.safetensors --n 4 --no-ema");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("last.safetensors: the generator\n"), std::string::npos) << r.out;
  r = gan("classify --classifier digits.safetensors --checkpoint i/checkpoints/last.safetensors --n 4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("code cat=2:"), std::string::npos) << r.out;
  expect_fails("train --data gaussians8 --condition class --steps 1 --out t", {"--condition class"});
  expect_fails("train --codes dog5 --steps 1 --out t", {"--codes", "dog5"});
  expect_fails("classify --classifier c/checkpoints/last.safetensors --images seven.npy", {"not a classifier"});
}

TEST_F(AppTest, BadDataFiles) {
  expect_fails("train --data mnist:" + p("nothing") + " --steps 1 --out o", {p("nothing")});
  io::write_file_atomic(p("broken-idx"), std::string("\0\0\x08\x03\0\0\0\x02", 8));
  expect_fails("train --data mnist:" + p("broken-idx") + " --steps 1 --out o", {p("broken-idx")});
  io::write_file_atomic(p("cifar.bin"), std::string(5000, '\x01'));
  expect_fails("train --model dcgan32 --data cifar10:" + p("cifar.bin") + " --steps 1 --out o", {p("cifar.bin")});
  fs::create_directories(dir / "imgs");
  expect_fails("train --data folder:" + p("imgs") + " --steps 1 --out o", {p("imgs"), "no images"});
  EXPECT_FALSE(fs::exists(dir / "o"));
}

TEST_F(AppTest, TrainResumeSampleAndRefusals) {
  // A short MLP run on the bundled data.
  Result r = gan("train --model mlp --steps 20 --batch 16 --log-every 5 --sample-every 10 --checkpoint-every 10 "
                 "--n-samples 9 --out run");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("outputs in run/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step 20/20"), std::string::npos) << r.out;  // plain progress lines off a TTY
  for (auto f : {"run/config.json", "run/metrics.csv", "run/samples/step-000010.png", "run/samples/step-000020.png",
                 "run/samples/last.png", "run/checkpoints/step-000010.safetensors",
                 "run/checkpoints/step-000020.safetensors", "run/checkpoints/last.safetensors"})
    EXPECT_TRUE(fs::exists(dir / f)) << f << "\n" << r.out;
  std::string metrics = slurp(p("run/metrics.csv"));
  // The original columns first (stable), then the loss terms and toy coverage (empty for bce on images).
  EXPECT_EQ(metrics.substr(0, metrics.find('\n')),
            "step,epoch,loss_d,loss_g,d_x,d_g_z,images_per_s,wasserstein,gradient_penalty,grad_norm,modes_covered,"
            "high_quality,reverse_kl");
  EXPECT_EQ(count_lines(metrics), 1 + 4);
  io::Image grid = io::load_image(p("run/samples/last.png"));
  EXPECT_EQ(grid.width, 3 * 30 + 2);  // 9 samples: 3 x 3 grid of 28x28 with padding 2
  auto ck = io::load_safetensors(p("run/checkpoints/last.safetensors"));
  EXPECT_EQ(ck.metadata.at("step"), "20");

  // An existing run is not overwritten by a new one, and resume refuses fixed settings.
  expect_fails("train --steps 5 --out run", {"run", "--resume"});
  expect_fails("train --resume run --batch 32", {"--batch", "--resume"});
  EXPECT_EQ(slurp(p("run/metrics.csv")), metrics);

  // Resume to 30 steps: metrics continue, the checkpoint moves on.
  r = gan("train --resume run --steps 30");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resuming mlp at step 20 of 30"), std::string::npos) << r.out;
  std::string m2 = slurp(p("run/metrics.csv"));
  EXPECT_EQ(m2.substr(0, metrics.size()), metrics);
  EXPECT_EQ(count_lines(m2), 1 + 6);
  EXPECT_EQ(io::load_safetensors(p("run/checkpoints/last.safetensors")).metadata.at("step"), "30");

  // Sampling: a PNG grid, a .npy array, interpolations.
  r = gan("sample --checkpoint run/checkpoints/last.safetensors --n 5 --out s.npy --seed 3");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor a = io::load_npy(p("s.npy"));
  EXPECT_EQ(a.shape(), (Shape{5, 1, 28, 28}));
  for (double v : a.to_double_vector()) ASSERT_TRUE(v >= -1 && v <= 1);
  r = gan("sample --checkpoint run/checkpoints/last.safetensors --n 5 --out s2.npy --seed 3");
  EXPECT_EQ(io::load_npy(p("s2.npy")).to_double_vector(), a.to_double_vector());  // same seed, same images
  r = gan("sample --checkpoint run/checkpoints/last.safetensors --n 2 --interpolate 6 --out i.png");
  ASSERT_EQ(r.code, 0) << r.out;
  io::Image ig = io::load_image(p("i.png"));
  EXPECT_EQ(ig.width, 6 * 30 + 2);
  EXPECT_EQ(ig.height, 2 * 30 + 2);

  // Bad checkpoints and outputs: errors name the file or flag, nothing is written.
  expect_fails("sample --checkpoint run/checkpoints/last.safetensors --out s.jpg", {"--out", "s.jpg"});
  std::string bytes = slurp(p("run/checkpoints/last.safetensors"));
  io::write_file_atomic(p("cut.safetensors"), bytes.substr(0, bytes.size() - 100));
  expect_fails("sample --checkpoint cut.safetensors --out c.png", {"cut.safetensors"});
  EXPECT_FALSE(fs::exists(dir / "c.png"));
  io::SafetensorsFile f = io::load_safetensors(p("run/checkpoints/last.safetensors"));
  for (auto& [k, v] : f.tensors)
    if (k == "generator.main.0.weight") {
      v.shape = {v.shape[0] / 2, v.shape[1] * 2};
    }
  io::save_safetensors(p("reshaped.safetensors"), f);
  expect_fails("sample --checkpoint reshaped.safetensors --out c.png", {"reshaped.safetensors", "main.0.weight"});
  fs::create_directories(dir / "run2/checkpoints");
  io::write_file_atomic(p("run2/checkpoints/last.safetensors"), bytes.substr(0, 50));
  expect_fails("train --resume run2", {"run2/checkpoints/last.safetensors"});
  EXPECT_FALSE(fs::exists(dir / "c.png"));
}

TEST_F(AppTest, DivergenceStopsWithoutSavingBrokenState) {
  // An absurd learning rate: D's first update makes the generator's loss NaN in step 1.
  Result r = gan("train --model mlp --steps 50 --batch 16 --lr 1e30 --checkpoint-every 1 --out nan");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("training diverged"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no checkpoint was written yet"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "nan/checkpoints/last.safetensors"));

  // A run whose checkpoint was doctored to hold huge (finite) weights in D's first layer:
  // resuming overflows to NaN at once, and the last good checkpoint stays as it was.
  r = gan("train --model mlp --steps 4 --batch 16 --checkpoint-every 2 --sample-every 0 --out run");
  ASSERT_EQ(r.code, 0) << r.out;
  io::SafetensorsFile f = io::load_safetensors(p("run/checkpoints/last.safetensors"));
  for (auto& [k, v] : f.tensors)
    if (k == "discriminator.main.0.weight") {
      std::vector<float> big(v.data.size() / 4);
      for (size_t i = 0; i < big.size(); ++i) big[i] = (i % 3 ? 1e38f : -1e38f);
      std::memcpy(v.data.data(), big.data(), v.data.size());
    }
  io::save_safetensors(p("run/checkpoints/last.safetensors"), f);
  std::string before = slurp(p("run/checkpoints/last.safetensors"));
  r = gan("train --resume run --steps 10");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("training diverged"), std::string::npos) << r.out;
  // The file it resumed from is the state that diverges: it is not called a good checkpoint.
  EXPECT_EQ(r.out.find("last good checkpoint"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no checkpoint was written since this run resumed from run/checkpoints/last.safetensors (step 4)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(slurp(p("run/checkpoints/last.safetensors")), before);
}

// SIGINT and SIGTERM: tests/test_faults.cpp (Faults.Sig*StopsAtAStep...).

// A run holds its folder: a second `gan train` there, fresh or resumed, is refused at once naming
// the folder and the first one's pid, and changes nothing; the first finishes as if alone.
TEST_F(AppTest, SecondRunOnAFolderInUseIsRefused) {
  const pid_t pid = gan_start("train --model mlp --steps 60 --batch 16 --log-every 5 --sample-every 0 --out run", "run.log");
  ASSERT_GT(pid, 0);
  const bool running = wait_until([&] { return count_lines(read_text("run/metrics.csv")) >= 2; }, 60);
  const std::string config = running ? slurp(p("run/config.json")) : "";
  const std::string who = "run: in use by process " + std::to_string(pid);
  Result resumed = gan("train --resume run --steps 80");
  Result fresh = gan("train --model mlp --steps 5 --lr 1e-3 --overwrite --out run");
  const std::string config_after = running ? slurp(p("run/config.json")) : "";
  const int code = wait_exit(pid, 120);
  ASSERT_TRUE(running) << read_text("run.log");
  for (const Result* r : {&resumed, &fresh}) {
    EXPECT_EQ(r->code, 1) << r->out;
    EXPECT_NE(r->out.find("error: "), std::string::npos) << r->out;
    EXPECT_NE(r->out.find(who), std::string::npos) << r->out;
  }
  EXPECT_NE(resumed.out.find("--resume run"), std::string::npos) << resumed.out;
  EXPECT_NE(fresh.out.find("--out run"), std::string::npos) << fresh.out;
  EXPECT_EQ(config_after, config);  // the --overwrite run did not get as far as its config

  EXPECT_EQ(code, 0) << read_text("run.log");
  EXPECT_EQ(io::load_safetensors(p("run/checkpoints/last.safetensors")).metadata.at("step"), "60");
  EXPECT_EQ(count_lines(slurp(p("run/metrics.csv"))), 1 + 12);
  // Released at exit, and by the kernel when a holder is killed outright.
  const pid_t killed = gan_start("train --resume run --steps 200", "killed.log");
  ASSERT_TRUE(wait_until([&] { return read_text("killed.log").find("resuming") != std::string::npos; }, 60))
      << read_text("killed.log");
  ::kill(killed, SIGKILL);
  EXPECT_EQ(wait_exit(killed, 60), -1);
  Result again = gan("train --resume run --steps 65");
  EXPECT_EQ(again.code, 0) << again.out;
}

// Temporary files of writers that died mid-write go at the next start of a run in the folder;
// those of live processes and everything else stay.
TEST_F(AppTest, RunStartRemovesStaleTemporaryFiles) {
  Result r = gan("train --model mlp --steps 4 --batch 16 --sample-every 2 --out run");
  ASSERT_EQ(r.code, 0) << r.out;
  const pid_t dead = ::fork();  // a pid that surely belonged to a process now gone
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const std::string d = std::to_string(dead), me = std::to_string(::getpid());
  const std::vector<std::string> stale = {"run/checkpoints/" + io::temp_file_name("last.safetensors", dead),
                                          "run/checkpoints/.step-000002.safetensors.tmp." + d,
                                          "run/samples/.last.png.tmp." + d, "run/.config.json.tmp." + d};
  const std::vector<std::string> kept = {"run/checkpoints/.last.safetensors.tmp." + me,  // this live process's
                                         "run/checkpoints/notes.tmp." + d, "run/checkpoints/.notes.tmp.x" + d,
                                         "run/checkpoints/.notes.tmp.", "run/checkpoints/.tmp." + d};
  for (const auto& f : stale) io::write_file_atomic(p(f), std::string("half a checkpoint"));
  for (const auto& f : kept) io::write_file_atomic(p(f), std::string("not ours to remove"));

  r = gan("train --resume run --steps 6");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("removed 4 temporary file(s) left by a killed process"), std::string::npos) << r.out;
  for (const auto& f : stale) EXPECT_FALSE(fs::exists(dir / f)) << f;
  for (const auto& f : kept) EXPECT_TRUE(fs::exists(dir / f)) << f;

  // A fresh run over the folder (--overwrite) cleans up too.
  io::write_file_atomic(p(stale[0]), std::string("half a checkpoint"));
  r = gan("train --model mlp --steps 2 --batch 16 --sample-every 0 --overwrite --out run");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(dir / stale[0]));
  EXPECT_TRUE(fs::exists(dir / kept[0]));
}

#else
TEST(AppTest, Skipped) { GTEST_SKIP() << "the gan app target is not part of this build"; }
#endif

TEST_F(AppTest, StabilisationKnobsRunResumeAndSampleTheMovingAverage) {
  Result r = gan("train --model mlp --steps 20 --batch 16 --log-every 5 --sample-every 20 --n-samples 9 --ema 0.9 "
                 "--grad-clip 1 --noise uniform --lr-g 1e-4 --lr-d 3e-4 --weight-decay 1e-4 --label-smoothing 0.9 --out run");
  ASSERT_EQ(r.code, 0) << r.out;
  std::string metrics = slurp(p("run/metrics.csv"));
  const std::string header = metrics.substr(0, metrics.find('\n'));
  EXPECT_NE(header.find("grad_norm_generator"), std::string::npos) << header;
  EXPECT_NE(header.find("grad_norm_discriminator"), std::string::npos) << header;
  // The sample picture: the raw generator's grid above the moving average's.
  io::Image grid = io::load_image(p("run/samples/last.png"));
  EXPECT_EQ(grid.width, 3 * 30 + 2);
  EXPECT_EQ(grid.height, 2 * (12 + 3 * 30 + 2));  // each under a 12-pixel caption
  EXPECT_EQ(grid.channels, 3);
  auto ck = io::load_safetensors(p("run/checkpoints/last.safetensors"));
  EXPECT_TRUE(ck.has("generator_ema.main.0.weight"));
  r = gan("train --resume run --steps 30");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_fails("train --resume run --steps 40 --ema 0.5", {"--ema", "--resume"});

  r = gan("sample --checkpoint run/checkpoints/last.safetensors --n 4 --out ema.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("moving-average weights"), std::string::npos) << r.out;
  r = gan("sample --checkpoint run/checkpoints/last.safetensors --n 4 --no-ema --out raw.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("moving-average"), std::string::npos) << r.out;
  EXPECT_GT(test::rel_error(io::load_npy(p("ema.npy")), io::load_npy(p("raw.npy"))), 1e-3);

  expect_fails("train --model mlp --steps 2 --loss hinge --label-smoothing 0.9 --out bad", {"--label-smoothing", "hinge"});
  expect_fails("train --model mlp --steps 2 --ema 1.5 --out bad", {"--ema", "1.5"});
  expect_fails("train --model mlp --steps 2 --noise cauchy --out bad", {"--noise", "cauchy"});
  expect_fails("train --model mlp --steps 2 --ema nan --out bad", {"--ema", "finite", "nan"});
  expect_fails("train --model mlp --steps 2 --grad-clip -1 --out bad", {"--grad-clip", ">= 0", "-1"});
  expect_fails("train --model mlp --steps 2 --lr-d inf --out bad", {"--lr-d", "finite", "inf"});
  expect_fails("train --model mlp --steps 2 --label-smoothing 0 --out bad", {"--label-smoothing", "(0, 1]", "'0'"});

  // SNGAN, the upsampling choices and augmentation, each a short run that samples.
  for (std::string run : {"--model sngan32 --loss hinge", "--model dcgan32 --upsample nearest --augment flip,translate",
                          "--model dcgan32 --upsample pixelshuffle --diffaugment color,translation,cutout"}) {
    r = gan("train " + run + " --ngf 4 --ndf 4 --steps 2 --batch 8 --sample-every 0 --overwrite --out r2");
    ASSERT_EQ(r.code, 0) << run << "\n" << r.out;
    r = gan("sample --checkpoint r2/checkpoints/last.safetensors --n 4 --out r2.npy");
    ASSERT_EQ(r.code, 0) << run << "\n" << r.out;
    EXPECT_EQ(io::load_npy(p("r2.npy")).shape(), (Shape{4, 1, 32, 32})) << run;
  }
  expect_fails("train --model mlp --upsample nearest --steps 2 --out bad", {"--upsample", "mlp"});
  expect_fails("train --model dcgan32 --diffaugment blur --steps 2 --out bad", {"--diffaugment", "blur"});
}
