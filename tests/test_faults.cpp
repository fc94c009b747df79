// The fault suite: what a training run survives and how it says so. Stop signals end a run at a
// step with a checkpoint and a resume gives the run that never stopped; a SIGKILL at any moment,
// checkpoint writes included, leaves only loadable checkpoints and no temporary file after the next
// start; a full disk ends the run with an error naming the file and ENOSPC, the previous checkpoint
// intact. (Two runs on one folder: AppTest.SecondRunOnAFolderInUseIsRefused in test_app.cpp.)
// Every run is tiny (2-D toy data, width-16 networks, or a small MLP) so the suite takes seconds.
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "engine/io/file_util.h"
#include "engine/io/safetensors.h"
#include "models/checkpoint.h"
#include "models/sampling.h"
#include "models/trainer.h"
#include "tests/app_runner.h"

#ifdef GAN_APP_PATH

using namespace gan;
namespace fs = std::filesystem;

namespace {

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

int64_t last_row_step(const std::string& metrics) {
  const size_t end = metrics.find_last_not_of('\n');
  const size_t start = metrics.rfind('\n', end);
  return std::stoll(metrics.substr(start + 1, metrics.find(',', start + 1) - start - 1));
}

int64_t checkpoint_step(const std::string& path) {
  return std::stoll(io::load_safetensors(path).metadata.at("step"));
}

class Faults : public test::AppRunner {
 protected:
  void expect_stop_and_exact_resume(int sig, const std::string& announced) const;
};

// A stop signal in the middle of a run: it ends at the end of a step with its checkpoint and
// metrics row, exit status 128 + the signal, and resuming gives, byte for byte, the checkpoint of
// the run that was never stopped.
void Faults::expect_stop_and_exact_resume(int sig, const std::string& announced) const {
  const Faults& t = *this;
  // About a second of tiny toy steps: the signal lands well inside the run.
  const int steps = 3000;
  const std::string flags = "train --data gaussians8 --toy-width 16 --batch 32 --steps " + std::to_string(steps) +
                            " --log-every 5 --sample-every 0";
  const pid_t pid = t.gan_start(flags + " --out stopped", "stopped.log");
  ASSERT_GT(pid, 0);
  const bool row = t.wait_until([&] { return count_lines(t.read_text("stopped/metrics.csv")) >= 2; }, 60);
  ASSERT_EQ(::kill(pid, sig), 0);
  const int code = t.wait_exit(pid, 60);
  const std::string out = t.read_text("stopped.log");
  ASSERT_TRUE(row) << out;
  EXPECT_EQ(code, 128 + sig) << out;
  EXPECT_NE(out.find(announced), std::string::npos) << out;
  EXPECT_NE(out.find("interrupted after steps 0.."), std::string::npos) << out;
  EXPECT_NE(out.find("continue with: gan train --resume stopped"), std::string::npos) << out;
  ASSERT_TRUE(fs::exists(t.dir / "stopped/checkpoints/last.safetensors")) << out;
  const int64_t stopped = checkpoint_step(t.p("stopped/checkpoints/last.safetensors"));
  EXPECT_GE(stopped, 5) << out;
  EXPECT_LT(stopped, steps) << out;
  EXPECT_EQ(last_row_step(t.read_text("stopped/metrics.csv")), stopped);

  test::AppResult r = t.gan("train --resume stopped");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resuming toy at step " + std::to_string(stopped)), std::string::npos) << r.out;
  r = t.gan(flags + " --out straight");
  ASSERT_EQ(r.code, 0) << r.out;
  const io::SafetensorsFile a = io::load_safetensors(t.p("straight/checkpoints/last.safetensors"));
  const io::SafetensorsFile b = io::load_safetensors(t.p("stopped/checkpoints/last.safetensors"));
  EXPECT_EQ(a.metadata.at("step"), std::to_string(steps));
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, tensor] : a.tensors) {
    const io::StoredTensor* other = b.find(name);
    ASSERT_NE(other, nullptr) << name;
    EXPECT_TRUE(tensor.data == other->data) << name << " differs after the stop and resume";
  }
  EXPECT_EQ(a.metadata, b.metadata);
}

// The temporary files (write_file_atomic's ".NAME.tmp.PID") under a run folder.
std::vector<std::string> temp_files(const fs::path& run) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(run))
    if (io::temp_file_pid(e.path().filename().string()) > 0) found.push_back(e.path().string());
  return found;
}

// A checkpoint loaded as `gan train --resume` loads it (the real loader: every tensor, the
// optimizer state and the metadata checked) and as `gan sample` loads its generator.
void expect_loadable(const std::string& path) {
  SCOPED_TRACE(path);
  try {
    const io::SafetensorsFile f = io::load_safetensors(path);
    models::TrainConfig cfg = models::checkpoint_config(f, path);
    cfg.device = "cpu";
    models::Trainer t(cfg, Device::cpu());
    t.restore(f, path);
    EXPECT_EQ(t.step(), std::stoll(f.metadata.at("step")));
    models::load_generator(path, Device::cpu());
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
}

// Toy runs: networks of width 16 on 8 Gaussians, a checkpoint of a few kilobytes every step.
const char kToyRun[] = "train --data gaussians8 --toy-width 16 --batch 32 --sample-every 0 --log-every 1 ";

}  // namespace

TEST_F(Faults, SigintStopsAtAStepWithACheckpointAndResumesExactly) {
  expect_stop_and_exact_resume(SIGINT, "stopping after this step and writing a checkpoint (Ctrl-C again");
}

