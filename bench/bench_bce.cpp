// Fused binary cross-entropy with logits: loss value and d loss / d logits in one pass. At the
// discriminator's output (batch 128 logits) the kernel is pure launch latency; at 2^24 logits it
// is bandwidth-bound. Both forms: a constant target (the GAN case: 1 for real, 0 for fake, no
// target tensor) and a target tensor (as in bench/torch_anchor.py).
#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/dispatch.h"
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

// Class ids 0, 1, ..., k - 1, 0, ... as float (every class present; the kernel reads one per row).
Tensor class_ids(int64_t n, int64_t k, Device d) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i % k);
  return Tensor::from_vector(v, {n}).to(d);
}

void softmax_xent_case(int64_t n, int64_t k, bool with_grad, bool large) {
  const std::string name = std::string("softmax_xent.") + (with_grad ? "fused_grad" : "loss_only") + "/" +
                           std::to_string(n) + "x" + std::to_string(k);
  const char* label = large ? "large" : "class head, batch 128";
  for (const Variant& v : variants(false, false, true)) {
    add_case(name, label, v, large, [=](benchmark::State& st, const Variant& v) {
      const Device d = v.device();
      const Shape s = {n, k};
      const double set_bytes = bytes_of(s) + bytes_of({n});
      const int sets = rotation_sets(v, set_bytes);
      auto logits = randn_sets(sets, s, d, 3.0);
      Tensor targets = class_ids(n, k, d);
      Tensor loss = Tensor::empty({}, DType::Float32, d);
      Tensor dlogits = with_grad ? Tensor::empty(s, DType::Float32, d) : Tensor();
      const double scale = 1.0 / static_cast<double>(n);  // mean reduction
      measure(st, v, {set_bytes + (with_grad ? bytes_of(s) : 0) + 4, 0}, sets, [&](int i) {
        GAN_BACKEND(d, softmax_cross_entropy_fused, logits[i], targets, 0.1, loss, dlogits, scale);
      });
    });
  }
}

void register_all() {
  for (bool t : {false, true}) {
    bce_case(kBatch, t, false);
    bce_case(int64_t(1) << 24, t, true);
  }
  for (bool g : {true, false}) {
    softmax_xent_case(kBatch, 10, g, false);
    softmax_xent_case(65536, 1000, g, true);
  }
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
