// x [N, C, ...] seen as [N, C, S], S the product of the dims after C (1 for x [N, C]): the view
// of the per-channel CPU primitives (batch norm, bias + activation).
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace gan::cpu {

struct NCS {
  int64_t N, C, S;
  int64_t count() const { return N * S; }  // values per channel
};

inline NCS ncs_of(const Tensor& x) {
  NCS v{x.size(0), x.size(1), 1};
  for (int64_t d = 2; d < x.dim(); ++d) v.S *= x.size(d);
  return v;
}

}  // namespace gan::cpu