// SIGTERM (timeout, Slurm, container stops) ends a run as Ctrl-C does.
TEST_F(Faults, SigtermStopsAtAStepWithACheckpointAndResumesExactly) {
  expect_stop_and_exact_resume(SIGTERM, "SIGTERM: stopping after this step");
}

// SIGKILL cannot be caught: whatever the moment, the checkpoints present are whole (the old or the
// new file, never a torn one) and the next start removes the dead writer's temporary files.
// Several rounds with random delays from a fixed seed, each killing a run that writes a
// checkpoint after every step.
TEST_F(Faults, SigkillDuringCheckpointWritesLeavesOnlyLoadableCheckpoints) {
  std::mt19937 delays(20261203);
  std::uniform_int_distribution<int> ms(5, 250);
  int rounds_with_temp = 0;
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string args = round == 0 ? std::string(kToyRun) + "--steps 100000 --checkpoint-every 1 --out run"
                                        : "train --resume run";
    const std::string log = "round" + std::to_string(round) + ".log";
    const pid_t pid = gan_start(args, log);
    ASSERT_GT(pid, 0);
    // From the first checkpoint of this round on, a checkpoint is being written most of the time.
    const int64_t before = fs::exists(dir / "run/checkpoints/last.safetensors")
                               ? checkpoint_step(p("run/checkpoints/last.safetensors"))
                               : 0;
    const bool moving = wait_until(
        [&] {
          return fs::exists(dir / "run/checkpoints/last.safetensors") &&
                 fs::exists(dir / ("run/checkpoints/step-" + std::string(6 - std::to_string(before + 1).size(), '0') +
                                   std::to_string(before + 1) + ".safetensors"));
        },
        60);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms(delays)));
    ::kill(pid, SIGKILL);
    EXPECT_EQ(wait_exit(pid, 60), -1) << read_text(log);
    ASSERT_TRUE(moving) << read_text(log);
    rounds_with_temp += !temp_files(dir / "run").empty();
    for (const auto& e : fs::directory_iterator(dir / "run/checkpoints"))
      if (e.path().extension() == ".safetensors") expect_loadable(e.path().string());
    if (HasFailure()) return;
  }
  // The next start removes what the killed writers left, and the run goes on from its last step.
  const int64_t at = checkpoint_step(p("run/checkpoints/last.safetensors"));
  const test::AppResult r = gan("train --resume run --checkpoint-every 0 --steps " + std::to_string(at + 2));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resuming toy at step " + std::to_string(at)), std::string::npos) << r.out;
  EXPECT_EQ(temp_files(dir / "run"), std::vector<std::string>{});
  EXPECT_EQ(checkpoint_step(p("run/checkpoints/last.safetensors")), at + 2);
  RecordProperty("rounds_that_left_a_temporary_file", rounds_with_temp);
}

// A run folder on a small tmpfs that the run fills: the error names the file that could not be
// written and says the disk is full, the status is non-zero, and the last checkpoint is the
// previous one, whole and loadable (atomic replacement never truncates it in place).
class FullDisk : public test::AppRunner {
 protected:
  bool mounted = false;
  void SetUp() override {
    test::AppRunner::SetUp();
    fs::create_directories(dir / "disk");
    if (::mount("tmpfs", p("disk").c_str(), "tmpfs", 0, "size=160k") == 0) mounted = true;
    else skip_reason = std::string("mount -t tmpfs is not permitted here (") + std::strerror(errno) + ")";
  }
  void TearDown() override {
    if (mounted) ::umount2(p("disk").c_str(), MNT_DETACH);
    test::AppRunner::TearDown();
  }
  std::string skip_reason;
};

TEST_F(FullDisk, TheErrorNamesTheFileAndEnospcAndThePreviousCheckpointStays) {
  if (!mounted) GTEST_SKIP() << skip_reason;
  const test::AppResult r = gan(std::string(kToyRun) + "--steps 100000 --checkpoint-every 1 --out disk/run");
  EXPECT_EQ(r.code, 1) << r.out;
  const size_t at = r.out.find("error: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
  EXPECT_NE(line.find("disk/run/"), std::string::npos) << line;
  EXPECT_NE(line.find("No space left on device (ENOSPC: the disk is full)"), std::string::npos) << line;
  EXPECT_NE(line.find("the last good checkpoint is disk/run/checkpoints/last.safetensors (step "), std::string::npos)
      << line;
  const std::string last = p("disk/run/checkpoints/last.safetensors");
  ASSERT_TRUE(fs::exists(last)) << r.out;
  expect_loadable(last);
  const int64_t step = checkpoint_step(last);
  EXPECT_NE(line.find("(step " + std::to_string(step) + ")"), std::string::npos) << line;
  EXPECT_EQ(temp_files(dir / "disk/run"), std::vector<std::string>{});  // the failed write removed its own

  // Space freed (the periodic checkpoints deleted), the run resumes from that step.
  for (const auto& e : fs::directory_iterator(dir / "disk/run/checkpoints"))
    if (e.path().filename().string().rfind("step-", 0) == 0) fs::remove(e.path());
  const test::AppResult resumed =
      gan("train --resume disk/run --checkpoint-every 0 --steps " + std::to_string(step + 2));
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_EQ(checkpoint_step(last), step + 2);
}

#else
TEST(Faults, Skipped) { GTEST_SKIP() << "the gan app target is not part of this build"; }
#endif
