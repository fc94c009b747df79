// One GAN training step recorded in full, for reading and for comparing against another
// implementation: every layer's forward activation and the gradient arriving at it, every
// parameter's gradient, the parameters before and after the optimizer step, the losses, and the
// autograd graph of the step. `gan trace` is this plus flag parsing.
//
// The step is Trainer::train_step's, op for op, on the trainer's own networks, optimizers and
// loss: G(z) once; the discriminator step on a real batch and on G(z) detached, gradients of the
// two passes summed in D's parameters, one optimizer step; then the generator step through D(G(z))
// with D's weights frozen. The only additions are reads: activations are taken layer by layer as
// Sequential::forward produces them, and the gradients arriving at them come from grad() on the
// same graphs before each optimizer step changes the weights those graphs refer to.
//
// Names in the trace (P is a module path as in a checkpoint, e.g. main.3):
//   input.real, input.noise                  the batch x and the noise z
//   generator.P.out, generator.P.out.grad    output of G's layer P and d loss_g / d it
//   discriminator.real.P.out[.grad]          D's layer P on the real batch, gradient of loss_d
//   discriminator.fake.P.out[.grad]          D's layer P on G(z).detach(), gradient of loss_d
//   discriminator.gstep.P.out[.grad]         D's layer P on G(z) in the generator step (after D's
//                                            update, weights frozen), gradient of loss_g
//   generator.P.weight ...                   every checkpoint entry as it was before the step
//   optim.generator.P.weight.exp_avg ...     (weights, buffers, optimizer state; same names)
//   generator.P.weight.grad                  gradient used by the step (d loss_g / d w for G,
//   discriminator.P.weight.grad              d loss_d / d w for D, summed over real and fake)
//   generator.P.weight.updated ...           every parameter after the optimizer step
//   loss.d, loss.g                           the two losses (0-dim)
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd/graph_dot.h"
#include "engine/io/safetensors.h"
#include "models/trainer.h"

namespace gan::models {

struct StepTrace {
  std::vector<std::pair<std::string, Tensor>> tensors;  // the names above, in step order
  std::string dot;                                      // autograd graph of loss_d and loss_g
  autograd::DotStats dot_stats;
  Tensor loss_d, loss_g;

  // The tensor called `name` (throws naming it when absent).
  const Tensor& get(const std::string& name) const;
  // The safetensors file of the trace, with `metadata` added (format "gan-engine-trace").
  io::SafetensorsFile to_safetensors(const std::map<std::string, std::string>& metadata = {}) const;
};

// Takes one training step of `trainer` and records it. `real` [B, C, S, S] and `z` default to the
// trainer's next batch and the next draw of its noise stream (what train_step would use); when
// given, they must fit the model (checked, naming the tensor). Needs a loss with one
// discriminator step per generator step. The trainer's weights, buffers and optimizer state
// advance as in train_step; its step counter and noise stream do not, so trace a trainer once.
StepTrace trace_step(Trainer& trainer, Tensor real = Tensor(), Tensor z = Tensor());

// What `gan trace` asks for.
struct TraceRequest {
  std::string arch = "mlp";  // with a seed: mlp | dcgan32 | dcgan64
  std::string checkpoint;    // continue from this checkpoint instead of a fresh seeded model
  uint64_t seed = 0;
  std::string batch_path, noise_path;  // optional .npy files
  int64_t batch_size = 0;  // without a batch file: 0 = the run's batch (checkpoint) or 64 (seed)
  std::string device = "cpu";
  std::string out_dir;
};

struct TraceFiles {
  std::string safetensors, dot, svg;  // svg empty when Graphviz `dot` is not installed
  StepTrace trace;
  std::string arch;
  int64_t batch = 0;
};

// Builds the trainer (fresh from the seed on the bundled MNIST, or from the checkpoint and its
// data), traces one step and writes DIR/trace.safetensors, DIR/graph.dot and, when Graphviz is
// installed, DIR/graph.svg.
TraceFiles write_trace(const TraceRequest& req);

// Runs Graphviz `dot -Tsvg` on `dot_path`, writing `svg_path`. False when `dot` is not on PATH;
// throws when it is there but fails.
bool render_dot_svg(const std::string& dot_path, const std::string& svg_path);

}  // namespace gan::models
