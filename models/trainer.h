// One GAN training process in memory: a recipe (the family's networks and what its critic and
// generator steps compute, models/recipe.h), its optimizers, the data source and the noise stream,
// advanced one step at a time; its complete state goes into and comes back from one checkpoint
// (models/checkpoint.h).
//
// The trainer owns, once for every recipe: the data and noise streams, the learning-rate schedule,
// the critic-step count, backward() and the optimizer steps, freezing the critic networks for the
// generator step (their gradients would be thrown away), weight clipping, the step's scalars, the
// hooks that `gan trace` and tests attach, samples from fixed inputs, checkpoints.
//
// Determinism: all randomness comes from generators whose state is in the checkpoint (weight init
// from the seed; noise; the data source's draws or shuffles, a function of (seed, epoch)), so
// restoring a checkpoint and stepping gives, on the CPU, bit for bit the run that never stopped.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/capture/step_graph.h"
#include "engine/io/datasets.h"
#include "engine/io/safetensors.h"
#include "engine/optim/optimizer.h"
#include "models/checkpoint.h"
#include "models/config.h"
#include "models/data.h"
#include "models/distributed.h"
#include "models/losses.h"
#include "models/metrics.h"
#include "models/recipe.h"

namespace gan::models {

class Trainer {
 public:
  // `recipe` defaults to the config's (make_recipe); cfg.model must already fit the data.
  Trainer(TrainConfig cfg, std::unique_ptr<DataSource> data, Device device, std::unique_ptr<Recipe> recipe = nullptr);
  // Image data in memory (an ImageSource).
  Trainer(TrainConfig cfg, const io::ImageDataset& data, Device device);
  // The data cfg.data names (make_data_source; the model must already fit it).
  Trainer(TrainConfig cfg, Device device);

  // One generator step and the critic steps before it. `hooks` observe it (models/recipe.h).
  // With --cuda-graph on, the third step this trainer takes is recorded as a CUDA graph (the first two
  // warm it up: optimizer state, cuDNN's algorithm choices; the second also measures its memory)
  // and later steps replay it, except the steps the hooks observe, which run uncaptured. A replay's
  // scalars are views of one row of a ring of max(--log-every, 64) rows, filled on the device
  // without an allocation: read them within that many steps (the run loop does, at each log row).
  StepScalars train_step(const StepHooks* hooks = nullptr);
  static constexpr int64_t kGraphRingMinRows = 64, kGraphRingMaxRows = int64_t{1} << 20;
  // Why this run's step cannot be recorded as a CUDA graph, or "" when it can.
  std::string graph_obstacle() const;
  const StepGraph* step_graph() const { return graph_.get(); }  // null until --cuda-graph on records

  int64_t step() const { return step_; }  // completed generator steps
  int64_t total_steps() const;            // cfg.steps, or epochs x batches per epoch / critic steps
  int64_t epoch() const { return data_->state().epoch; }  // of the next batch (0 for endless data)
  int64_t images_per_step() const { return cfg_.batch * recipe_->critic_steps(); }

  const TrainConfig& config() const { return cfg_; }
  Device device() const { return device_; }
  Recipe& recipe() { return *recipe_; }
  DataSource& data() { return *data_; }
  // The recipe's network `name` / the optimizer of group `name` (throw naming it when absent).
  nn::Module& network(const std::string& name);
  optim::Optimizer& optimizer(const std::string& name);
  // Loss_d, loss_g and the recipe's scalars: the metrics columns.
  const std::vector<ScalarSpec>& scalars() const { return scalars_; }
  const std::vector<Tensor>& fixed_inputs() const { return fixed_inputs_; }

  // Samples from `inputs` in eval mode without history (batch norm uses its running statistics);
  // the networks return to training mode afterwards.
  Tensor generate(const std::vector<Tensor>& inputs);
  // The same from the moving average of the generator's weights (--ema; throws without it).
  Tensor generate_ema(const std::vector<Tensor>& inputs);
  bool has_ema() const { return ema_ != nullptr; }
  nn::Module* ema_generator() { return ema_.get(); }  // null without --ema
  // True when no parameter or buffer holds a NaN or infinity (one device read).
  bool state_finite();

  io::SafetensorsFile checkpoint() const;
  // Restores a checkpoint() of the same model and optimizer; throws naming `source` when the file
  // belongs to another model or optimizer, lacks entries or has wrong shapes.
  void restore(const io::SafetensorsFile& f, const std::string& source);

  // Makes this trainer one rank of a data-parallel run (models/distributed.h), after any restore:
  // rank 0's weights and buffers are copied to every rank now, and from then on each step trains
  // on this rank's share of the batch with gradients averaged over the ranks. A collective: every
  // rank calls it at the same point.
  void distribute(std::shared_ptr<DataParallel> dp);
  DataParallel* data_parallel() const { return dp_.get(); }  // null for one process

 private:
  class Context;
  struct Group {
    OptimizerGroup spec;
    std::unique_ptr<optim::Optimizer> opt;
    std::vector<Tensor> params;
  };
  StepScalars step_body(const StepHooks* hooks);  // the critic steps and the generator step
  StepScalars graph_step();                         // --cuda-graph on: warm up, record or replay
  StepScalars graph_ring_scalars();                 // the recorded scalars, copied into the next ring row
  void reset_graph();
  void update(Phase phase, const Tensor& loss, const StepPoint& at, const StepHooks* hooks, Context& ctx);
  void update_ema();
  std::vector<nn::Module*> all_networks() const;  // the recipe's and the moving average
  static std::map<std::string, nn::StateValue> state_map(const nn::Module& m);
  CheckpointState state() const;

  TrainConfig cfg_;
  Device device_;
  std::unique_ptr<Recipe> recipe_;
  std::vector<std::pair<std::string, nn::Module*>> networks_;  // the recipe's, fixed
  std::vector<ScalarSpec> scalars_;
  std::vector<Group> groups_;
  std::unique_ptr<DataSource> data_;
  Generator noise_gen_;
  std::vector<Tensor> fixed_inputs_;
  std::shared_ptr<nn::Module> ema_;  // the generator's moving average (checkpointed as generator_ema.*)
  int64_t step_ = 0;
  std::shared_ptr<DataParallel> dp_;  // null for one process
  Generator rank_gen_;                // data parallel: this rank's draws in this step (StepContext::rng)
  // --cuda-graph on. The recording's logged scalars are rewritten by each replay; declared before
  // the graph so that the graph goes first.
  int64_t graph_warm_steps_ = 0;
  std::optional<size_t> graph_arena_;
  StepScalars graph_scalars_;  // the recorded step's scalars (each replay overwrites them)
  Tensor graph_packed_;        // the same, packed into one [k] tensor by the recording
  Tensor graph_ring_;          // [rows, k]: the replays' scalars, one row each, reused in turn
  int64_t graph_ring_next_ = 0;
  std::unique_ptr<StepGraph> graph_;
};

// The optimizer a config asks for, over `params`, at learning rate `lr` (<= 0: cfg.lr).
std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& cfg, const optim::NamedTensors& params, double lr = 0);

}  // namespace gan::models
