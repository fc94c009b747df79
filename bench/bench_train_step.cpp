// Whole training steps: the trainer's own step (models::Trainer::train_step, what `gan train`
// runs) on the models of bench/torch_anchor.py, on the GPU (hand-written kernels and cuDNN, each in
// strict FP32 and with TF32 allowed) and on the CPU. Reports median ms per step and images/s
// (batch / step time; a WGAN-GP step is 5 critic steps and one generator step).
//   train_step/<model>/b<batch>/<variant>  the real batch fixed and already on the device, as in the
//                                          anchor (no data loading in the numbers); z drawn in the step
//   trainer/<model>/b<batch>/<variant>     the same step with data loading: the next shuffled batch of
//                                          an in-memory 8-bit data set, scaled on the prefetching thread
//                                          (models/prefetch.h), copied to the device
//   train_step/dcgan32_readme/b64/<variant> the README's main model (dcgan32, ngf = ndf = 16, MNIST)
//   captured/<model>/b<batch>/<variant>    GPU: the train_step case with --cuda-graph on (the step
//                                          recorded as a CUDA graph during the warm-up, then replayed)
//   captured_trainer/<model>/b<batch>/<variant>  GPU: the trainer case with --cuda-graph on: what
//                                          `gan train` runs; its gap to captured/ is the loading left
//                                          uncovered
//   unfused/<model>/b<batch>/<variant>     the train_step case with layer fusion off (batch norm, or a
//                                          layer's bias, and the activation as two ops): what fusion gains
//   train_step/<model>/b<batch>/{hand,cudnn}.bf16  GPU: the train_step case with --precision bf16
//                                          (bfloat16 convolutions and products run in cuDNN/cuBLAS
//                                          whichever the variant; "hand" picks the other kernels);
//                                          also the casts per step that primitives without bfloat16
//                                          kernels still cost (bf16_casts_per_step, _MB_per_step)
// <model> is the anchor's name, so scripts/bench_compare.py sets each row beside PyTorch's.
//   train_step/cyclegan_256/b1/<variant>     CycleGAN as the paper trains it (GPU only): 256x256 RGB,
//                                            ngf = ndf = 64, 9 residual blocks, 70x70 PatchGANs, batch 1
//   train_step/cyclegan_digits/b4/<variant>  the bundled unpaired task's narrow model (docs/cyclegan.md):
//                                            28x28, ngf = ndf = 16, 3 blocks, batch 4
//   train_step/toy_wgangp/b256/<variant>     the toy WGAN-GP (docs/wgan.md): generator steps per second
// Every uncaptured case also reports primitives_per_step: primitive calls in one step, about one
// kernel launch each on a GPU.
#include "bench/bench_common.h"
#include "engine/backend/bf16_widening.h"
#include "engine/nn/module.h"
#include "models/config.h"
#include "models/data.h"
#include "models/trainer.h"

using namespace gan;
using namespace gan::bench;

