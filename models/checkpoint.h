// The one place that knows a training checkpoint's layout (safetensors, models/../docs/training.md):
//   <network>.<state dict name>         every network's parameters, buffers and counters
//                                       (generator.main.0.weight, discriminator.main.1.running_mean)
//   optim.<group>.<param>.<slot>        optimizer state (optim.generator.main.0.weight.exp_avg)
//   optim.<group>.<param>.step          its step counts (I64)
//   generator_ema.<state dict name>     the moving average of the generator (--ema), same names
// Metadata: format = gan-engine-checkpoint, format_version, arch, optimizer (its kind), step,
// config (the run's TrainConfig as JSON), loader {"epoch", "position"} and rng {"noise_seed",
// "noise_draws"[, "data_draws"]} (where the data and noise streams stand).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "models/config.h"
#include "models/data.h"

namespace gan::models {

// Metadata value identifying checkpoints of this engine.
inline constexpr const char* kCheckpointFormat = "gan-engine-checkpoint";
// The layout version written and the only one read (metadata format_version).
inline constexpr const char* kCheckpointVersion = "1";

// A training process's state, by reference: what a checkpoint is written from and restored into.
struct CheckpointState {
  const TrainConfig* config = nullptr;
  std::vector<std::pair<std::string, nn::Module*>> networks;
  std::vector<std::pair<std::string, optim::Optimizer*>> optimizers;
  int64_t step = 0;
  DataState data;
  uint64_t noise_seed = 0, noise_draws = 0;
};

io::SafetensorsFile write_checkpoint(const CheckpointState& s);

// Loads `f` into the networks and optimizers of `s` and returns its step, data and noise state.
// Throws naming `source` and the entry when the file belongs to another model or optimizer, lacks
// entries (optimizer moments included), holds unexpected ones, has wrong shapes or dtypes,
// non-finite values, or metadata out of range (step, loader epoch/position, rng counts).
CheckpointState read_checkpoint(const io::SafetensorsFile& f, const CheckpointState& into, const std::string& source);

bool is_checkpoint(const io::SafetensorsFile& f);
// The config stored in a checkpoint's metadata. Throws naming `source` if it has none, if its
// format_version is not kCheckpointVersion, or if its 'arch' disagrees with the config.
TrainConfig checkpoint_config(const io::SafetensorsFile& f, const std::string& source);

// True when `f` holds "<network>." entries (generator_ema: a run trained with --ema).
bool has_network(const io::SafetensorsFile& f, const std::string& network);

// The state of one network: a checkpoint's "<network>." entries, or, in a file of bare names
// (PyTorch's save_file(netG.state_dict())), all of them. Throws naming `source` when empty or
// when a tensor holds NaN or infinity (naming the tensor).
std::map<std::string, nn::StateValue> network_state(const io::SafetensorsFile& f, const std::string& network,
                                                    const std::string& source);

}  // namespace gan::models
