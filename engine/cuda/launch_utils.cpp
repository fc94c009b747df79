#include "engine/cuda/launch_utils.h"

#include <algorithm>

namespace gan::cuda {

kernels::StridedIndex make_strided_index(const Shape& extent, const std::vector<int64_t>& stride0,
                                         const std::vector<int64_t>& stride1, const char* op) {
  const bool two = !stride1.empty();
  std::vector<int64_t> e, s0, s1;
  for (size_t d = 0; d < extent.size(); ++d) {
    if (extent[d] == 1) continue;
    const int64_t a = stride0[d], b = two ? stride1[d] : 0;
    // Merge into the previous (outer) dim when stepping it equals stepping this dim extent times.
    if (!e.empty() && s0.back() == a * extent[d] && s1.back() == b * extent[d]) {
      e.back() *= extent[d];
      s0.back() = a;
      s1.back() = b;
    } else {
      e.push_back(extent[d]);
      s0.push_back(a);
      s1.push_back(b);
    }
  }
  GAN_CHECK(static_cast<int>(e.size()) <= kernels::kMaxDims,
            op << ": shape " << shape_str(extent) << " needs " << e.size() << " strided dims after merging; the CUDA "
               << "kernels walk at most " << kernels::kMaxDims);
  kernels::StridedIndex idx;
  idx.ndim = static_cast<int>(e.size());
  for (size_t d = 0; d < e.size(); ++d) {
    idx.extent[d] = e[d];
    idx.stride0[d] = s0[d];
    idx.stride1[d] = s1[d];
  }
  return idx;
}

bool broadcast_run(const Shape& small, const Shape& out, int64_t& inner, int64_t& mid) {
  if (small.size() > out.size()) return false;
  const size_t off = out.size() - small.size();
  size_t lo = out.size(), hi = 0;  // the block [lo, hi) of out's dims where small is not 1
  for (size_t d = 0; d < small.size(); ++d)
    if (small[d] != 1) {
      lo = std::min(lo, off + d);
      hi = off + d + 1;
    }
  if (lo >= hi) return false;
  int64_t m = 1, in = 1;
  for (size_t d = lo; d < hi; ++d) {
    if (small[d - off] != out[d]) return false;  // a broadcast dim inside the block
    m *= out[d];
  }
  for (size_t d = hi; d < out.size(); ++d) in *= out[d];
  inner = in;
  mid = m;
  return true;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  auto cs = contiguous_strides(in);
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[off + i] = in[i] == 1 ? 0 : cs[i];
  return st;
}

}  // namespace gan::cuda
