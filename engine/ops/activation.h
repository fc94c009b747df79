// Differentiable activations, and the fused first derivatives of the piecewise and saturating ones
// (differentiable ops themselves, so a second derivative runs the same kernels).
#pragma once
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/norm_act.h"

namespace gan {

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double slope = 0.01);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor log_sigmoid(const Tensor& x);  // log(sigmoid(x)), stable for large |x|
Tensor softplus(const Tensor& x);     // log(1 + exp(x)), stable for large |x|

// act(x + bias) in one pass, bias [C] along dim 1 of x [N, C] or [N, C, H, W]: the bias a Linear,
// Conv2d or ConvTranspose2d adds, and the ReLU / LeakyReLU (slope >= 0) after it, as
//   bias_act(x, b, {NormActKind::LeakyRelu, 0.2}) == leaky_relu(x + b.reshape({1, C, 1, 1}), 0.2)
// bit for bit, bfloat16 included; NormActKind::None adds the bias alone. It keeps its output y (the
// mask's source, as batch_norm_act does), never the sum x + bias, so a layer holds one
// activation-sized tensor fewer. Its gradient has the unfused ops' bits: gz = leaky_relu_backward(g,
// y, slope) for x and gz summed over every dim but 1 for bias, both from bias_act_backward in one
// pass when both are wanted. It differentiates to any order (WGAN-GP critics). One kernel where
// the unfused pair runs two, forward and backward.
using kernels::NormAct;
using kernels::NormActKind;
Tensor bias_act(const Tensor& x, const Tensor& bias, const NormAct& act);
// Its gradient for upstream g given its output y: {gz, dbias [C]}, as leaky_relu_backward(g, y,
// slope) and sum(gz, every dim but 1) give them, bit for bit, in one pass. act: ReLU or LeakyReLU
// (slope >= 0). Differentiable: its own backward is those two ops' (reference_vjp).
std::vector<Tensor> bias_act_backward(const Tensor& g, const Tensor& y, const NormAct& act);

// g * d/dx leaky_relu(x, slope) = x > 0 ? g : slope g  (relu: slope 0), one fused pass.
Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double slope);
// g * d/dx tanh(x) given y = tanh(x): g (1 - y^2).
Tensor tanh_backward(const Tensor& g, const Tensor& y);
// g * d/dx sigmoid(x) given y = sigmoid(x): g y (1 - y).
Tensor sigmoid_backward(const Tensor& g, const Tensor& y);

}  // namespace gan
