// Philox4x32-10 counter-based random numbers (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011). Counter-based means element i of a draw is a pure function of (seed, draw
// offset, i): the CPU and the GPU produce the same numbers, in any order and in parallel, and a
// generator's whole state is two integers, which makes checkpoint/resume exact.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace gan::rng {

struct U32x4 {
  uint32_t v[4];
};

GAN_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 on counter `c` with key (k0, k1).
GAN_HD U32x4 philox4x32(U32x4 c, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(M0, c.v[0], &hi0);
    uint32_t lo1 = mulhilo(M1, c.v[2], &hi1);
    U32x4 n = {{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    c = n;
    k0 += W0;
    k1 += W1;
  }
  return c;
}

// The four 32-bit words for block `block` of draw number `draw` under `seed`.
GAN_HD U32x4 philox_block(uint64_t seed, uint64_t draw, uint64_t block) {
  U32x4 c = {{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), static_cast<uint32_t>(draw),
              static_cast<uint32_t>(draw >> 32)}};
  return philox4x32(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
GAN_HD float u32_to_unit(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

// Element i of a uniform draw.
GAN_HD float uniform_at(uint64_t seed, uint64_t draw, uint64_t i) {
  U32x4 r = philox_block(seed, draw, i / 4);
  return u32_to_unit(r.v[i % 4]);
}

GAN_HD float next_below(float x) { return nextafterf(x, -INFINITY); }
GAN_HD double next_below(double x) { return nextafter(x, -HUGE_VAL); }

// Element i of a uniform draw scaled to [lo, hi) in T (lo < hi). lo + (hi - lo) u is below hi in
// exact arithmetic, but rounding it to T can land on hi, or above it when hi itself rounds up
// (float(1000.2) > 1000.2): such values step down to the largest T below hi. Every backend uses
// this one mapping, so they agree on those rare elements too.
// a + b c with the product and the sum each rounded, on every backend. Compilers fuse a + b c into
// one FMA (rounding once) where they may: nvcc always, GCC under -march=native on an FMA-capable CPU.
// Fused on one backend and not on the other, the draws would differ in the last bit.
GAN_HD double mul_add_rounded(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, __dmul_rn(b, c));
#else
  volatile double product = b * c;  // a product read back from memory cannot be fused into the add
  return a + product;
#endif
}

template <class T>
GAN_HD T uniform_in(uint64_t seed, uint64_t draw, uint64_t i, double lo, double hi) {
  T v = static_cast<T>(mul_add_rounded(lo, hi - lo, static_cast<double>(uniform_at(seed, draw, i))));
  if (static_cast<double>(v) >= hi) {
    v = static_cast<T>(hi);
    while (static_cast<double>(v) >= hi) v = next_below(v);
  }
  return v;
}

// Element i of a standard-normal draw (Box-Muller on words 2j, 2j+1 of the block; computed in
// double so CPU and GPU agree to the last bit of the float result in practice).
GAN_HD double normal_at(uint64_t seed, uint64_t draw, uint64_t i) {
  U32x4 r = philox_block(seed, draw, i / 4);
  uint64_t j = (i % 4) / 2;
  double u1 = (static_cast<double>(r.v[2 * j] >> 8) + 1.0) * (1.0 / 16777216.0);  // (0, 1]
  double u2 = static_cast<double>(r.v[2 * j + 1] >> 8) * (1.0 / 16777216.0);
  double rad = sqrt(-2.0 * log(u1));
  const double two_pi = 6.283185307179586;
  return (i % 2 == 0) ? rad * cos(two_pi * u2) : rad * sin(two_pi * u2);
}

}  // namespace gan::rng