namespace {

struct StepCase {
  const char* model;  // the anchor's name
  const char* arch;
  int64_t channels;
  const char* loss;
  int64_t batch;
  bool slow_on_cpu;  // minutes on a 2-core machine: 2 repeats there
  bool with_loader;  // also time it with data loading
  int64_t width = 64;  // --ngf = --ndf
};

const StepCase kCases[] = {
    {"mlp_mnist", "mlp", 1, "bce", 64, false, true},
    {"dcgan32_mnist", "dcgan32", 1, "bce", 128, true, false},
    {"dcgan32_cifar", "dcgan32", 3, "bce", 128, true, true},
    {"dcgan64", "dcgan64", 3, "bce", 128, true, true},
    {"wgangp_dcgan32_cifar", "dcgan32", 3, "wgan-gp", 64, true, false},
    {"dcgan32_readme", "dcgan32", 1, "bce", 64, false, false, 16},  // the README's main command
};

// The anchor's settings: ngf = ndf = 64 (16 for the README's model), Adam 2e-4 (0.5, 0.999) for BCE; WGAN-GP with a critic
// without normalisation, Adam 1e-4 (0.5, 0.9), lambda 10, 5 critic steps.
models::TrainConfig anchor_config(const StepCase& c, int64_t batch, const Variant& v) {
  models::TrainConfig cfg;
  cfg.model.arch = c.arch;
  cfg.model.channels = c.channels;
  cfg.model.ngf = cfg.model.ndf = c.width;
  cfg.model.image_size = cfg.model.arch == "mlp" ? 28 : cfg.model.arch == "dcgan32" ? 32 : 64;
  cfg.loss = c.loss;
  if (cfg.loss == "wgan-gp") {
    cfg.model.critic_norm = "none";
    cfg.lr = 1e-4;
    cfg.beta2 = 0.9;
    cfg.n_critic = 5;
  }
  cfg.batch = batch;
  cfg.steps = 1000000;
  cfg.device = v.gpu() ? "cuda" : "cpu";
  cfg.kernels = v.path == Path::Lib ? "cudnn" : "hand";
  if (v.bf16) cfg.precision = "bf16";
  return cfg;
}

// Random 8-bit images: enough for a few batches, so the loader shuffles and wraps as in a real run.
io::ImageDataset random_dataset(int64_t count, int64_t channels, int64_t size) {
  io::ImageDataset d;
  d.count = count;
  d.channels = channels;
  d.height = d.width = size;
  d.pixels.resize(static_cast<size_t>(count * channels * size * size));
  uint32_t x = 12345u;
  for (auto& p : d.pixels) {
    x = x * 1664525u + 1013904223u;  // any bytes will do; a generator keeps it cheap and repeatable
    p = static_cast<uint8_t>(x >> 24);
  }
  d.source = "random";
  return d;
}

// What a whole-step case times beside the plain step (the name's first part).
enum class StepMode { Plain, Loader, Captured, LoaderCaptured, Unfused };

void step_case(const StepCase& c, int64_t batch, const Variant& v, StepMode mode) {
  const bool quick = options().quick, wgan = std::string(c.loss) == "wgan-gp";
  const bool loader = mode == StepMode::Loader || mode == StepMode::LoaderCaptured;
  const bool captured = mode == StepMode::Captured || mode == StepMode::LoaderCaptured;
  const bool unfused = mode == StepMode::Unfused;
  int reps, warm;
  if (v.gpu()) {
    reps = wgan ? (quick ? 5 : 10) : (quick ? 10 : 20);
    warm = 5;  // first calls search cuDNN algorithms and grow the memory pool
  } else {
    reps = c.slow_on_cpu ? (quick ? 1 : 2) : (quick ? 10 : 20);
    warm = c.slow_on_cpu ? 1 : 3;
  }
  const char* prefix = captured ? (loader ? "captured_trainer/" : "captured/")
                       : loader ? "trainer/"
                       : unfused ? "unfused/"
                                 : "train_step/";
  const std::string name = prefix + std::string(c.model) + "/b" + std::to_string(batch);
  const std::string label = std::string(c.loss) + (wgan ? ", 5 critic steps" : "") +
                            (loader ? ", with data loading" : "") + (captured ? ", recorded as a CUDA graph" : "") +
                            (unfused ? ", layer fusion off" : "");
  add_case(name, label, v, false, [c, batch, warm, loader, captured, unfused](benchmark::State& st, const Variant& v) {
    const nn::LayerFusionScope fusion(!unfused);
    models::TrainConfig cfg = anchor_config(c, batch, v);
    if (captured) cfg.cuda_graph = "on";  // the warm-up steps record it
    const int64_t s = cfg.model.image_size;
    std::unique_ptr<models::DataSource> data;
    if (loader) data = models::image_source(random_dataset(8 * batch, c.channels, s), batch, s, 0);
    else data = models::fixed_batch_source(rand({batch, c.channels, s, s}, v.device(), -1.0, 1.0), "random");
    models::Trainer trainer(cfg, std::move(data), v.device());
    apply(v);  // after the trainer, which applies its own kernel choice from cfg
    measure(st, v, {}, 1, [&](int) { trainer.train_step(); }, warm);
    if (st.error_occurred()) return;
    const double ms = st.counters["median_ms"];
    st.counters["images_per_s"] = benchmark::Counter(static_cast<double>(batch) / (ms * 1e-3));
    st.counters["batch"] = benchmark::Counter(static_cast<double>(batch));
    if (!captured) {
      // Primitive calls in one step: on a GPU about one launch each (engine/backend/bf16_widening.h).
      backend::primitive_calls() = 0;
      trainer.train_step();
      st.counters["primitives_per_step"] = benchmark::Counter(static_cast<double>(backend::primitive_calls()));
    }
    if (v.bf16 && !captured) {
      // What one step's float32 copies still cost (primitives without bfloat16 kernels of their
      // own): casts and the bytes they move (engine/backend/bf16_widening.h). Counted on the host.
      backend::widening_counts() = {};
      trainer.train_step();
      const backend::WideningCounts w = backend::widening_counts();
      st.counters["bf16_casts_per_step"] = benchmark::Counter(static_cast<double>(w.widened + w.rounded));
      st.counters["bf16_cast_MB_per_step"] = benchmark::Counter(static_cast<double>(w.bytes) * 1e-6);
    }
  }, reps);
}

// One CycleGAN step (critic step and generator step, the pools full after the warm-up) on unpaired
// random images of an in-memory data set per domain.
void cyclegan_case(const char* name, int64_t side, int64_t width, int64_t blocks, int64_t batch, const Variant& v) {
  const bool quick = options().quick;
  add_case(std::string("train_step/") + name + "/b" + std::to_string(batch), "lsgan + cycle + identity, pools of 50", v,
           false, [=](benchmark::State& st, const Variant& v) {
             models::TrainConfig cfg;
             cfg.recipe = "cyclegan";
             cfg.model.arch = "cyclegan";
             cfg.data_b = "random";
             cfg.model.channels = side == 28 ? 1 : 3;
             cfg.model.image_size = side;
             cfg.model.ngf = cfg.model.ndf = width;
             cfg.model.res_blocks = blocks;
             models::cyclegan_defaults(cfg.model);
             cfg.loss = "lsgan";
             cfg.batch = batch;
             cfg.steps = 1000000;
             cfg.device = v.gpu() ? "cuda" : "cpu";
             cfg.kernels = v.path == Path::Lib ? "cudnn" : "hand";
             const int64_t c = cfg.model.channels;
             models::Trainer trainer(cfg,
                                     models::unpaired_source(random_dataset(8 * batch, c, side),
                                                             random_dataset(8 * batch + 1, c, side), batch, side, 0),
                                     v.device());
             apply(v);
             measure(st, v, {}, 1, [&](int) { trainer.train_step(); }, 3);
             if (st.error_occurred()) return;
             st.counters["images_per_s"] = benchmark::Counter(static_cast<double>(batch) / (st.counters["median_ms"] * 1e-3));
             st.counters["batch"] = benchmark::Counter(static_cast<double>(batch));
           },
           v.gpu() ? (quick ? 10 : 20) : (quick ? 5 : 10));
}

// The toy WGAN-GP of docs/wgan.md (25 Gaussians, width-512 MLPs, 5 critic steps with the penalty,
// batch 256): launch-bound on a GPU, where the target is 10,000 generator steps in 10 s.
void toy_case(const Variant& v) {
  const bool quick = options().quick;
  add_case("train_step/toy_wgangp/b256", "wgan-gp, 5 critic steps, 25 gaussians", v, false,
           [=](benchmark::State& st, const Variant& v) {
             models::TrainConfig cfg;
             cfg.loss = "wgan-gp";
             cfg.data = "gaussians25";
             models::apply_defaults(cfg, {});
             cfg.steps = 1000000;
             cfg.device = v.gpu() ? "cuda" : "cpu";
             cfg.kernels = v.path == Path::Lib ? "cudnn" : "hand";
             models::Trainer trainer(cfg, v.device());
             apply(v);
             measure(st, v, {}, 1, [&](int) { trainer.train_step(); }, 5);
             if (st.error_occurred()) return;
             st.counters["gen_steps_per_s"] = benchmark::Counter(1e3 / st.counters["median_ms"]);
             backend::primitive_calls() = 0;
             trainer.train_step();
             st.counters["primitives_per_step"] = benchmark::Counter(static_cast<double>(backend::primitive_calls()));
           },
           quick ? 10 : 20);
}

void register_all() {
  for (const Variant& v : variants(true, true, true)) {
    if (v.gpu()) cyclegan_case("cyclegan_256", 256, 64, 9, 1, v);
    else cyclegan_case("cyclegan_digits", 28, 16, 3, 4, v);
    toy_case(v);
  }
  for (const StepCase& c : kCases)
    for (const Variant& v : variants(true, true, true)) {
      // The CPU runs the MNIST DCGAN-32 at batch 64, as the anchor's CPU section does.
      const int64_t batch = (!v.gpu() && std::string(c.model) == "dcgan32_mnist") ? 64 : c.batch;
      step_case(c, batch, v, StepMode::Plain);
      if (c.with_loader) step_case(c, batch, v, StepMode::Loader);
      if (v.gpu()) step_case(c, batch, v, StepMode::Captured);
      if (v.gpu() && !v.tf32) {
        Variant b = v;
        b.bf16 = true;
        step_case(c, batch, b, StepMode::Plain);
      }
      if (v.gpu() && c.with_loader) step_case(c, batch, v, StepMode::LoaderCaptured);
      // Batch norm and its activation fuse in the DCGAN models (not in the WGAN-GP critic, which
      // has no normalisation; its generator does), a Linear's bias and activation in the MLP.
      step_case(c, batch, v, StepMode::Unfused);
    }
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
