// WGAN-GP primitives: per-sample interpolation and the fused per-sample-norm penalty.
#pragma once
#include "engine/backend/declare.h"
#include "engine/core/tensor.h"

#define GAN_PENALTY_PRIMITIVES                                                                         \
  /* out[n, ...] = eps[n] * real[n, ...] + (1 - eps[n]) * fake[n, ...] */                              \
  void interpolate_per_sample(const Tensor& real, const Tensor& fake, const Tensor& eps, Tensor& out); \
  /* g viewed as [N, M]: norms[n] = ||g[n]||, penalty[] = lambda * mean_n (norms[n] - 1)^2 */         \
  void gradient_penalty_forward(const Tensor& g, double lambda, Tensor& norms, Tensor& penalty);       \
  /* dg[n, :] = dpenalty * lambda * 2 (norms[n] - 1) / (N * norms[n]) * g[n, :]  (dpenalty 0-dim)  */ \
  void gradient_penalty_backward(const Tensor& g, const Tensor& norms, const Tensor& dpenalty,         \
                                 double lambda, Tensor& dg);

GAN_DECLARE_PRIMITIVES(GAN_PENALTY_PRIMITIVES)
