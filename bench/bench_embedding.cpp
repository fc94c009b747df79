// Embedding gather (a projection discriminator's class embedding, a generator's label embedding),
// its scatter-add gradient, and one-hot label rows. Batch 128 over 10 classes is launch latency;
// [65536 ids, 1000 x 256 table] is bandwidth. The bytes counted are the least any implementation
// moves: the ids, the output, and the table rows actually used (gather) or the gradient rows and
// the whole zeroed-then-summed table (scatter-add). The CUDA scatter-add uses float atomics.
#include <algorithm>

#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/embedding.h"

using namespace gan;
using namespace gan::bench;

namespace {

struct EmbedShape {
  const char* label;
  int64_t n, k, e;
  bool large;
};

const EmbedShape kShapes[] = {
    {"projection D (512 features), batch 128", kBatch, 10, 512, false},
    {"G label embedding (100), batch 128", kBatch, 10, 100, false},
    {"large", 65536, 1000, 256, true},
};

// Ids 0, 1, ..., k - 1, 0, ... (every class used; consecutive rows differ).
Tensor class_ids(int64_t n, int64_t k, Device d) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i % k);
  return Tensor::from_vector(v, {n}).to(d);
}

std::string dims(const EmbedShape& s) {
  return std::to_string(s.n) + "_" + std::to_string(s.k) + "x" + std::to_string(s.e);
}

void gather_case(const EmbedShape& s) {
  for (const Variant& v : variants(false, false, true)) {
    add_case("embedding.gather/" + dims(s), s.label, v, s.large, [=](benchmark::State& st, const Variant& v) {
      const Device d = v.device();
      const double table = bytes_of({std::min(s.n, s.k), s.e}), ids_bytes = bytes_of({s.n});
      const int sets = rotation_sets(v, bytes_of({s.k, s.e}) + ids_bytes);
      auto w = randn_sets(sets, {s.k, s.e}, d);
      Tensor ids = class_ids(s.n, s.k, d);
      Tensor out = Tensor::empty({s.n, s.e}, DType::Float32, d);
      measure(st, v, {table + ids_bytes + bytes_of({s.n, s.e}), 0}, sets,
              [&](int i) { GAN_BACKEND(d, embedding_gather, w[i], ids, out); });
    });
  }
}

void scatter_case(const EmbedShape& s) {
  for (const Variant& v : variants(false, false, true)) {
    add_case("embedding.scatter_add/" + dims(s), s.label, v, s.large, [=](benchmark::State& st, const Variant& v) {
      const Device d = v.device();
      const double grad_bytes = bytes_of({s.n, s.e}), ids_bytes = bytes_of({s.n});
      const int sets = rotation_sets(v, grad_bytes + ids_bytes);
      auto g = randn_sets(sets, {s.n, s.e}, d);
      Tensor ids = class_ids(s.n, s.k, d);
      Tensor out = Tensor::empty({s.k, s.e}, DType::Float32, d);
      measure(st, v, {grad_bytes + ids_bytes + bytes_of({s.k, s.e}), 0}, sets,
              [&](int i) { GAN_BACKEND(d, embedding_scatter_add, g[i], ids, out); });
    });
  }
}

void one_hot_case(int64_t n, int64_t c, bool large) {
  for (const Variant& v : variants(false, false, true)) {
    add_case("embedding.one_hot/" + std::to_string(n) + "x" + std::to_string(c), large ? "large" : "labels, batch 128",
             v, large, [=](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               Tensor ids = class_ids(n, c, d);
               Tensor out = Tensor::empty({n, c}, DType::Float32, d);
               measure(st, v, {bytes_of({n}) + bytes_of({n, c}), 0}, 1,
                       [&](int) { GAN_BACKEND(d, one_hot, ids, out); });
             });
  }
}

void register_all() {
  for (const EmbedShape& s : kShapes) {
    gather_case(s);
    scatter_case(s);
  }
  one_hot_case(kBatch, 10, false);
  one_hot_case(65536, 1000, true);
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
