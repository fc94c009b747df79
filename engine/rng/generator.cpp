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
std::map<std::pair<int, int>, Generator>& generators() {
  static std::map<std::pair<int, int>, Generator> g;
  return g;
}
}  // namespace

Generator& default_generator(Device device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return generators()[{static_cast<int>(device.type), device.index}];
}

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_mutex);
  generators()[{static_cast<int>(DeviceType::CPU), 0}].manual_seed(seed);
  for (auto& [k, g] : generators()) g.manual_seed(seed);
}

}  // namespace gan
