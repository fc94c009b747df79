// What the app tests share: a fresh temporary folder per test, and the built `gan` binary run in it
// with the bundled data reachable (stdout and stderr together, as a user sees them).
#pragma once
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace gan::test {

struct AppResult {
  int code;  // the exit status; -1 when the command did not exit normally (a crash)
  std::string out;
};

#ifdef GAN_APP_PATH
class AppRunner : public ::testing::Test {
 protected:
  std::filesystem::path dir;

  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("gan_app_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string p(const std::string& name) const { return (dir / name).string(); }

  // Runs `gan ARGS` in the test's folder.
  AppResult gan(const std::string& args) const { return gan_in_env("", args); }

  // The same under `env ENV_ARGS` ("-u NAME" unsets, "NAME=VALUE" sets).
  AppResult gan_in_env(const std::string& env_args, const std::string& args) const {
    const std::string log = p("cmd.log");
    const std::string cmd = "cd '" + dir.string() + "' && GAN_DATA_DIR='" + std::string(GAN_SOURCE_DIR) +
                            "/data' OMP_NUM_THREADS=2 env " + env_args + " '" + std::string(GAN_APP_PATH) + "' " +
                            args + " > '" + log + "' 2>&1 < /dev/null";
    const int status = std::system(cmd.c_str());
    std::ifstream f(log);
    std::stringstream ss;
    ss << f.rdbuf();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
  }

  // Starts `gan ARGS` (split at spaces) in the test's folder without waiting; its output goes to
  // `log` there. The returned pid is the gan process itself (no shell between), to signal it.
  pid_t gan_start(const std::string& args, const std::string& log) const {
    std::vector<std::string> words{GAN_APP_PATH};
    std::istringstream in(args);
    for (std::string w; in >> w;) words.push_back(w);
    const std::string data = std::string(GAN_SOURCE_DIR) + "/data", out = p(log), cwd = dir.string();
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<char*> argv;
      for (std::string& w : words) argv.push_back(w.data());
      argv.push_back(nullptr);
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int null = ::open("/dev/null", O_RDONLY);
      if (fd < 0 || null < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(127);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::dup2(null, 0);
      ::setenv("GAN_DATA_DIR", data.c_str(), 1);
      ::setenv("OMP_NUM_THREADS", "2", 1);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return pid;
  }

  // Waits at most `seconds` for `pid` to exit; its status as AppResult::code (-1: killed by a
  // signal), or the process is killed and the test fails when it does not end in time.
  static int wait_exit(pid_t pid, double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        ADD_FAILURE() << "process " << pid << " still running after " << seconds << " s";
        return -2;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Polls `ready` every few milliseconds for at most `seconds`; whether it became true.
  template <class F>
  static bool wait_until(F ready, double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!ready()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  std::string read_text(const std::string& name) const {
    std::ifstream f(p(name));
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  // A failing command: a non-zero exit (not a crash) and one "error:" line holding every needle.
  void expect_fails(const std::string& args, std::initializer_list<std::string> needles) const {
    const AppResult r = gan(args);
    EXPECT_NE(r.code, 0) << args << "\n" << r.out;
    EXPECT_NE(r.code, -1) << args << " crashed\n" << r.out;
    const size_t pos = r.out.find("error: ");
    ASSERT_NE(pos, std::string::npos) << args << "\n" << r.out;
    const std::string line = r.out.substr(pos, r.out.find('\n', pos) - pos);
    for (const auto& n : needles) EXPECT_NE(line.find(n), std::string::npos) << args << "\n" << r.out;
  }
};
#endif

}  // namespace gan::test
