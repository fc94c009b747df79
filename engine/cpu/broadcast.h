// Index mapping for broadcasting on the CPU: the offset into an input for each output element.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/shape.h"

namespace gan::cpu {

// broadcast_strides and broadcast_run live in engine/core/shape.h (shared with the CUDA backend).
using gan::broadcast_run;
using gan::broadcast_strides;

// Offset into a broadcast input for output element `linear` of `out`.
inline int64_t broadcast_offset(int64_t linear, const Shape& out, const std::vector<int64_t>& st) {
  int64_t off = 0;
  for (size_t d = out.size(); d-- > 0;) {
    int64_t c = linear % out[d];
    linear /= out[d];
    off += c * st[d];
  }
  return off;
}

}  // namespace gan::cpu
