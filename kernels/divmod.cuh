// Integer division by a divisor fixed at launch time, as a multiply-high, an add and a shift.
//
// Implicit-GEMM and per-channel kernels turn flat indices into coordinates (n, p, q), (c, r, s)
// for every element they load; a hardware 32-bit division costs ~20 instructions, a 64-bit one
// several times that, which would dominate a memory-bound loop. Dividends here are GEMM row or
// column indices, which the host checks to be below 2^31.
//
// This header compiles as plain C++ too, so the index arithmetic can be tested on the host.
#pragma once
#include <cstdint>

#include "kernels/host_device.h"

namespace gan::kernels {

GAN_HD uint32_t mulhi_u32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

// q = n / d and r = n % d for 0 <= n < 2^31 and 1 <= d < 2^31.
// With s = ceil(log2 d) and mul = floor(2^32 (2^s - d) / d) + 1, n / d = (mulhi(n, mul) + n) >> s;
// mulhi(n, mul) <= n keeps the sum below 2^32 for n < 2^31.
struct FastDivmod {
  uint32_t divisor = 1;
  uint32_t mul = 0;
  uint32_t shift = 0;

  FastDivmod() = default;
  explicit FastDivmod(uint32_t d) : divisor(d) {
    uint32_t s = 0;
    while ((uint64_t{1} << s) < d) ++s;
    shift = s;
    mul = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << s) - d)) / d + 1);
  }

  GAN_HD uint32_t div(uint32_t n) const { return (mulhi_u32(n, mul) + n) >> shift; }
  GAN_HD void divmod(uint32_t n, uint32_t& q, uint32_t& r) const {
    q = div(n);
    r = n - q * divisor;
  }
};

}  // namespace gan::kernels
