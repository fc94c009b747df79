// WGAN-GP building blocks (Gulrajani et al. 2017): the per-sample interpolation between real and
// generated samples, and the penalty on the critic's input-gradient norm. Used as
//
//   Tensor eps  = Tensor::rand({N}, &gen);                  // one epsilon per sample, not per pixel
//   Tensor xhat = interpolate_per_sample(real, fake.detach(), eps).detach().requires_grad_();
//   Tensor g    = grad({sum(critic(xhat))}, {xhat}, {}, /*create_graph=*/true)[0];
//   Tensor gp   = gradient_penalty(g, 10.0);                // lambda * mean_n (||g_n|| - 1)^2
//
// gp's gradient with respect to the critic's parameters then flows through the double backward.
#pragma once
#include "engine/core/tensor.h"

namespace gan {

// eps[n] * real[n] + (1 - eps[n]) * fake[n]; eps has shape [N]. Differentiable in all three.
Tensor interpolate_per_sample(const Tensor& real, const Tensor& fake, const Tensor& eps);

// lambda * mean over samples of (||g[n]|| - 1)^2, the norm over all of a sample's elements
// (C x H x W). One fused pass forward and one backward (gradient_penalty_backward).
Tensor gradient_penalty(const Tensor& g, double lambda);

// d gradient_penalty(g, lambda) / dg times the penalty's gradient gp (one value): one fused pass,
// differentiable (its own derivative is the reference formula's). norms: ||g[n]||, which the
// forward computed; computed here when not given.
Tensor gradient_penalty_backward(const Tensor& g, const Tensor& gp, double lambda, const Tensor& norms = Tensor());
// The same gradient in differentiable ops, the reference the fused op is tested against.
Tensor gradient_penalty_backward_reference(const Tensor& g, const Tensor& gp, double lambda);

}  // namespace gan
