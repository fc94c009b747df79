// gan: train GANs, sample from them, trace a training step, score samples, analyze a run.
//   gan train --model mlp --data mnist --out runs/mlp
//   gan sample --checkpoint runs/mlp/checkpoints/last.safetensors --n 64 --out samples.png
//   gan trace --model dcgan64 --seed 0 --out trace/
//   gan eval --checkpoint runs/mlp/checkpoints/last.safetensors --ref mnist
#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>
#include <new>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "models/run.h"

int main(int argc, char** argv) {
  CLI::App app{"gan: train GANs (MLP, DCGAN) on the CPU or a GPU and sample from them"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show every subcommand's flags");
  std::map<CLI::App*, gan::app::Runner> runners;
  CLI::App* train = app.add_subcommand("train", "Train a GAN; writes samples, metrics and checkpoints to --out");
  runners[train] = gan::app::add_train_command(*train);
  CLI::App* sample = app.add_subcommand("sample", "Write images from a checkpoint's generator (.png grid or .npy)");
  runners[sample] = gan::app::add_sample_command(*sample);
  CLI::App* trace = app.add_subcommand("trace", "Record one training step: activations, gradients, losses, graph");
  runners[trace] = gan::app::add_trace_command(*trace);
  CLI::App* classifier = app.add_subcommand("classifier", "Train the digits classifier that judges conditional samples");
  runners[classifier] = gan::app::add_classifier_command(*classifier);
  CLI::App* classify = app.add_subcommand("classify", "Classify a conditional or InfoGAN generator's samples (or images)");
  runners[classify] = gan::app::add_classify_command(*classify);
  CLI::App* eval = app.add_subcommand("eval", "Score samples (FID, KID, IS, precision/recall) or write a data set's statistics");
  runners[eval] = gan::app::add_eval_command(*eval);
  CLI::App* analyze = app.add_subcommand("analyze", "Diagnostic pictures of a run: gradient flow and histograms, "
                                                    "PCA/t-SNE of features, latent sensitivity, D saliency");
  runners[analyze] = gan::app::add_analyze_command(*analyze);
  if (argc > 1 && argv[1][0] != '-' && runners.end() == std::find_if(runners.begin(), runners.end(), [&](auto& r) {
        return r.first->get_name() == argv[1];
      })) {
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
    for (CLI::App* sub : app.get_subcommands()) return runners.at(sub)();
  } catch (const gan::models::TrainingDiverged& e) {
    std::fprintf(stderr, "\ngan: error: %s\n", e.what());
    return 3;
  } catch (const gan::Error& e) {
    std::fprintf(stderr, "gan: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    // Tensors refuse what cannot fit with their own message; this is a container or a library.
    std::fprintf(stderr, "gan: error: out of memory (a buffer could not be allocated; try a smaller --batch, "
                         "--n or model width)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gan: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
