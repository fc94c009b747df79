// Batch-norm primitives over x viewed as [N, C, S] (S = H*W, or 1 for x[N, C]).
#pragma once
#include "engine/backend/declare.h"
#include "engine/core/tensor.h"
#include "kernels/norm_act.h"

#define GAN_NORM_PRIMITIVES                                                                            \
  /* Training: batch mean and 1/sqrt(biased var + eps) per channel into save_mean/save_invstd [C];  */ \
  /* y = act((x - mean) * invstd * weight + bias); when running_mean is defined, running stats      */ \
  /* updated in place: r = (1 - momentum) r + momentum * batch (unbiased variance for running_var). */ \
  /* weight/bias may be undefined (affine = false). act: none, or the ReLU / LeakyReLU fused after */ \
  /* the normalisation (kernels/norm_act.h).                                                        */ \
  void batch_norm_forward_train(const Tensor& x, const Tensor& weight, const Tensor& bias,             \
                                const kernels::NormAct& act, Tensor& y, Tensor& save_mean,              \
                                Tensor& save_invstd, Tensor& running_mean, Tensor& running_var,         \
                                double momentum, double eps);                                          \
  void batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,              \
                               const Tensor& running_mean, const Tensor& running_var, Tensor& y,       \
                               double eps);                                                            \
  /* The three-term backward of the training forward. With an activation, dy is the gradient of    */ \
  /* its output y (the forward's, read for the mask) and is carried back through it first; y is    */ \
  /* undefined when act is none. dweight/dbias may be undefined (not wanted).                       */ \
  void batch_norm_backward(const Tensor& dy, const kernels::NormAct& act, const Tensor& y,              \
                           const Tensor& x, const Tensor& weight, const Tensor& save_mean,              \
                           const Tensor& save_invstd, Tensor& dx, Tensor& dweight, Tensor& dbias);

GAN_DECLARE_PRIMITIVES(GAN_NORM_PRIMITIVES)
