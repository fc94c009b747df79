#include "apps/cli.h"

#include <algorithm>

namespace gan::app {

GanCli::GanCli() {
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show every subcommand's flags");
  CLI::App* train = app.add_subcommand("train", "Train a GAN; writes samples, metrics and checkpoints to --out");
  runners[train] = add_train_command(*train);
  CLI::App* sample = app.add_subcommand("sample", "Write images from a checkpoint's generator (.png grid or .npy)");
  runners[sample] = add_sample_command(*sample);
  CLI::App* trace = app.add_subcommand("trace", "Record one training step: activations, gradients, losses, graph");
  runners[trace] = add_trace_command(*trace);
  CLI::App* classifier = app.add_subcommand("classifier", "Train the digits classifier that judges conditional samples");
  runners[classifier] = add_classifier_command(*classifier);
  CLI::App* classify = app.add_subcommand("classify", "Classify a conditional or InfoGAN generator's samples (or images)");
  runners[classify] = add_classify_command(*classify);
  CLI::App* eval = app.add_subcommand("eval", "Score samples (FID, KID, IS, precision/recall) or write a data set's statistics");
  runners[eval] = add_eval_command(*eval);
  CLI::App* analyze = app.add_subcommand("analyze", "Diagnostic pictures of a run: gradient flow and histograms, "
                                                    "PCA/t-SNE of features, latent sensitivity, D saliency");
  runners[analyze] = add_analyze_command(*analyze);
  CLI::App* translate = app.add_subcommand("translate", "Translate images with a CycleGAN checkpoint (a folder or an .npy)");
  runners[translate] = add_translate_command(*translate);
  CLI::App* digits = app.add_subcommand("unpaired-digits", "The bundled unpaired task for CycleGAN: write it, score a run on it");
  runners[digits] = add_unpaired_digits_command(*digits);
}

bool GanCli::has_command(const std::string& name) const {
  return std::any_of(runners.begin(), runners.end(), [&](const auto& r) { return r.first->get_name() == name; });
}

}  // namespace gan::app
