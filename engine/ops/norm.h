// Differentiable normalisation layers.
#pragma once
#include "engine/core/tensor.h"

namespace gan {

// Batch norm over (N, H, W) per channel of x[N, C, H, W] (or x[N, C]). In training it uses the
// batch statistics and updates running_mean/running_var in place (momentum as PyTorch: new =
// (1 - m) old + m batch, unbiased variance for the running estimate); in eval it uses them.
// weight/bias/running stats may be undefined (affine=false / track_running_stats=false).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// Layer norm over the last `normalized_dims` dims of x, with optional element-wise affine
// weight/bias of those dims' shape.
Tensor layer_norm(const Tensor& x, int64_t normalized_dims, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);

}  // namespace gan
