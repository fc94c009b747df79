// Whole training iterations (D step on a real and a fake batch, G step, Adam on both) for the
// models of bench/torch_anchor.py, on the GPU (hand-written kernels and cuDNN, each in strict FP32
// and with TF32 allowed) and on the CPU. Reports median ms per iteration and images/s (batch /
// iteration time; a WGAN-GP iteration is 5 critic steps and one generator step). The real batch is
// random and already on the device; z is drawn inside the step, as in the anchor.
//
// Names: train_step/<model>/b<batch>/<variant>, <model> as the anchor names it, so
// scripts/bench_compare.py can set each row beside PyTorch's.
#include "bench/bench_common.h"
#include "bench/train_models.h"

using namespace gan;
using namespace gan::bench;

namespace {

struct StepCase {
  const char* model;      // the anchor's name
  const char* net;        // train_models.h's model
  const char* loss;
  int64_t batch;
  bool slow_on_cpu;       // minutes on a 2-core machine: 2 repeats there
};

const StepCase kCases[] = {
    {"mlp_mnist", "mlp_mnist", "bce", 64, false},
    {"dcgan32_mnist", "dcgan32_mnist", "bce", 128, true},
    {"dcgan32_cifar", "dcgan32_cifar", "bce", 128, true},
    {"dcgan64", "dcgan64", "bce", 128, true},
    {"wgangp_dcgan32_cifar", "dcgan32_cifar_nonorm", "wgan-gp", 64, true},
};

void step_case(const StepCase& c, int64_t batch, const Variant& v) {
  const bool quick = options().quick;
  int reps, warm;
  const bool wgan = std::string(c.loss) == "wgan-gp";
  if (v.gpu()) {
    reps = wgan ? (quick ? 5 : 10) : (quick ? 10 : 20);
    warm = 5;  // first calls search cuDNN algorithms and grow the memory pool
  } else if (c.slow_on_cpu) {
    reps = quick ? 1 : 2;
    warm = 1;
  } else {
    reps = quick ? 10 : 20;
    warm = 3;
  }
  const std::string name = std::string("train_step/") + c.model + "/b" + std::to_string(batch);
  const std::string label = std::string(c.loss) + (wgan ? ", 5 critic steps" : "");
  add_case(name, label, v, false, [c, batch, warm](benchmark::State& st, const Variant& v) {
    TrainStep step(c.net, c.loss, batch, v.device());
    measure(st, v, {}, 1, [&](int) { step.run(); }, warm);
    if (st.error_occurred()) return;
    const double ms = st.counters["median_ms"];
    st.counters["images_per_s"] = benchmark::Counter(static_cast<double>(batch) / (ms * 1e-3));
    st.counters["batch"] = benchmark::Counter(static_cast<double>(batch));
  }, reps);
}

void register_all() {
  for (const StepCase& c : kCases) {
    for (const Variant& v : variants(true, true, true)) {
      // The CPU runs the MNIST DCGAN-32 at batch 64, as the anchor's CPU section does.
      const int64_t batch = (!v.gpu() && std::string(c.model) == "dcgan32_mnist") ? 64 : c.batch;
      step_case(c, batch, v);
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
