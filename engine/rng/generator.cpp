#include "engine/rng/generator.h"

#include <map>
#include <mutex>

#include "kernels/philox.h"

namespace gan {

double Generator::uniform() { return rng::uniform_at(seed_, next_draw(), 0); }

uint64_t Generator::below(uint64_t n) {
  rng::U32x4 r = rng::philox_block(seed_, next_draw(), 0);
  uint64_t x = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
  return n ? x % n : 0;  // bias is below 2^-32 for the sizes we shuffle
}

namespace {
std::mutex g_mutex;
// The seed of the last manual_seed: a device's generator created after it (the first CUDA call
// often comes later) must start from it, not from 0.
uint64_t g_default_seed = 0;
std::map<std::pair<int, int>, Generator>& generators() {
  static std::map<std::pair<int, int>, Generator> g;
  return g;
}
}  // namespace

Generator& default_generator(Device device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto key = std::make_pair(static_cast<int>(device.type), device.index);
  auto it = generators().find(key);
  if (it == generators().end()) it = generators().emplace(key, Generator(g_default_seed)).first;
  return it->second;
}

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_default_seed = seed;
  for (auto& [k, g] : generators()) g.manual_seed(seed);
}

}  // namespace gan
