// What the app tests share: a fresh temporary folder per test, and the built `gan` binary run in it
// with the bundled data reachable (stdout and stderr together, as a user sees them).
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>

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
  AppResult gan(const std::string& args) const {
    const std::string log = p("cmd.log");
    const std::string cmd = "cd '" + dir.string() + "' && GAN_DATA_DIR='" + std::string(GAN_SOURCE_DIR) +
                            "/data' OMP_NUM_THREADS=2 '" + std::string(GAN_APP_PATH) + "' " + args + " > '" + log +
                            "' 2>&1 < /dev/null";
    const int status = std::system(cmd.c_str());
    std::ifstream f(log);
    std::stringstream ss;
    ss << f.rdbuf();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
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
