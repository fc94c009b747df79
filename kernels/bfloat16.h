// bfloat16: the top 16 bits of an IEEE float32 (sign, 8 exponent bits, 7 mantissa bits), the
// storage type of --precision bf16. Every op computes in float32 and rounds its result to bf16.
//
// The same bits as CUDA's __nv_bfloat16, so cuDNN and cuBLAS read these arrays directly. Written
// here rather than taken from cuda_bf16.h so that the CPU build, which has no CUDA headers, stores
// and rounds exactly as the device does: round to nearest, ties to even; NaN stays a (quiet) NaN.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/host_device.h"

namespace gan {

struct bf16 {
  uint16_t bits;  // no initialiser: the type stays trivial, as device arrays need

  bf16() = default;
  GAN_HD bf16(float v) : bits(round_float(v)) {}  // NOLINT: implicit, as float's own conversions
  GAN_HD bf16(double v) : bits(round_double(v)) {}  // NOLINT
  GAN_HD operator float() const { return to_float(bits); }  // NOLINT: exact

  static GAN_HD bf16 from_bits(uint16_t b) {
    bf16 r;
    r.bits = b;
    return r;
  }

  static GAN_HD float to_float(uint16_t b) {
    const uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
  }

  static GAN_HD uint16_t round_float(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
    // Adding 0x7fff plus the kept part's lowest bit rounds half to even; a carry into the exponent
    // is the right result (the largest finite values round up to infinity, as in float).
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
  }

  // A double rounded once to bf16, not through float: rounding twice can land on the wrong side of
  // a tie. The float nearest v is exact in its top bits except where v lies within half a float
  // step of a bf16 tie, which is the one case decided from the double itself.
  static GAN_HD uint16_t round_double(double v) {
    const float f = static_cast<float>(v);
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0xffffu) == 0x8000u && static_cast<double>(f) != v && (u & 0x7fffffffu) < 0x7f800000u) {
      // f sits exactly on a tie that v does not: v's side of it decides (toward or away from zero).
      const bool away = (v < 0) ? (v < static_cast<double>(f)) : (v > static_cast<double>(f));
      return static_cast<uint16_t>((u >> 16) + (away ? 1u : 0u));
    }
    return round_float(f);
  }
};

static_assert(sizeof(bf16) == 2, "bf16 must be two bytes, as the device's __nv_bfloat16");

}  // namespace gan
