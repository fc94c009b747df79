// How the batch-norm kernels walk one channel of x viewed as [N, C, S]: the channel's N S values
// are N runs of S contiguous ones, moved as packs of V values (V divides S), and a channel may be
// split into G slices, one block each. Plain C++ compiles this too: the host tests check that the
// walk visits each value of a channel exactly once.
#pragma once
#include <cstdint>

#include "kernels/divmod.cuh"

namespace gan::kernels {

// Channel c's values as packs: pack e = (n, s) lies at (n C S + c S) / V + s, counted in packs.
struct ChannelWalk {
  FastDivmod div_Sv;
  int64_t CSv = 0, Sv = 0;
  int Mv = 0;  // packs per channel (N S / V < 2^31)

  ChannelWalk() = default;
  ChannelWalk(int64_t N, int64_t C, int64_t S, int V)
      : div_Sv(static_cast<uint32_t>(S / V)), CSv(C * (S / V)), Sv(S / V), Mv(static_cast<int>(N * (S / V))) {}

  GAN_HD int64_t offset(int c, int e) const {
    uint32_t n, s;
    div_Sv.divmod(static_cast<uint32_t>(e), n, s);
    return static_cast<int64_t>(n) * CSv + static_cast<int64_t>(c) * Sv + s;
  }
};

// Block `block` of a grid of C G blocks handles slice g of channel c: packs [e0, e1).
struct ChannelSlice {
  int c, g, e0, e1;
};

GAN_HD ChannelSlice channel_slice(int block, int G, int Mv) {
  ChannelSlice s;
  s.c = block / G, s.g = block % G;
  const int chunk = (Mv + G - 1) / G;
  const int64_t e0 = static_cast<int64_t>(s.g) * chunk, e1 = e0 + chunk;
  s.e0 = static_cast<int>(e0 < Mv ? e0 : Mv);
  s.e1 = static_cast<int>(e1 < Mv ? e1 : Mv);
  return s;
}

}  // namespace gan::kernels
