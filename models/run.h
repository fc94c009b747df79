// A training run on disk: the output folder, its config.json, metrics.csv (models/metrics.h),
// sample grids and checkpoints (models/checkpoint.h), the NaN guard, and resuming. The `gan train`
// command is this plus flag parsing.
//
// Layout of DIR:
//   config.json                      the run's settings (also inside every checkpoint)
//   metrics.csv                      one row per logging interval (models/metrics.h)
//   gradients.csv, gradients-hist.csv  gradient norms per log interval, histograms at chosen
//                                    steps (models/eval/gradient_log.h)
//   curves.png                       those curves as a picture, redrawn with every sample grid
//   samples/step-NNNNNN.png          grids of samples from the fixed inputs (toy data: scatter
//                                    plots over the critic's heat map); samples/last.png is the latest
//   checkpoints/last.safetensors     full state, replaced atomically at every checkpoint
//   checkpoints/step-NNNNNN.safetensors  the periodic ones
//   .lock                            flock'ed by the run using the folder; holds its pid
//
// A run holds the folder's lock (io::FolderLock) from its first check to its return, so a second
// run on the same folder is refused at once, naming the holder's pid; the kernel drops the lock
// when the process dies. At the start, temporary files of killed writers are removed
// (io::remove_stale_temp_files on DIR, checkpoints/, samples/ and eval/).
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/device.h"
#include "engine/io/safetensors.h"
#include "models/config.h"
#include "models/metrics.h"
#include "models/trainer.h"

namespace gan::models {

struct RunEvents {
  std::function<void(const std::string&)> on_info;                       // one-line notes
  std::function<void(const LogRecord&)> on_log;                          // every log interval
  std::function<void(const std::string& what, const std::string& path)> on_output;  // "sample", "checkpoint"
  // Polled after every step; true ends the run early with a checkpoint (SIGINT, SIGTERM).
  std::function<bool()> should_stop;
};

struct RunResult {
  std::string out_dir, config_path, metrics_path, last_sample, last_checkpoint;
  int64_t first_step = 0, last_step = 0;  // steps trained by this call: (first_step, last_step]
  double seconds = 0;                     // wall time of the training loop
  bool interrupted = false;               // should_stop ended it before the last step
  bool follower = false;  // a rank other than 0 of a data-parallel run: it wrote nothing, rank 0 reports
};

struct ResumeOverrides {
  std::optional<int64_t> steps, epochs, sample_every, checkpoint_every, log_every;
  std::optional<std::string> device, kernels, cuda_graph, precision;
  std::optional<bool> tf32;
  std::optional<double> bucket_mb;
  std::optional<std::vector<int64_t>> grad_hist_steps;
};

// The trainer of a run, for a fresh run and for a resumed one alike: applies the config's device
// and CUDA kernel choice, and takes its data from `data` or else from cfg.data (a fresh run fits
// cfg.model to the data; a resumed one must match it). With `checkpoint` the trainer continues
// from it (errors name `source`). `ev` hears what was set up. With `dp` (a rank of a data-parallel
// run) the device is this rank's; the caller then distributes the trainer (Trainer::distribute).
std::unique_ptr<Trainer> build_trainer(TrainConfig& cfg, const io::SafetensorsFile* checkpoint, const std::string& source,
                                       const RunEvents& ev, std::unique_ptr<DataSource> data = nullptr,
                                       const DataParallel* dp = nullptr);

// Started by an MPI launcher as N > 1 processes, run_training and resume_training train one run on
// all of them (models/distributed.h): rank 0 writes and reports, the others train in step with it;
// settings that differ between ranks, or a failure during setup on any rank, stop every rank with
// one message (dist::AgreedError).
//
// Trains from scratch into `out_dir`. Everything is checked (data, config, device, the folder
// not in use by a live run, nor holding another run unless `overwrite`) before anything is
// written.
RunResult run_training(TrainConfig cfg, const std::string& out_dir, const RunEvents& events, bool overwrite = false);

// Continues the run in `dir` from checkpoints/last.safetensors with its saved config (run length,
// intervals and device may be overridden). metrics.csv keeps only rows up to the checkpoint.
// Refused, writing nothing, while another run holds the folder's lock.
RunResult resume_training(const std::string& dir, const ResumeOverrides& overrides, const RunEvents& events);

// "auto" -> CUDA when available, else CPU; otherwise parse_device (throws for unknown names or a
// CUDA device this build or machine does not have).
Device resolve_device(const std::string& spec);

}  // namespace gan::models
