// `gan analyze`: visual diagnostics of a training run, as PNGs with their numbers beside them
// (CSV/JSON), in DIR/analysis/ (docs/analysis.md says how to read each):
//   gradient-flow.png            per-parameter gradient norms over training (log scale) for G and
//   gradient-flow.csv            D, and the mean norm of each parameter as bars (gradients.csv)
//   gradient-histograms.png      small multiples of each parameter's gradient histogram at the
//   gradient-histograms.csv      steps recorded by --grad-hist-steps (else at the step after the
//                                checkpoint, recomputed through the trainer's own step)
//   embedding-VIEW-pca.png       real and generated images' features projected on their first two
//   embedding-VIEW-tsne.png      principal axes and mapped by t-SNE, coloured by class; VIEW is
//   embedding-VIEW.csv/.json     discriminator (its penultimate layer) and the --features network
//   latent-sensitivity.png       |dG/dz_i| per latent dimension as bars,
//   latent-sweeps.png            and sweeps of the most and least sensitive dimensions
//   latent-sensitivity.csv
//   saliency.png                 |dD(x)/dx| of real and generated images beside the images
//   saliency.csv, saliency.npy
// Classes: the data's labels for real images; for generated ones the condition of a conditional
// generator, else the feature network's most probable class, else a `gan classifier` file's
// prediction, else none (drawn grey).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/eval/feature_net.h"
#include "models/eval/tsne.h"

namespace gan::models::eval {

struct AnalyzeRequest {
  std::string run_dir;     // a `gan train` folder (its checkpoints/last.safetensors unless checkpoint)
  std::string checkpoint;  // or this checkpoint (its run folder, if any, supplies gradients.csv)
  std::string out_dir;     // default: RUN/analysis
  std::shared_ptr<FeatureNet> features;  // optional second feature view (--features)
  std::string classifier;                // optional: labels generated images (gan classifier)
  int64_t n = 500;                       // real and as many generated images in the embeddings
  TsneOptions tsne;
  int64_t sensitivity_samples = 16;      // latents averaged over per dimension
  double eps = 0.25;                     // the latent step of the central difference
  int64_t sweep_dims = 4;                // most and least sensitive dimensions swept
  int64_t saliency_images = 8;           // real and generated
  uint64_t seed = 0;
  std::string device = "cpu";
  std::function<void(const std::string&)> on_info;
};

struct AnalyzeOutputs {
  std::string out_dir;
  std::vector<std::pair<std::string, std::string>> files;  // (what, path), in the order written
  std::vector<std::string> notes;                          // what was skipped and why
};

// Throws gan::Error naming the flag or file: a folder without checkpoints, a checkpoint of another
// kind, a feature network whose input does not fit the images.
AnalyzeOutputs analyze(const AnalyzeRequest& req);

}  // namespace gan::models::eval
