#include "apps/cli.h"

#include <algorithm>

namespace gan::app {

GanCli::GanCli() {
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show every subcommand's flags");
  struct Command {
    const char* name;
    const char* help;
    Runner (*add)(CLI::App&);
  };
  static const Command kCommands[] = {
      {"train", "Train a GAN; writes samples, metrics and checkpoints to --out", add_train_command},
      {"sample", "Write images from a checkpoint's generator (.png grid or .npy)", add_sample_command},
      {"trace", "Record one training step: activations, gradients, losses, graph", add_trace_command},
      {"classifier", "Train the digits classifier that judges conditional samples", add_classifier_command},
      {"classify", "Classify a conditional or InfoGAN generator's samples (or images)", add_classify_command},
      {"eval", "Score samples (FID, KID, IS, precision/recall) or write a data set's statistics", add_eval_command},
      {"analyze", "Diagnostic pictures of a run: gradient flow and histograms, PCA/t-SNE of features, latent "
                  "sensitivity, D saliency", add_analyze_command},
      {"translate", "Translate images with a CycleGAN checkpoint (a folder or an .npy)", add_translate_command},
      {"unpaired-digits", "The bundled unpaired task for CycleGAN: write it, score a run on it",
       add_unpaired_digits_command},
  };
  for (const Command& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runners[sub] = c.add(*sub);
  }
}

bool GanCli::has_command(const std::string& name) const {
  return std::any_of(runners.begin(), runners.end(), [&](const auto& r) { return r.first->get_name() == name; });
}

}  // namespace gan::app
