// Every default a run takes from its loss and its data, in one place: each loss's paper settings
// (optimizer, learning rate, betas, critic steps, penalty weight, clipping bound, schedule), the
// WGAN-GP toy experiments' settings for 2-D data, and the default run lengths.
#pragma once
#include <cstdint>
#include <set>
#include <string>

#include "models/config.h"

namespace gan::models {

// The settings a loss brings, for image models or for the 2-D toy models.
struct LossDefaults {
  std::string optimizer;
  double lr, beta1, beta2;
  int64_t n_critic;
  double gp_lambda, clip;
  std::string lr_schedule = "constant";
};
// Throws naming an unknown loss and the known ones.
LossDefaults loss_defaults(const std::string& loss, bool toy);

// Fills the settings the user did not give (`given` holds their TrainConfig field names:
// "optimizer", "lr", "lr_schedule", "beta1", "beta2", "n_critic", "gp_lambda", "clip", "batch",
// "nz", "n_samples", "hidden") from the loss's defaults and, for toy data, from the WGAN-GP toy
// experiments (batch 256, nz 2, hidden 512 x 3, 2500 plotted points); also picks --model toy for
// toy data when the model was not given ("model").
void apply_defaults(TrainConfig& cfg, const std::set<std::string>& given);

// Generator steps of a run given no --steps or --epochs: on a CPU what finishes in minutes on 2
// cores and already shows digits on MNIST; a GPU trains longer in less time. Toy runs: 10000
// either way, the length the toy defaults were measured to converge at (docs/wgan.md).
int64_t default_steps(const std::string& arch, bool gpu);

}  // namespace gan::models
