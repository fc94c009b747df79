// Fused loss primitives: value and gradient in one pass over the logits.
#pragma once
#include "engine/backend/declare.h"
#include "engine/core/tensor.h"

#define GAN_LOSS_PRIMITIVES                                                                          \
  /* loss[] = sum_i bce(x_i, t_i) with t_i = targets[i] when targets is defined, else `target`;   */ \
  /* dlogits[i] = (sigmoid(x_i) - t_i) * grad_scale. Writes a 0-dim `loss_sum`.                  */ \
  void bce_with_logits_fused(const Tensor& logits, const Tensor& targets, double target,            \
                             Tensor& loss_sum, Tensor& dlogits, double grad_scale);               \
  /* Softmax cross-entropy over the rows of logits [N, K] with class-id targets [N] (either float */ \
  /* dtype, integers in [0, K)) and target distribution q = (1 - s) onehot(t) + s / K:            */ \
  /*   row loss = logsumexp(x) - sum_k q_k x_k,  dlogits = (softmax(x) - q) * grad_scale.         */ \
  /* `loss` is [N] (each row's loss), 0-dim (their sum) or undefined; dlogits may be undefined.   */ \
  /* Targets undefined: q = 0, so dlogits = softmax(x) * grad_scale (loss must be undefined).     */ \
  /* A bad target makes its row's loss and dlogits NaN (the op checks CPU targets and throws).    */ \
  void softmax_cross_entropy_fused(const Tensor& logits, const Tensor& targets, double label_smoothing, \
                                   Tensor& loss, Tensor& dlogits, double grad_scale);

GAN_DECLARE_PRIMITIVES(GAN_LOSS_PRIMITIVES)
