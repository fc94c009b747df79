// Index mapping for broadcasting on the CPU: the offset into an input for each output element.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/shape.h"

namespace gan::cpu {

// Strides of `in` (right-aligned to `out`'s rank) with 0 on broadcast dims.
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  auto cs = contiguous_strides(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[off + i] = in[i] == 1 ? 0 : cs[i];
  return st;
}

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
