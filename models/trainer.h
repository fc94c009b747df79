// One GAN training process in memory: the two networks, their optimizers, the loss strategy,
// the data loader and the random generators, advanced one step at a time; its complete state
// goes into and comes back from one safetensors checkpoint.
//
// A step follows pytorch/examples dcgan: G(z) once; a discriminator update on a real batch and
// on G(z) detached; then a generator update through D(G(z)) (D's weights frozen for that
// backward: their gradients would be thrown away). Losses with several critic steps draw a
// fresh real batch and fake batch per critic step, then a fresh G(z) for the generator step.
//
// Determinism: all randomness comes from generators whose state is in the checkpoint (weight
// init from seed; noise; the loader's shuffles are a function of (seed, epoch)), so restoring a
// checkpoint and stepping gives, on the CPU, bit for bit the run that never stopped.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/io/datasets.h"
#include "engine/io/loader.h"
#include "engine/io/safetensors.h"
#include "engine/optim/optimizer.h"
#include "models/config.h"
#include "models/losses.h"
#include "models/model.h"
#include "models/toy.h"

namespace gan::models {

// The step's scalars as 0-dim tensors on the training device (reading them is a device sync,
// left to the caller).
struct StepLosses {
  Tensor loss_d, loss_g;
  Tensor d_x;    // mean sigmoid(D(x)) on the real batch
  Tensor d_g_z;  // mean sigmoid(D(G(z))) before the discriminator update
  LossTerms terms;  // the loss's own terms on the last critic step (undefined where it has none)
};

class Trainer {
 public:
  // cfg.model.channels / image_size must already match what the data should be fitted to.
  Trainer(TrainConfig cfg, const io::ImageDataset& data, Device device);
  // A run on 2-D toy data (cfg.data gaussians8 | gaussians25 | swissroll, cfg.model.arch toy):
  // every real batch is a fresh draw from the distribution.
  Trainer(TrainConfig cfg, Device device);

  StepLosses train_step();

  int64_t step() const { return step_; }  // completed generator steps
  int64_t total_steps() const;            // cfg.steps, or epochs x batches per epoch
  int64_t epoch() const;                  // epoch of the most recent batch (0 for toy data)
  int64_t images_per_step() const { return cfg_.batch * loss_->discriminator_steps(); }

  const TrainConfig& config() const { return cfg_; }
  TrainConfig& mutable_config() { return cfg_; }  // run lengths and intervals only
  Device device() const { return device_; }
  GanModel& model() { return model_; }
  optim::Optimizer& g_optimizer() { return *opt_g_; }
  optim::Optimizer& d_optimizer() { return *opt_d_; }
  io::BatchLoader& loader();  // image data only
  // The toy distribution of a toy run (nullptr for image data).
  const ToyData* toy_data() const { return toy_ ? &*toy_ : nullptr; }
  GanLoss& loss() { return *loss_; }
  void set_loss(std::unique_ptr<GanLoss> loss);
  const Tensor& fixed_noise() const { return fixed_noise_; }

  // G(z) in eval mode without history (BatchNorm uses its running statistics); the networks
  // return to training mode afterwards.
  Tensor generate(const Tensor& z);
  // True when no parameter or buffer holds a NaN or infinity (one device read).
  bool state_finite() const;

  io::SafetensorsFile checkpoint() const;
  // Restores a checkpoint() of the same model and optimizer; throws naming `source` when the file
  // belongs to another model or optimizer, lacks entries or has wrong shapes.
  void restore(const io::SafetensorsFile& f, const std::string& source);

 private:
  TrainConfig cfg_;
  Device device_;
  void init();
  Tensor next_real();

  GanModel model_;
  std::unique_ptr<optim::Optimizer> opt_g_, opt_d_;
  std::unique_ptr<io::BatchLoader> loader_;
  std::optional<ToyData> toy_;
  Generator data_gen_;  // toy data draws
  Generator noise_gen_;
  Tensor fixed_noise_;
  std::unique_ptr<GanLoss> loss_;
  int64_t step_ = 0;
};

// Metadata value identifying checkpoints of this engine.
inline constexpr const char* kCheckpointFormat = "gan-engine-checkpoint";

// The config stored in a checkpoint's metadata (throws naming `source` if it has none).
TrainConfig checkpoint_config(const io::SafetensorsFile& f, const std::string& source);

// The optimizer a config asks for, over `params`.
std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& cfg, const optim::NamedTensors& params);

}  // namespace gan::models
