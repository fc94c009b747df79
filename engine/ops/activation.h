// Differentiable activations, and the fused first derivatives of the piecewise and saturating ones
// (differentiable ops themselves, so a second derivative runs the same kernels).
#pragma once
#include "engine/core/tensor.h"

namespace gan {

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double slope = 0.01);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor log_sigmoid(const Tensor& x);  // log(sigmoid(x)), stable for large |x|
Tensor softplus(const Tensor& x);     // log(1 + exp(x)), stable for large |x|

// g * d/dx leaky_relu(x, slope) = x > 0 ? g : slope g  (relu: slope 0), one fused pass.
Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double slope);
// g * d/dx tanh(x) given y = tanh(x): g (1 - y^2).
Tensor tanh_backward(const Tensor& g, const Tensor& y);
// g * d/dx sigmoid(x) given y = sigmoid(x): g y (1 - y).
Tensor sigmoid_backward(const Tensor& g, const Tensor& y);

}  // namespace gan
