// Differentiable activations.
#pragma once
#include "engine/core/tensor.h"

namespace gan {

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double slope = 0.01);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor log_sigmoid(const Tensor& x);  // log(sigmoid(x)), stable for large |x|
Tensor softplus(const Tensor& x);     // log(1 + exp(x)), stable for large |x|

}  // namespace gan
