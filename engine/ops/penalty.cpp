// WGAN-GP ops over the fused penalty primitives.
//   op                      backward                                  its own backward
//   interpolate_per_sample  composite (mul, sub, sum)
//   gradient_penalty        gradient_penalty_backward          fused  reference_vjp of
//                                                                     gradient_penalty_backward_reference
#include "engine/ops/penalty.h"

#include "engine/backend/dispatch.h"
#include "engine/backend/penalty.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

// [N] -> [N, 1, ..., 1] matching x's rank, so a per-sample value broadcasts over the sample.
static Tensor per_sample_column(const Tensor& v, const Tensor& like) {
  Shape s(like.dim(), 1);
  s[0] = like.shape()[0];
  return v.reshape(s);
}

Tensor interpolate_per_sample(const Tensor& real, const Tensor& fake, const Tensor& eps) {
  check_same_device_dtype("interpolate_per_sample", {&real, &fake, &eps});
  check_same_shape("interpolate_per_sample", real, fake);
  GAN_CHECK(real.dim() >= 1 && eps.shape() == Shape{real.shape()[0]},
            "interpolate_per_sample: eps " << shape_str(eps.shape()) << " must hold one value per sample of "
                                           << shape_str(real.shape()));
  Tensor out = Tensor::empty(real.shape(), real.dtype(), real.device());
  GAN_BACKEND(real.device(), interpolate_per_sample, real, fake, eps, out);
  autograd::record("interpolate_per_sample", {real, fake, eps}, {&out},
                   [real, fake, eps](FunctionNode& n, const Grads& g) -> Grads {
                     Tensor e = per_sample_column(eps, real);
                     Tensor gr, gf, ge;
                     if (n.needs(0)) gr = mul(g[0], e);
                     if (n.needs(1)) gf = mul(g[0], 1.0 - e);
                     if (n.needs(2)) ge = sum(mul(g[0], sub(real, fake)).flatten(1), {1});
                     return {gr, gf, ge};
                   });
  return out;
}

Tensor gradient_penalty(const Tensor& g, double lambda) {
  GAN_CHECK(g.dim() >= 1 && g.shape()[0] > 0, "gradient_penalty: needs a non-empty batch, got " << g.str());
  Tensor norms = Tensor::empty({g.shape()[0]}, g.dtype(), g.device());
  Tensor penalty = Tensor::empty({}, g.dtype(), g.device());
  GAN_BACKEND(g.device(), gradient_penalty_forward, g, lambda, norms, penalty);
  autograd::record("gradient_penalty", {g}, {&penalty}, [g, norms, lambda](FunctionNode&, const Grads& gp) -> Grads {
    return {gradient_penalty_backward(g, gp[0], lambda, norms)};
  });
  return penalty;
}

Tensor gradient_penalty_backward_reference(const Tensor& g, const Tensor& gp, double lambda) {
  // d/dg lambda/N sum (||g_n|| - 1)^2 = lambda/N * 2 (||g_n|| - 1) * g_n / ||g_n||
  Tensor nrm = per_sample_norm(g);
  Tensor coef = mul(div(add(nrm, -1.0), nrm), 2.0 * lambda / static_cast<double>(g.shape()[0]));
  return mul(g, per_sample_column(mul(coef, gp), g));
}

Tensor gradient_penalty_backward(const Tensor& g, const Tensor& gp, double lambda, const Tensor& norms) {
  check_same_device_dtype("gradient_penalty_backward", {&g, &gp, &norms});
  GAN_CHECK(g.dim() >= 1 && g.shape()[0] > 0, "gradient_penalty_backward: needs a non-empty batch, got " << g.str());
  GAN_CHECK(gp.numel() == 1, "gradient_penalty_backward: the penalty's gradient must be one value, got " << gp.str());
  Tensor nrm = norms;
  if (!nrm.defined()) {
    nrm = Tensor::empty({g.shape()[0]}, g.dtype(), g.device());
    Tensor unused = Tensor::empty({}, g.dtype(), g.device());
    GAN_BACKEND(g.device(), gradient_penalty_forward, g, lambda, nrm, unused);
  }
  GAN_CHECK(nrm.shape() == Shape{g.shape()[0]},
            "gradient_penalty_backward: norms " << nrm.str() << " must hold one value per sample of " << g.str());
  Tensor dg = Tensor::empty(g.shape(), g.dtype(), g.device());
  GAN_BACKEND(g.device(), gradient_penalty_backward, g, nrm, gp.reshape({}), lambda, dg);
  // Its own backward differentiates the reference formula (WGAN-GP's third derivative is rare
  // enough that a second fused kernel would not pay off).
  autograd::record("gradient_penalty_backward", {g, gp}, {&dg},
                   [g, gp, lambda](FunctionNode& n, const Grads& G) -> Grads {
                     auto reference = [lambda](const Grads& in) -> Grads {
                       return {gradient_penalty_backward_reference(in[0], in[1], lambda)};
                     };
                     return reference_vjp(reference, {g, gp}, G, {n.needs(0), n.needs(1)});
                   });
  return dg;
}

}  // namespace gan
