// The `gan` command line: the input split on NUL bytes is argv[1..]; the app with every
// subcommand parses it (flags, validators, option callbacks) and nothing runs.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "engine/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"gan"};
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) args.push_back(cur), cur.clear();
    else cur.push_back(static_cast<char>(data[i]));
  }
  if (!cur.empty()) args.push_back(cur);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    gan::app::GanCli cli;
    cli.app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::Error&) {  // parse errors, and --help's CallForHelp
  } catch (const gan::Error&) {
  }
  return 0;
}
