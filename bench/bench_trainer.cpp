// Whole training steps through the training library (models::Trainer, what `gan train` runs):
// the same iteration as bench_train_step plus what a real run adds: the next shuffled batch from
// an in-memory 8-bit data set copied to the device and scaled to [-1, 1], D frozen for the
// generator's backward. Set beside bench_train_step's figures, the difference is the library's
// overhead (or savings). Built only when the models library is part of the build.
//
// Names: trainer/<model>/b<batch>/<variant>, <model> as bench_train_step and the anchor name it.
#include "bench/bench_common.h"
#include "engine/io/datasets.h"
#include "models/config.h"
#include "models/trainer.h"

using namespace gan;
using namespace gan::bench;

namespace {

struct TrainerCase {
  const char* model;  // the anchor's name
  const char* arch;
  int64_t channels, size, batch;
  bool slow_on_cpu;
};

const TrainerCase kCases[] = {
    {"mlp_mnist", "mlp", 1, 28, 64, false},
    {"dcgan32_cifar", "dcgan32", 3, 32, 128, true},
    {"dcgan64", "dcgan64", 3, 64, 128, true},
};

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

void trainer_case(const TrainerCase& c, const Variant& v) {
  const bool quick = options().quick;
  int reps = v.gpu() ? (quick ? 10 : 20) : c.slow_on_cpu ? (quick ? 1 : 2) : (quick ? 10 : 20);
  int warm = v.gpu() ? 5 : c.slow_on_cpu ? 1 : 3;
  const std::string name = std::string("trainer/") + c.model + "/b" + std::to_string(c.batch);
  add_case(name, "models::Trainer, bce", v, false, [c, warm](benchmark::State& st, const Variant& v) {
    models::TrainConfig cfg;
    cfg.model.arch = c.arch;
    cfg.model.channels = c.channels;
    cfg.model.image_size = c.size;
    cfg.batch = c.batch;
    cfg.steps = 1000000;
    cfg.device = v.gpu() ? "cuda" : "cpu";
    cfg.kernels = v.path == Path::Lib ? "cudnn" : "hand";
    io::ImageDataset data = random_dataset(8 * c.batch, c.channels, c.size);
    models::Trainer trainer(cfg, data, v.device());
    apply(v);  // after the trainer, which applies its own kernel choice from cfg
    measure(st, v, {}, 1, [&](int) { trainer.train_step(); }, warm);
    if (st.error_occurred()) return;
    const double ms = st.counters["median_ms"];
    st.counters["images_per_s"] = benchmark::Counter(static_cast<double>(c.batch) / (ms * 1e-3));
    st.counters["batch"] = benchmark::Counter(static_cast<double>(c.batch));
  }, reps);
}

void register_all() {
  for (const TrainerCase& c : kCases)
    for (const Variant& v : variants(true, true, true)) trainer_case(c, v);
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
