// Convolution primitives. Four computations cover conv2d and conv_transpose2d in both directions:
//   conv2d forward                  = conv2d_forward
//   conv2d input gradient           = conv2d_backward_data
//   conv2d weight gradient          = conv2d_backward_weight
//   conv_transpose2d forward        = conv_transpose2d_forward  (conv2d_backward_data's code with
//                                                                x in the role of dy)
//   conv_transpose2d input gradient = conv2d_forward(dy, w)
//   conv_transpose2d weight grad    = conv2d_backward_weight(dy, x)
// Shapes (conv2d view): x[N, Ci, H, W], w[Co, Ci, kH, kW], y[N, Co, Ho, Wo] with
// Ho = (H + 2 pad_h - kH) / stride_h + 1. conv_transpose2d_forward takes its own roles:
// x[N, Co, Ho, Wo], w[Co, Ci, kH, kW] (PyTorch's [C_in, C_out, kH, kW] of the transposed layer),
// y[N, Ci, H, W]. Outputs are allocated by the caller; their shapes settle ambiguities
// (conv_transpose2d's output_padding). No bias: ops add it.
#pragma once
#include "engine/backend/declare.h"
#include "engine/core/tensor.h"
#include "engine/backend/conv_params.h"

#define GAN_CONV_PRIMITIVES                                                                           \
  void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dParams& p);             \
  void conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const Conv2dParams& p);    \
  void conv2d_backward_weight(const Tensor& x, const Tensor& dy, Tensor& dw, const Conv2dParams& p);  \
  void conv_transpose2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dParams& p);

GAN_DECLARE_PRIMITIVES(GAN_CONV_PRIMITIVES)
// On the GPU, bfloat16 convolutions run in cuDNN (float32 accumulation); the CPU widens.
GAN_STORES_BF16(cuda, conv2d_forward)
GAN_STORES_BF16(cuda, conv2d_backward_data)
GAN_STORES_BF16(cuda, conv2d_backward_weight)
GAN_STORES_BF16(cuda, conv_transpose2d_forward)
// Every output written in full, never read first (engine/backend/declare.h).
GAN_OVERWRITES_OUTPUTS(conv2d_forward)
GAN_OVERWRITES_OUTPUTS(conv2d_backward_data)
GAN_OVERWRITES_OUTPUTS(conv2d_backward_weight)
GAN_OVERWRITES_OUTPUTS(conv_transpose2d_forward)
