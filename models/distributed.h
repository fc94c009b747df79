// Data-parallel training (docs/distributed.md): the N processes ("ranks") of one MPI launch
// (`mpirun -np N gan train ...`, `srun --mpi=pmix`) train one run, each with a whole copy of the
// model. What a rank does differently from the single process, and why:
// - `--batch` is the global batch B. Every rank draws the same global real batch from the data
//   source (after --augment) and the same global noise from the noise stream, exactly as the single
//   process does, and keeps its own rows [r B/N, (r+1) B/N): the data and noise of an N-rank run
//   are those of one process, whatever N, and a resumed run continues them from the checkpoint.
//   (Drawing only a shard would be cheaper, but the shards would depend on N.)
// - After each phase's backward, that phase's gradients are averaged over the ranks (one
//   all-reduce per bucket of flattened gradients: MPI on CPU tensors, NCCL on CUDA ones) before
//   gradient clipping, the hooks and the optimizer step, so every rank takes the same step and holds
//   the same weights after it. Losses are means over the batch, so the mean of the ranks' gradients
//   is the gradient of the global batch's loss.
// - A recipe's other draws (StepContext::rng(): WGAN-GP's interpolation weights, DiffAugment's
//   transforms, InfoGAN's codes) come from a stream of each rank and step: independent across ranks
//   and reproducible on resume, but not the single process's numbers.
// - Batch norm: per-rank statistics by default (as PyTorch DDP), and rank 0's running statistics
//   are copied to every rank after each step (DDP's broadcast_buffers), so all ranks hold one state;
//   with --sync-bn, the statistics of the global batch (batch_norm_across).
// - The logged scalars (losses, D(x), ...) are averaged over the ranks: the global batch's means.
// - Rank 0 alone writes (logs, samples, metrics, checkpoints); every rank reads the same checkpoint
//   to resume. Settings must agree on every rank, and a failure during setup on any rank stops all
//   of them with its message (dist::AgreedError).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/dist/communicator.h"
#include "engine/nn/module.h"
#include "engine/rng/generator.h"
#include "models/config.h"
#include "models/data.h"
#include "models/metrics.h"

namespace gan::models {

class DataParallel {
 public:
  // The ranks of this launch; null when this process runs alone (no MPI launcher, or one process).
  static std::shared_ptr<DataParallel> from_launch();
  explicit DataParallel(std::shared_ptr<dist::Communicator> world);

  int rank() const { return world_->rank(); }
  int size() const { return world_->size(); }
  bool root() const { return rank() == 0; }
  dist::Communicator& world() { return *world_; }
  // "2 ranks (MPI (Open MPI v4.1.4), 2 processes on 1 machine; ...), global batch 64 = 2 x 32, ..."
  std::string describe(const TrainConfig& cfg) const;

  // ---- Setup: every rank calls these at the same point; each throws dist::AgreedError on every
  // rank alike, so that all of them stop there with one message. ----
  // Runs `step` here; when it throws on any rank, every rank throws one error naming each failed
  // rank and its message.
  void agree(const std::function<void()>& step) const;
  // Refuses settings that differ between ranks (`cfg` plus `extra`, e.g. the output folder), naming
  // the first field that differs and its values, and a --batch that does not split into N equal
  // shares.
  void check_same_settings(const TrainConfig& cfg, const std::string& extra) const;
  // This rank's device for --device `spec` (resolved by the caller as for one process): its own GPU,
  // cuda:<rank on this machine>, for auto and cuda; cuda:N only when it is alone on its machine.
  Device device(const std::string& spec, Device resolved) const;

  // ---- One training step ----
  // This rank's rows of a global batch (its first dim), and of a real batch's tensors.
  Tensor shard(const Tensor& global) const;
  void keep_shard(Batch& batch) const;
  // The global shape of a draw whose first dim is this rank's share.
  Shape global_shape(const Shape& local) const;
  // The stream of this rank's own draws in generator step `step` (a function of seed, rank, step).
  Generator rank_stream(uint64_t seed, int64_t step) const;
  // Every defined gradient of `params` replaced by its mean over the ranks.
  void average_gradients(const std::vector<Tensor>& params);
  // Every scalar replaced by its mean over the ranks.
  void average(StepScalars& scalars);
  // Rank 0's parameters (with `params`) and float buffers of `nets`, copied into every rank's.
  void copy_from_root(const std::vector<nn::Module*>& nets, bool params);
  // Makes every BatchNorm2d of `net` take the global batch's statistics in training mode.
  void synchronise_batch_norm(nn::Module& net);
  // Whether `flag` is true on any rank (every rank gets the same answer).
  bool any(bool flag);

 private:
  std::shared_ptr<dist::Communicator> world_;
};

}  // namespace gan::models
