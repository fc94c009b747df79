// One training step recorded in full, for reading and for comparing against another
// implementation: every layer's forward activation and the gradient arriving at it, every
// parameter's gradient, the parameters before and after the optimizer steps, the losses, and the
// autograd graph of the step. `gan trace` is this plus flag parsing.
//
// The step is the trainer's own (Trainer::train_step), with hooks attached (models/recipe.h): they
// only read, so the traced trainer ends where an untraced one would, bit for bit. Activations are
// taken from each layer as it runs; the gradients arriving at them come from grad() on the step's
// own graphs before each optimizer step changes the weights those graphs refer to.
//
// Names (P is a module path as in a checkpoint, e.g. main.3; with several critic steps every name
// of critic step i starts with "critici.", e.g. critic0.discriminator.real.main.0.out):
//   input.real, input.noise                  the batch x and the noise z drawn in that step
//   generator.P.out, generator.P.out.grad    output of G's layer P and d loss / d it (the loss of
//                                            the step it feeds: loss_g for the G(z) it reuses)
//   discriminator.real.P.out[.grad]          D's layer P on the real batch, gradient of loss_d
//   discriminator.fake.P.out[.grad]          D's layer P on G(z).detach(), gradient of loss_d
//   discriminator.penalty.P.out[.grad]       D on the WGAN-GP interpolates (the penalty's pass);
//                                            its .grad reaches loss_d through the double backward
//   penalty.xhat, penalty.input_grad[.grad]  the interpolates and g = dD/dxhat (create_graph)
//   discriminator.gstep.P.out[.grad]         D's layer P on G(z) in the generator step (after D's
//                                            updates, weights frozen), gradient of loss_g
//   generator.P.weight ...                   every checkpoint entry as it was before the step
//   optim.generator.P.weight.exp_avg ...     (weights, buffers, optimizer state; same names)
//   discriminator.P.weight.grad              d loss_d / d w used by a critic step (real + fake)
//   generator.P.weight.grad                  d loss_g / d w used by the generator step
//   generator.P.weight.updated ...           every parameter after the step
//   loss.d, loss.g                           the losses (loss.d: the last critic step's)
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd/graph_dot.h"
#include "engine/io/safetensors.h"
#include "models/trainer.h"

namespace gan::models {

struct StepTrace {
  std::vector<std::pair<std::string, Tensor>> tensors;  // the names above, in step order
  std::string dot;                                      // autograd graph of the step's losses
  autograd::DotStats dot_stats;
  Tensor loss_d, loss_g;

  // The tensor called `name` (throws naming it when absent).
  const Tensor& get(const std::string& name) const;
  // The safetensors file of the trace, with `metadata` added (format "gan-engine-trace").
  io::SafetensorsFile to_safetensors(const std::map<std::string, std::string>& metadata = {}) const;
};

// Takes the trainer's next training step and records it. `real` [B, C, S, S] and `z` replace the
// step's batch and noise when given (with several critic steps, every one's); they must fit the
// model (checked, naming the tensor). The trainer advances exactly as train_step() advances it.
StepTrace trace_step(Trainer& trainer, Tensor real = Tensor(), Tensor z = Tensor());

// What `gan trace` asks for.
struct TraceRequest {
  TrainConfig cfg;           // a fresh model: the same settings `gan train` takes (defaults applied)
  std::string checkpoint;    // or continue from this checkpoint
  std::string batch_path, noise_path;  // optional .npy files (the batch sets the batch size)
  std::string device = "cpu";
  std::string out_dir;
};

struct TraceFiles {
  std::string safetensors, dot, svg;  // svg empty when Graphviz `dot` is not installed
  StepTrace trace;
  TrainConfig cfg;
};

// Builds the trainer (fresh from the config on its data, or from the checkpoint and its data),
// traces one step and writes DIR/trace.safetensors, DIR/graph.dot and, when Graphviz is installed,
// DIR/graph.svg.
TraceFiles write_trace(const TraceRequest& req);

// Runs Graphviz `dot -Tsvg` on `dot_path`, writing `svg_path`. False when `dot` is not on PATH;
// throws when it is there but fails.
bool render_dot_svg(const std::string& dot_path, const std::string& svg_path);

}  // namespace gan::models
