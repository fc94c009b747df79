// A training run on disk: the output folder, its config.json, metrics.csv, sample grids and
// checkpoints, the NaN guard, and resuming. The `gan train` command is this plus flag parsing.
//
// Layout of DIR:
//   config.json                      the run's settings (also inside every checkpoint)
//   metrics.csv                      step,epoch,loss_d,loss_g,d_x,d_g_z,images_per_s (means
//                                    over each logging interval), then wasserstein,
//                                    gradient_penalty,grad_norm (WGAN family; empty otherwise)
//                                    and modes_covered,high_quality,reverse_kl (toy data with
//                                    modes, on sample steps; models/toy.h defines them)
//   curves.png                       those curves as a picture, redrawn with every sample grid
//   samples/step-NNNNNN.png          grids of G(fixed noise) (toy data: scatter plots over the
//                                    critic's heat map); samples/last.png is the latest
//   checkpoints/last.safetensors     full state, replaced atomically at every checkpoint
//   checkpoints/step-NNNNNN.safetensors  the periodic ones
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "engine/core/device.h"
#include "engine/core/error.h"
#include "models/config.h"
#include "models/toy.h"

namespace gan::models {

// Training produced a NaN or infinite loss or weights: the run stops without writing a
// checkpoint of the broken state (the last good one stays in place).
struct TrainingDiverged : Error {
  using Error::Error;
};

struct LogRecord {
  int64_t step = 0, total_steps = 0, epoch = 0;
  double loss_d = 0, loss_g = 0, d_x = 0, d_g_z = 0;
  double images_per_s = 0;  // over the last logging interval
  double steps_per_s = 0;   // since this process started training
  double elapsed_s = 0, eta_s = 0;
  std::optional<double> wasserstein;  // WGAN family
  std::optional<Coverage> coverage;   // toy data with modes, on sample steps
};

struct RunEvents {
  std::function<void(const std::string&)> on_info;                       // one-line notes
  std::function<void(const LogRecord&)> on_log;                          // every log interval
  std::function<void(const std::string& what, const std::string& path)> on_output;  // "sample", "checkpoint"
  // Polled after every step; true ends the run early with a checkpoint (Ctrl-C).
  std::function<bool()> should_stop;
};

struct RunResult {
  std::string out_dir, config_path, metrics_path, last_sample, last_checkpoint;
  int64_t first_step = 0, last_step = 0;  // steps trained by this call: (first_step, last_step]
  double seconds = 0;                     // wall time of the training loop
  bool interrupted = false;               // should_stop ended it before the last step
};

struct ResumeOverrides {
  std::optional<int64_t> steps, epochs, sample_every, checkpoint_every, log_every;
  std::optional<std::string> device, kernels;
  std::optional<bool> tf32;
};

// Trains from scratch into `out_dir`. Everything is checked (data, config, device, the folder
// not holding another run unless `overwrite`) before anything is written.
RunResult run_training(TrainConfig cfg, const std::string& out_dir, const RunEvents& events, bool overwrite = false);

// Continues the run in `dir` from checkpoints/last.safetensors with its saved config (run length,
// intervals and device may be overridden). metrics.csv keeps only rows up to the checkpoint.
RunResult resume_training(const std::string& dir, const ResumeOverrides& overrides, const RunEvents& events);

// "auto" -> CUDA when available, else CPU; otherwise parse_device (throws for unknown names or a
// CUDA device this build or machine does not have).
Device resolve_device(const std::string& spec);

}  // namespace gan::models
