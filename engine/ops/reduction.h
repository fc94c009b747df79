// Differentiable reductions.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace gan {

Tensor sum(const Tensor& x);  // all elements -> shape []
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// L2 norm of each sample: x of shape [N, ...] -> [N], norm over all of a sample's elements.
// eps (inside the square root) keeps the gradient finite at zero; 0 gives the exact norm.
Tensor per_sample_norm(const Tensor& x, double eps = 0.0);

}  // namespace gan
