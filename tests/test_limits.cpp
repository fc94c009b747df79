// Integer limits: every integer flag is a whole number inside its stated range, refused with the
// flag, the value and the range otherwise (CLI11's own conversion saturated 20-digit values to
// 2^63-1, wrapped "-1" into an unsigned 2^64-1 and truncated "2.5"); sizes computed from flags stay
// inside 64 bits; "~" after a data set's kind is the home folder.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/shape.h"
#include "engine/io/image.h"
#include "models/config.h"
#include "models/data.h"
#include "tests/app_runner.h"

using namespace gan;
namespace fs = std::filesystem;

#ifdef GAN_APP_PATH

namespace {
using LimitsApp = test::AppRunner;

struct Flag {
  std::string command;  // the subcommand and the flags it needs besides the one under test
  std::string flag;
  int64_t lo, hi;
};

// One row per integer flag of every command. A wrong value must stop the parser (exit 2) before any
// file is read, so the command's other arguments need not exist.
const std::vector<Flag> kFlags = {
    {"train --out o", "--steps", 1, 1000000000},
    {"train --out o", "--epochs", 1, 1000000},
    {"train --out o", "--batch", 1, 1 << 20},
    {"train --out o", "--nz", 1, 1 << 16},
    {"train --out o", "--ngf", 1, 1 << 14},
    {"train --out o", "--ndf", 1, 1 << 14},
    {"train --out o", "--n-critic", 1, 1000},
    {"train --out o", "--toy-width", 1, 1 << 16},
    {"train --out o", "--embed-dim", 0, 1 << 16},
    {"train --out o", "--sample-every", 0, 1000000000},
    {"train --out o", "--checkpoint-every", 0, 1000000000},
    {"train --out o", "--log-every", 1, 1000000000},
    {"train --out o", "--n-samples", 1, 1 << 16},
    {"train --out o", "--grad-hist-steps", 0, 1000000000},
    {"train --out o", "--eval-every", 0, 1000000000},
    {"train --out o", "--eval-n", 10, 1000000},
    {"train --out o", "--eval-n-ref", 10, 100000000},
    {"train --out o", "--pool-size", 0, 10000},
    {"train --out o", "--res-blocks", 1, 64},
    {"train --out o", "--d-layers", 1, 8},
    {"train --out o", "--image-size", 8, 4096},
    {"trace --out o", "--ngf", 1, 1 << 14},
    {"sample --checkpoint c --out x.png", "--n", 1, 1000000},
    {"sample --checkpoint c --out x.png", "--interpolate", 2, 1000},
    {"sample --checkpoint c --out x.png", "--nrow", 1, 100000},
    {"sample --checkpoint c --out x.png", "--class", 0, 1 << 20},
    {"sample --checkpoint c --out x.png", "--nz", 1, 1 << 16},
    {"sample --checkpoint c --out x.png", "--ngf", 1, 1 << 14},
    {"classifier --out c.safetensors", "--steps", 1, 1000000000},
    {"classifier --out c.safetensors", "--held-out", 0, 1000000000},
    {"classifier --out c.safetensors", "--image-size", 1, 4096},
    {"classify --classifier c", "--n", 1, 1000000},
    {"eval --checkpoint c", "--n", 1, 1000000},
    {"eval --checkpoint c", "--n-ref", 2, 100000000},
    {"eval --checkpoint c", "--image-size", 1, 4096},
    {"eval --checkpoint c", "--kid-subsets", 1, 100000},
    {"eval --checkpoint c", "--kid-subset-size", 2, 1000000},
    {"analyze --run r", "--n", 8, 5000},
    {"analyze --run r", "--tsne-iterations", 1, 100000},
    {"analyze --run r", "--sensitivity-samples", 1, 100000},
    {"analyze --run r", "--saliency-images", 1, 64},
    {"translate --checkpoint c --direction a2b --in c --out y.npy", "--batch", 1, 4096},
};

// Commands whose other flags must name existing paths (checked by the parser too) get them.
void make_named_paths(const fs::path& dir) {
  std::ofstream(dir / "c").put('x');
  fs::create_directories(dir / "r");
}
}  // namespace

