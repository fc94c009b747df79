// Differentiable 2-D convolutions, NCHW, weights as PyTorch lays them out:
//   conv2d:           w[C_out, C_in, kH, kW]
//   conv_transpose2d: w[C_in, C_out, kH, kW]
// Each one's input gradient is the other one, and the weight gradients are convolution-family ops
// themselves, so every gradient here can be differentiated again.
#pragma once
#include "engine/backend/conv_params.h"
#include "engine/core/tensor.h"

namespace gan {

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);

// d(conv2d(x, w))/dw contracted with gy: the weight gradient of conv2d, shape w_shape.
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& gy, const Shape& w_shape, const Conv2dParams& p);
// d(conv_transpose2d(x, w))/dw contracted with gy: the weight gradient of conv_transpose2d.
Tensor conv_transpose2d_weight_grad(const Tensor& x, const Tensor& gy, const Shape& w_shape, const Conv2dParams& p);

}  // namespace gan
