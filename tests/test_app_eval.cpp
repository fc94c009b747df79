// `gan eval` as a user meets it: scores of an .npy of real digits against the bundled digits, a
// statistics file written by --save-stats and read back as --ref, a checkpoint's samples, the JSON
// output, and one-line errors naming the problem. `gan train --eval-every` through the app.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/io/npy.h"
#include "engine/io/npz.h"
#include "engine/io/safetensors.h"
#include "models/data.h"
#include "models/eval/evaluate.h"
#include "tests/app_runner.h"
#include "tests/test_helpers.h"

#ifdef GAN_APP_PATH

using namespace gan;
namespace fs = std::filesystem;

namespace {

using Result = test::AppResult;

using AppEvalTest = test::AppRunner;

// The bundled digits i in [start, end) as [N, 1, 28, 28] in [-1, 1].
Tensor digits(int64_t start, int64_t end) {
  Tensor all = models::eval::dataset_images(models::load_dataset("mnist", 28), end);
  return slice(all, 0, start, end);
}

}  // namespace

TEST_F(AppEvalTest, ScoresStatisticsAndErrors) {
  io::save_npy(p("real.npy"), digits(0, 1000));
  // Real digits against other real digits, through a statistics file of the reference.
  Result r = gan("eval --save-stats ref.npz --ref mnist --n-ref 1500 --stats-features");
  ASSERT_EQ(r.code, 0) << r.out;
  io::NpzFile st = io::load_npz(p("ref.npz"));
  EXPECT_EQ(st.get("mu").shape(), (Shape{128}));
  EXPECT_EQ(st.get("sigma").shape(), (Shape{128, 128}));
  EXPECT_EQ(st.get_string("feature_net"), "digits");
  r = gan("eval --samples real.npy --ref ref.npz --metrics fid,kid,is,pr --kid-subsets 10 --json s.json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("FID"), std::string::npos) << r.out;
  nlohmann::json j = nlohmann::json::parse(std::ifstream(p("s.json")));
  EXPECT_EQ(j.at("samples"), 1000);
  EXPECT_EQ(j.at("feature_net"), "digits");
  const double fid_stats = j.at("fid");
  EXPECT_GE(fid_stats, 0.0);
  EXPECT_LT(fid_stats, 5.0);  // the first 1000 digits are inside the 1500 of the reference
  EXPECT_GT(j.at("is").at("mean").get<double>(), 8.0);
  EXPECT_GT(j.at("precision").get<double>(), 0.9);
  // The same reference read from the data set gives the same FID as its statistics file.
  r = gan("eval --samples real.npy --ref mnist --n-ref 1500 --metrics fid --json d.json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NEAR(nlohmann::json::parse(std::ifstream(p("d.json"))).at("fid").get<double>(), fid_stats, 1e-9);
  // Noise scores far worse.
  Generator g(3);
  io::save_npy(p("noise.npy"), Tensor::rand({300, 1, 28, 28}, &g, -1.0, 1.0));
  r = gan("eval --samples noise.npy --ref ref.npz --metrics fid --json n.json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_GT(nlohmann::json::parse(std::ifstream(p("n.json"))).at("fid").get<double>(), 20 * fid_stats);

  // Errors.
  models::eval::Stats small;
  small.mu = Eigen::VectorXd::Zero(16);
  small.sigma = Eigen::MatrixXd::Identity(16, 16);
  models::eval::save_stats(p("small.npz"), small);
  expect_fails("eval --samples real.npy --ref small.npz --metrics fid", {"small.npz", "dimension 16", "128"});
  expect_fails("eval --samples real.npy --ref ref.npz --metrics fid,lpips", {"lpips"});
  expect_fails("eval --samples real.npy --ref ref.npz --n 0", {"--n"});
  expect_fails("eval --samples real.npy --ref ref.npz --n 99999999", {"--n"});
  io::save_npy(p("wide.npy"), Tensor::zeros({4, 1, 28, 30}));
  expect_fails("eval --samples wide.npy --ref ref.npz --features digits", {"28x30", "square"});
  io::save_npy(p("rgb.npy"), Tensor::zeros({4, 3, 32, 32}));
  expect_fails("eval --samples rgb.npy --ref ref.npz", {"3x32x32", "--features inception"});
  io::save_npy(p("two.npy"), Tensor::zeros({4, 2, 28, 28}));
  expect_fails("eval --samples two.npy --ref ref.npz --features digits", {"[1, 2, 28, 28]"});
  io::save_npy(p("bytes.npy"), Tensor::full({4, 1, 28, 28}, 255.0));
  expect_fails("eval --samples bytes.npy --ref ref.npz", {"bytes.npy", "[-1, 1]"});
  fs::create_directories(dir / "empty");
  expect_fails("eval --folder empty --ref ref.npz", {"empty", "no images"});
  expect_fails("eval --ref ref.npz", {"--checkpoint", "--samples", "--folder"});
  expect_fails("eval --samples real.npy --metrics fid", {"--ref"});
  expect_fails("eval --samples real.npy --ref mnist --features inception:w.safetensors", {"inception", "w.safetensors"});
  models::eval::save_stats(p("plain.npz"), models::eval::load_stats(p("ref.npz")));  // mu and sigma only
  expect_fails("eval --samples real.npy --ref plain.npz --metrics kid", {"kid", "plain.npz", "mu and sigma"});
  r = gan("eval --samples real.npy --ref plain.npz");  // the default metrics fall back to fid,is there
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(AppEvalTest, CheckpointSamplesAndTrainingEvaluation) {
  Result r = gan("train --model mlp --steps 20 --batch 16 --log-every 5 --sample-every 0 --eval-every 10 --eval-n 100 "
                 "--eval-n-ref 200 --eval-metrics fid,is --out run");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream csv(p("run/metrics.csv"));
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find("reverse_kl,fid,is"), std::string::npos) << header;
  EXPECT_TRUE(fs::exists(dir / "run/checkpoints/best.safetensors"));
  EXPECT_TRUE(io::load_safetensors(p("run/checkpoints/last.safetensors")).metadata.count("best_fid"));
  expect_fails("train --resume run --eval-every 5", {"--eval-every", "--resume"});
  expect_fails("train --model mlp --steps 2 --eval-every 1 --eval-metrics fid,bogus --out bad", {"bogus"});
  expect_fails("train --model dcgan32 --ngf 4 --ndf 4 --steps 2 --eval-every 1 --eval-features inception:none.safetensors "
               "--out bad",
               {"none.safetensors"});
  EXPECT_FALSE(fs::exists(dir / "bad"));
  // gan eval samples the checkpoint itself (seeded: the same scores twice).
  r = gan("eval --checkpoint run/checkpoints/last.safetensors --n 200 --ref mnist --n-ref 300 --metrics fid,is "
          "--json a.json");
  ASSERT_EQ(r.code, 0) << r.out;
  r = gan("eval --checkpoint run/checkpoints/last.safetensors --n 200 --ref mnist --n-ref 300 --metrics fid,is "
          "--json b.json");
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json a = nlohmann::json::parse(std::ifstream(p("a.json"))), b = nlohmann::json::parse(std::ifstream(p("b.json")));
  EXPECT_EQ(a.at("samples"), 200);
  EXPECT_EQ(a.at("fid"), b.at("fid"));
  EXPECT_GT(a.at("fid").get<double>(), 0.0);
}

#else
TEST(AppEvalTest, Skipped) { GTEST_SKIP() << "the gan app target is not part of this build"; }
#endif
