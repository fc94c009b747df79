// Fused loss primitives: value and gradient in one pass over the logits.
#pragma once
#include "engine/backend/dispatch.h"
#include "engine/core/tensor.h"

#define GAN_LOSS_PRIMITIVES                                                                          \
  /* loss[] = sum_i bce(x_i, t_i) with t_i = targets[i] when targets is defined, else `target`;   */ \
  /* dlogits[i] = (sigmoid(x_i) - t_i) * grad_scale. Writes a 0-dim `loss_sum`.                  */ \
  void bce_with_logits_fused(const Tensor& logits, const Tensor& targets, double target,            \
                             Tensor& loss_sum, Tensor& dlogits, double grad_scale);

GAN_DECLARE_PRIMITIVES(GAN_LOSS_PRIMITIVES)
