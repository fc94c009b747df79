// A seeded random generator. Its state is (seed, draws): each call that fills a tensor uses one
// draw number, and element i of the tensor is a pure function of (seed, draw, i) (Philox), so the
// same seed gives the same numbers on CPU and CUDA, and saving/restoring the state resumes exactly.
#pragma once
#include <cstdint>

#include "engine/core/device.h"

namespace gan {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    draws_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t draws() const { return draws_; }
  void set_state(uint64_t seed, uint64_t draws) {
    seed_ = seed;
    draws_ = draws;
  }
  // Reserves the next draw number.
  uint64_t next_draw() { return draws_++; }

  // Host-side scalars, for shuffles and per-step choices.
  double uniform();  // [0, 1)
  // An integer in [0, n).
  uint64_t below(uint64_t n);

 private:
  uint64_t seed_;
  uint64_t draws_ = 0;
};

// The default generator of a device (seeded 0 until manual_seed).
Generator& default_generator(Device device = Device::cpu());
void manual_seed(uint64_t seed);  // reseeds every device's default generator

}  // namespace gan
