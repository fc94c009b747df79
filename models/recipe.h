// A GAN family as a recipe: its named networks, the optimizer groups that update them, and what one
// critic step and one generator step compute. The trainer (models/trainer.h) owns everything else,
// once for every family: the data and noise streams, the learning-rate schedule, the critic-step
// count, backward() and the optimizer steps, freezing the critics for the generator step, weight
// clipping, logging, the NaN guard, samples, checkpoints and resume.
//
// One training step, as the trainer runs it:
//   each critic step:  draw a real batch; loss = critic_loss(ctx); zero the critic groups'
//                      gradients; loss.backward(); hooks; step the critic optimizers; clip
//   generator step:    critics frozen; loss = generator_loss(ctx); zero the generator groups'
//                      gradients; loss.backward(); hooks; step the generator optimizers
// The losses are logged as loss_d (the last critic step's) and loss_g; a recipe logs its own
// scalars with ctx.log() (a step keeps the latest value of each name).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/rng/generator.h"
#include "models/data.h"

namespace gan::models {

enum class Phase { Critic, Generator };

// Where in a training step something happens.
struct StepPoint {
  Phase phase = Phase::Critic;
  int critic_index = 0;  // which critic step (0-based); in the generator phase, the number of them
  int critic_steps = 1;
};

// Observers of one training step (gan trace, tests); any member may be empty. They read and change
// nothing, except that on_input may replace an input by one of the same shape.
struct StepHooks {
  // When set: the only steps (1-based: the step being taken) the hooks watch. A recorded step
  // (--cuda-graph on) runs those steps uncaptured, and replays the others; unset, the hooks watch
  // every step and nothing is recorded.
  std::function<bool(int64_t step)> observes;
  // An input the trainer drew: "real" (the data batch), "labels" (its class ids, conditional runs),
  // "real_b" (domain B's batch, cyclegan) or "noise" (from the noise stream).
  std::function<void(const StepPoint&, const std::string& name, Tensor& value)> on_input;
  // The output of layer `path` (a leaf module, e.g. "main.3") of `network` in the pass the recipe
  // named `pass` ("" where it named none).
  std::function<void(const StepPoint&, const std::string& network, const std::string& pass,
                     const std::string& path, const Tensor& out)>
      on_activation;
  // Any other tensor a recipe shows (the penalty's interpolates and input gradient).
  std::function<void(const StepPoint&, const std::string& name, const Tensor& value)> on_tensor;
  // After loss.backward() of a phase and before its optimizers step (gradients are in place).
  std::function<void(const StepPoint&, const Tensor& loss)> before_optimizer_step;
};

// What a recipe's step may use, provided by the trainer for one step.
class StepContext {
 public:
  virtual ~StepContext() = default;
  virtual const StepPoint& point() const = 0;
  // This critic step's batch, on the training device; in the generator phase, the last critic step's.
  // In a data-parallel run, this rank's rows of the global batch (models/distributed.h).
  virtual const Batch& batch() const = 0;
  // Standard normal noise from the run's noise stream, on the training device. Data parallel: shape[0]
  // is this rank's share; the global batch's noise is drawn and this rank's rows returned.
  virtual Tensor noise(const Shape& shape) = 0;
  // The noise stream itself, for the recipe's other draws (WGAN-GP's interpolation weights); data
  // parallel: a stream of this rank and step instead.
  virtual Generator& rng() = 0;
  // network(x), its activations named after `pass` for the hooks.
  virtual Tensor run(const std::string& network, const std::string& pass, const Tensor& x) = 0;
  // What the critic sees of a batch of images, real or generated: the run's DiffAugment transforms
  // of them (differentiable; fresh parameters each call) when --diffaugment is on, else `images`.
  virtual Tensor critic_input(const Tensor& images) = 0;
  // Names the passes of `network` until the returned guard ends (calls made inside a loss).
  virtual std::shared_ptr<void> name_pass(const std::string& network, const std::string& pass) = 0;
  // A 0-dim scalar for the metrics (undefined: ignored).
  virtual void log(const std::string& name, const Tensor& value) = 0;
  // Shows a tensor to the hooks.
  virtual void show(const std::string& name, const Tensor& value) = 0;
};

// An optimizer over the parameters of some of the recipe's networks, stepped in one phase.
struct OptimizerGroup {
  std::string name;  // its checkpoint prefix: optim.<name>.
  Phase phase;
  std::vector<std::string> networks;
};

// A scalar the recipe logs. Required ones are logged every step and sit before images_per_s in
// metrics.csv; optional ones (the loss's terms) after it, empty where a step has none.
struct ScalarSpec {
  std::string column;
  std::string label;        // in messages ("D(x)", "the gradient penalty")
  std::string short_label;  // in the progress line and the curves; empty: not shown
  bool required = true;
};

// A panel of curves.png: columns drawn against the step.
struct CurvePanel {
  std::string title;
  std::vector<std::string> columns;
  bool unit_range = false;  // y axis fixed to [0, 1]
};

class Recipe {
 public:
  virtual ~Recipe() = default;
  // The networks by name, in checkpoint order ("<name>." prefixes their state).
  virtual std::vector<std::pair<std::string, nn::Module*>> networks() const = 0;
  virtual std::vector<OptimizerGroup> optimizer_groups() const = 0;  // in checkpoint order
  virtual int critic_steps() const { return 1; }
  // > 0: the critic groups' parameters are clamped to [-c, c] after each critic update.
  virtual double weight_clip() const { return 0; }

  virtual Tensor critic_loss(StepContext& ctx) = 0;
  virtual Tensor generator_loss(StepContext& ctx) = 0;

  // The recipe's own scalars (loss_d and loss_g are the trainer's) and curves.png panels after the
  // losses.
  virtual std::vector<ScalarSpec> scalars() const = 0;
  virtual std::vector<CurvePanel> curves() const { return {}; }

  // The fixed inputs of the sample grids (about n samples, drawn from `gen`: the noise, and the
  // labels or codes of a conditional family), and the samples they give (called in eval mode
  // without history). Grids put sample_columns() samples in a row (0: a near-square grid).
  virtual std::vector<Tensor> sample_inputs(int64_t n, Generator& gen, Device device) const = 0;
  virtual Tensor generate(const std::vector<Tensor>& inputs) = 0;
  virtual int64_t sample_columns() const { return 0; }
  // The network a 2-D sample plot is shaded by (nullptr: none).
  virtual nn::Module* critic() { return nullptr; }
  // Why this recipe's step cannot be recorded as a CUDA graph (--cuda-graph on), or "" when it can:
  // a recorded step replays its device work only, so a step whose host code draws or decides
  // something afresh each time (class ids drawn on the host, cyclegan's image pools) cannot be.
  virtual std::string graph_obstacle() const { return "this recipe's step has not been made recordable"; }
};

}  // namespace gan::models