TEST_F(LimitsApp, IntegerFlagsRefuseValuesOutsideTheirRangeByName) {
  make_named_paths(dir);
  for (const Flag& f : kFlags) {
    const std::string range = "[" + std::to_string(f.lo) + ", " + std::to_string(f.hi) + "]";
    const std::vector<std::string> bad = {"99999999999999999999", "9223372036854775808", std::to_string(f.hi + 1),
                                          std::to_string(f.lo - 1), "-1", "2.5", "1e3", "0x10", "7abc", "''"};
    for (const std::string& v : bad) {
      if (v == "-1" && f.lo - 1 == -1) continue;  // the same value as lo - 1
      const std::string shown = v == "''" ? "" : v;
      SCOPED_TRACE(f.command + " " + f.flag + " " + v);
      const test::AppResult r = gan(f.command + " " + f.flag + " " + v);
      EXPECT_EQ(r.code, 2) << r.out;
      EXPECT_NE(r.out.find(f.flag), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("expected an integer in " + range + ", got '" + shown + "'"), std::string::npos) << r.out;
    }
  }
}

TEST_F(LimitsApp, SeedsAreWholeNumbersUpTo2To64) {
  make_named_paths(dir);
  for (const std::string cmd : {"train --out o", "sample --checkpoint c --out x.png", "eval --checkpoint c",
                                "classify --classifier c", "classifier --out c.safetensors", "analyze --run r"})
    for (const std::string v : {"-1", "18446744073709551616", "999999999999999999999999", "1.5", "1e9"}) {
      SCOPED_TRACE(cmd + " --seed " + v);
      const test::AppResult r = gan(cmd + " --seed " + v);
      EXPECT_EQ(r.code, 2) << r.out;
      EXPECT_NE(r.out.find("--seed"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("expected a whole number in [0, 18446744073709551615], got '" + v + "'"), std::string::npos)
          << r.out;
    }
  // The largest seed is a seed: the run starts (and stops at its one step).
  const test::AppResult ok = gan("train --data gaussians8 --toy-width 8 --batch 8 --steps 1 --seed 18446744073709551615 --out o");
  EXPECT_EQ(ok.code, 0) << ok.out;
}

// In range for the flag but too large for the machine: the model's sizes are computed in checked
// arithmetic and the error names the shape instead of crashing in a GEMM or a failed allocation.
TEST_F(LimitsApp, SizesThatDoNotFitAreNamedErrors) {
  // dcgan32 at width 16384: its second layer's weight alone is 131072 x 65536 x 4 x 4 floats, 512 GiB.
  expect_fails("train --data mnist --model dcgan32 --ngf 16384 --steps 1 --out o",
               {"out of host memory", "512 GiB", "[131072, 65536, 4, 4]"});
  expect_fails("train --data mnist --codes cat99999999999 --steps 1 --out o", {"--codes", "cat99999999999"});
  expect_fails("train --data mnist --codes cat1001 --steps 1 --out o", {"--codes", "cat1001", "2 to 1000 values"});
  expect_fails("train --data mnist --device cuda:99999999999 --steps 1 --out o", {"cuda:99999999999", "GPU index"});
}

#endif  // GAN_APP_PATH

TEST(Limits, ElementCountsThatOverflowAreErrorsNotWraps) {
  // 2^16 four times is 2^64, which a 64-bit product wraps to 0.
  EXPECT_THROW(numel_of({65536, 65536, 65536, 65536}), Error);
  EXPECT_THROW(numel_of({int64_t{1} << 31, int64_t{1} << 30}), Error);  // 2^61 > 2^60
  EXPECT_EQ(numel_of({int64_t{1} << 30, int64_t{1} << 30}), int64_t{1} << 60);
  int64_t n = -1;
  EXPECT_FALSE(numel_fits({int64_t{1} << 40, int64_t{1} << 40}, n));
  EXPECT_TRUE(numel_fits({3, 0, int64_t{1} << 62}, n));
  EXPECT_EQ(n, 0);
  try {
    Tensor::empty({65536, 65536, 65536, 65536});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[65536, 65536, 65536, 65536]"), std::string::npos) << e.what();
  }
}

TEST(Limits, TildeAfterTheDataKindIsTheHomeFolder) {
  const fs::path home = fs::temp_directory_path() / ("gan_home_" + std::to_string(::getpid()));
  fs::create_directories(home / "imgs");
  io::Image img{4, 4, 3, std::vector<uint8_t>(48, 200)};
  io::save_png((home / "imgs" / "a.png").string(), img);
  const char* old = std::getenv("HOME");
  const std::string saved = old ? old : "";
  ::setenv("HOME", home.c_str(), 1);
  io::ImageDataset ds = models::load_dataset("folder:~/imgs", 8);
  EXPECT_EQ(ds.count, 1);
  EXPECT_EQ(ds.height, 8);
  ::unsetenv("HOME");
  try {
    models::load_dataset("folder:~/imgs", 8);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("HOME is not set"), std::string::npos) << e.what();
  }
  if (old) ::setenv("HOME", saved.c_str(), 1);
  fs::remove_all(home);
}
