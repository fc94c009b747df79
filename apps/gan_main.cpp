// gan: train GANs, sample from them, trace a training step, score samples, analyze a run.
//   gan train --model mlp --data mnist --out runs/mlp
//   gan sample --checkpoint runs/mlp/checkpoints/last.safetensors --n 64 --out samples.png
//   gan trace --model dcgan64 --seed 0 --out trace/
//   gan eval --checkpoint runs/mlp/checkpoints/last.safetensors --ref mnist
#include <cstdio>
#include <exception>
#include <new>

#include "apps/cli.h"
#include "engine/core/error.h"
#include "engine/cpu/blas_info.h"
#include "engine/cpu/conv_winograd.h"
#include "engine/cpu/packed_gemm.h"
#include "engine/dist/communicator.h"
#include "models/run.h"

namespace {

// Prints an error and returns its exit status. On one rank of a data-parallel run, the others may
// be waiting for this one in a collective: the message names the rank, then the whole job ends
// (MPI_Abort), so that no rank hangs.
int fail(const char* before, const char* text, int code) {
  if (!gan::dist::world_started_with_peers()) {
    std::fprintf(stderr, "%sgan: error: %s\n", before, text);
    return code;
  }
  auto w = gan::dist::world();
  std::fprintf(stderr, "%sgan: error: rank %d of %d: %s\n", before, w->rank(), w->size(), text);
  std::fflush(stderr);
  w->abort(code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  gan::cpu::reexec_for_better_blas(argv);  // before anything else: a new OpenBLAS kernel choice needs a new start
  for (const std::string& bad : {gan::cpu::gemm_setting_error(), gan::cpu::winograd::conv_setting_error()})
    if (!bad.empty()) {
      std::fprintf(stderr, "gan: error: %s\n", bad.c_str());
      return 2;
    }
  gan::app::GanCli cli;
  CLI::App& app = cli.app;
  if (argc > 1 && argv[1][0] != '-' && !cli.has_command(argv[1])) {
    std::fprintf(stderr, "gan: error: unknown command '%s' (expected train, sample, trace, classifier, classify, eval or analyze)\nRun 'gan --help' for usage.\n",
                 argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where;
    for (CLI::App* sub : app.get_subcommands()) where = " " + sub->get_name();
    std::fprintf(stderr, "gan%s: error: %s\nRun 'gan%s --help' for the flags.\n", where.c_str(), e.what(),
                 where.c_str());
    return 2;
  }
  try {
    for (CLI::App* sub : app.get_subcommands()) return cli.runners.at(sub)();
  } catch (const gan::models::TrainingDiverged& e) {
    return fail("\n", e.what(), 3);
  } catch (const gan::dist::AgreedError& e) {
    // Every rank stopped here with this message (refused settings, a setup failure): rank 0 says it
    // and all end normally.
    if (gan::dist::world()->rank() == 0) std::fprintf(stderr, "gan: error: %s\n", e.what());
    return 1;
  } catch (const gan::Error& e) {
    return fail("", e.what(), 1);
  } catch (const std::bad_alloc&) {
    // Tensors refuse what cannot fit with their own message; this is a container or a library.
    return fail("", "out of memory (a buffer could not be allocated; try a smaller --batch, --n or model width)", 1);
  } catch (const std::exception& e) {
    return fail("", e.what(), 1);
  }
  return 0;
}
