// The bias + activation primitive: what follows a matrix product or a convolution that was run
// without its bias (engine/ops/activation.h: bias_act; kernels/bias_act.cuh).
#pragma once
#include "engine/backend/declare.h"
#include "engine/core/tensor.h"
#include "kernels/norm_act.h"

#define GAN_BIAS_ACT_PRIMITIVES                                                                       \
  /* y = act(x + bias[c]) over x viewed as [N, C, S] (S: the product of the dims after C, 1 for     */ \
  /* x [N, C]); bias [C]; act none, ReLU or LeakyReLU. Each value as add then the activation give  */ \
  /* it (kernels/norm_act.h: bias_act_value), bfloat16 rounded after each. y may be x (in place).  */ \
  void bias_act_forward(const Tensor& x, const Tensor& bias, const kernels::NormAct& act, Tensor& y);  \
  /* Its gradient for dy, the gradient of its output y: dx = dy carried back through act (the mask */ \
  /* read from y), and dbias [C] = dx summed over every dim but 1. The bits of the unfused ops:    */ \
  /* dx as leaky_relu_backward(dy, y, slope), dbias as sum_to over the same shapes (the backends'   */ \
  /* reductions load each dx value once, in their sum_to order). act is ReLU or LeakyReLU.         */ \
  void bias_act_backward(const Tensor& dy, const Tensor& y, const kernels::NormAct& act, Tensor& dx,    \
                         Tensor& dbias);

GAN_DECLARE_PRIMITIVES(GAN_BIAS_ACT_PRIMITIVES)
// Both backends store bfloat16 here themselves: float32 copies would round once where the
// unfused ops round twice (the sum and the activation; the mask and the bias gradient's sum).
GAN_STORES_BF16(cpu, bias_act_forward)
GAN_STORES_BF16(cuda, bias_act_forward)
GAN_STORES_BF16(cpu, bias_act_backward)
GAN_STORES_BF16(cuda, bias_act_backward)
// Every output written in full, never read first (engine/backend/declare.h).
GAN_OVERWRITES_OUTPUTS(bias_act_forward)
GAN_OVERWRITES_OUTPUTS(bias_act_backward)
