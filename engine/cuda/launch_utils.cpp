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

}  // namespace gan::cuda
