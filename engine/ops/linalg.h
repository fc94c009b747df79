// Differentiable matrix products.
#pragma once
#include "engine/core/tensor.h"

namespace gan {

// a[M,K] @ b[K,N] -> [M,N]; trans flags use a^T / b^T without copying.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// x[N,in] @ w[out,in]^T + bias[out] (bias may be undefined), as torch.nn.functional.linear.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor());

}  // namespace gan
