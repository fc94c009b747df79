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

// Whether `in`, broadcast to `out`, is read at in[(i / inner) % mid] for output element i: its dims
// other than 1 form one block of neighbouring dims of `out` (right-aligned), as a bias [1,C,1,1], a
// per-sample [N,1,1,1], a row [1,K] or a column [M,1] do. False for a one-element `in`.
inline bool broadcast_run(const Shape& in, const Shape& out, int64_t& inner, int64_t& mid) {
  if (in.size() > out.size()) return false;
  const size_t off = out.size() - in.size();
  size_t lo = out.size(), hi = 0;  // the block [lo, hi) of out's dims where `in` is not 1
  for (size_t d = 0; d < in.size(); ++d)
    if (in[d] != 1) {
      if (lo == out.size()) lo = off + d;
      hi = off + d + 1;
    }
  if (lo >= hi) return false;
  int64_t m = 1, k = 1;
  for (size_t d = lo; d < hi; ++d) {
    if (in[d - off] != out[d]) return false;  // a broadcast dim inside the block
    m *= out[d];
  }
  for (size_t d = hi; d < out.size(); ++d) k *= out[d];
  inner = k;
  mid = m;
  return true;
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
