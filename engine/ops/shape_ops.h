// Differentiable data movement. reshape/flatten (Tensor members) are views; these copy.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace gan {

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
// Indices [start, end) along dim.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);
// x placed at [start, start + x.size(dim)) along dim of a zero tensor of `shape` (slice's gradient).
Tensor pad_slice(const Tensor& x, const Shape& shape, int64_t dim, int64_t start);

}  // namespace gan
