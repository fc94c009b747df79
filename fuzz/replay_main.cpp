// Runs a harness over every file below the folders given (its regression corpus), for builds
// without libFuzzer: CI replays the corpora under AddressSanitizer and UBSan with g++. A crash
// or sanitizer report ends the process; otherwise it prints how many inputs it ran. The first
// folder (the corpus) must hold inputs, so a test never passes over nothing; the others (the
// regressions) may be absent.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR... (runs the harness on every file below them)\n", argv[0]);
    return 2;
  }
  size_t files = 0, bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int a = 1; a < argc; ++a) {
    std::error_code ec;
    if (!fs::is_directory(argv[a], ec)) {
      if (a > 1) continue;
      std::fprintf(stderr, "replay: %s: not a folder\n", argv[a]);
      return 2;
    }
    std::vector<fs::path> paths;
    for (const auto& e : fs::recursive_directory_iterator(argv[a]))
      if (e.is_regular_file()) paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());  // the same order on every machine
    if (paths.empty() && a == 1) {
      std::fprintf(stderr, "replay: %s: holds no inputs\n", argv[a]);
      return 2;
    }
    for (const auto& p : paths) {
      std::ifstream in(p, std::ios::binary);
      std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // Print the name first: a crash report then says which input it was.
      std::fprintf(stderr, "replay: %s\n", p.c_str());
      // A heap block of exactly the input's size, as libFuzzer passes it, so that a read past
      // the end is caught by AddressSanitizer (a vector's capacity may be larger).
      std::unique_ptr<uint8_t[]> exact(new uint8_t[buf.size() + !buf.size()]);
      std::copy(buf.begin(), buf.end(), exact.get());
      LLVMFuzzerTestOneInput(exact.get(), buf.size());
      ++files;
      bytes += buf.size();
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("replay: %zu inputs, %zu bytes, no failure (%.2f s)\n", files, bytes, s);
  return 0;
}
