// Fused binary cross-entropy with logits: loss value and d loss / d logits in one pass. At the
// discriminator's output (batch 128 logits) the kernel is pure launch latency; at 2^24 logits it
// is bandwidth-bound. Both forms: a constant target (the GAN case: 1 for real, 0 for fake, no
// target tensor) and a target tensor (as in bench/torch_anchor.py).
#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/loss.h"

using namespace gan;
using namespace gan::bench;

namespace {

void bce_case(int64_t n, bool with_targets, bool large) {
  const std::string name = std::string("bce.") + (with_targets ? "fused_targets" : "fused_const") + "/n" +
                           std::to_string(n);
  const char* label = n == kBatch ? "D output, batch 128" : "large";
  for (const Variant& v : variants(false, false, true)) {
    add_case(name, label, v, large, [=](benchmark::State& st, const Variant& v) {
      const Device d = v.device();
      const Shape s = {n, 1};
      const double set_bytes = bytes_of(s) * (with_targets ? 2 : 1);
      const int sets = rotation_sets(v, set_bytes);
      auto logits = randn_sets(sets, s, d, 3.0);
      std::vector<Tensor> targets;
      for (int i = 0; i < sets && with_targets; ++i) targets.push_back(rand(s, d, 0.0, 1.0));
      Tensor loss = Tensor::empty({}, DType::Float32, d);
      Tensor dlogits = Tensor::empty(s, DType::Float32, d);
      const double scale = 1.0 / static_cast<double>(n);  // mean reduction
      measure(st, v, {set_bytes + bytes_of(s) + 4, 0}, sets, [&](int i) {
        GAN_BACKEND(d, bce_with_logits_fused, logits[i], with_targets ? targets[i] : Tensor(), 1.0, loss, dlogits,
                    scale);
      });
    });
  }
}

void register_all() {
  for (bool t : {false, true}) {
    bce_case(kBatch, t, false);
    bce_case(int64_t(1) << 24, t, true);
  }
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
