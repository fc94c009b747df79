// Index arithmetic of reflection padding (torch.nn.ReflectionPad2d: mirror at the border without
// repeating the edge), shared by the CPU backend and the CUDA kernels so that both read the same
// sources and add the gradient's terms in the same order (hence the same bits).
//
// One axis: an extent L padded by lo before and hi after (0 <= lo, hi < L, checked by the op), so
// padded index i in [0, lo + L + hi) reads unpadded index reflect_index(i): lo - i before the
// image, i - lo inside it, 2 (L - 1) + lo - i after it. Every expression stays non-negative for
// valid pads, so unsigned index types work.
#pragma once
#include <cstdint>

#include "kernels/host_device.h"

namespace gan::hd {

template <class I>
GAN_HD I reflect_index(I i, I lo, I extent) {
  return i < lo ? lo - i : (i - lo < extent ? i - lo : 2 * (extent - 1) + lo - i);
}

// The padded indices that read unpadded index y (the adjoint's sources), in increasing order, into
// src[0..n); returns n (1 to 3). With pads below the extent each mirror adds at most one:
//   lo - y               the mirror before the image, for 1 <= y <= lo (y = 0 is the edge, not repeated)
//   lo + y               the copy itself
//   lo + 2 (L - 1) - y   the mirror after it, for L - 1 - hi <= y <= L - 2
template <class I>
GAN_HD int reflect_sources(I y, I lo, I hi, I extent, I* src) {
  int n = 0;
  if (y >= 1 && y <= lo) src[n++] = lo - y;
  src[n++] = lo + y;
  if (y + 1 < extent && y + hi + 1 >= extent) src[n++] = lo + 2 * (extent - 1) - y;
  return n;
}

}  // namespace gan::hd
