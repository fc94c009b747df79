// Losses. Each can sit under a double backward.
//   op                          backward                                      its own backward
//   bce_with_logits (Mean/Sum)  dlogits from the fused forward pass, x g  fused  sigmoid_backward (fused)
//   bce_with_logits (None)      composite (softplus, mul, sub)
//   mse_loss                    composite
#include "engine/ops/loss.h"

#include "engine/backend/loss.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using detail::FunctionNode;
using detail::Grads;

static Tensor reduce(const Tensor& x, Reduction r) {
  switch (r) {
    case Reduction::None: return x;
    case Reduction::Mean: return mean(x);
    case Reduction::Sum: return sum(x);
  }
  GAN_FAIL("loss: unknown reduction");
}

// softplus(x) - x t  ==  max(x, 0) - x t + log(1 + exp(-|x|)): never overflows.
// Gradient: sigmoid(x) - t.
static Tensor bce_composite(const Tensor& logits, const Tensor& targets, double target, Reduction reduction) {
  Tensor per = softplus(logits);
  if (targets.defined()) {
    per = sub(per, mul(logits, targets));
  } else if (target != 0) {
    per = sub(per, mul(logits, target));
  }
  return reduce(per, reduction);
}

// d(loss)/d(logits) = (sigmoid(x) - t) * scale, as an op of (logits, targets) whose value the fused
// forward already computed (`dlogits`, no history). Its own backward is the derivative of that
// formula, written with the fused sigmoid_backward: d/dx = sigmoid_backward(G scale, sigmoid(x)),
// d/dt = -G scale. A fresh alias carries the record, so the saved tensor itself never gains history.
static Tensor bce_logits_grad(const Tensor& dlogits, const Tensor& logits, const Tensor& targets, double scale) {
  Tensor d = dlogits.detach();
  autograd::record("bce_with_logits_backward", {logits, targets}, {&d},
                   [logits, scale](FunctionNode& n, const Grads& G) -> Grads {
                     Tensor gs = mul(G[0], scale);
                     return {n.needs(0) ? sigmoid_backward(gs, sigmoid(logits)) : Tensor(),
                             n.needs(1) ? neg(gs) : Tensor()};
                   });
  return d;
}

// Mean/Sum: one fused pass yields the loss and d(loss)/d(logits), already scaled by the reduction,
// so a backward is a single multiply by the incoming scalar gradient.
static Tensor bce_fused(const Tensor& logits, const Tensor& targets, double target, Reduction reduction) {
  GAN_CHECK(logits.numel() > 0, "bce_with_logits: empty input " << shape_str(logits.shape()));
  const double scale = reduction == Reduction::Mean ? 1.0 / static_cast<double>(logits.numel()) : 1.0;
  Tensor loss = Tensor::empty({}, logits.dtype(), logits.device());
  Tensor dlogits = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  GAN_BACKEND(logits.device(), bce_with_logits_fused, logits, targets, target, loss, dlogits, scale);
  if (reduction == Reduction::Mean) loss = detail::unary_raw(UnaryOp::MulScalar, loss, scale);
  autograd::record("bce_with_logits", {logits, targets}, {&loss},
                   [logits, targets, scale, dlogits](FunctionNode& n, const Grads& g) -> Grads {
                     Grads out(2);
                     if (n.needs(0)) out[0] = mul(bce_logits_grad(dlogits, logits, targets, scale), g[0]);
                     if (n.needs(1)) out[1] = mul(mul(logits, -scale), g[0]);
                     return out;
                   });
  return loss;
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, Reduction reduction) {
  check_same_device_dtype("bce_with_logits", {&logits, &targets});
  check_same_shape("bce_with_logits", logits, targets);
  if (reduction == Reduction::None) return bce_composite(logits, targets, 0.0, reduction);
  return bce_fused(logits, targets, 0.0, reduction);
}

Tensor bce_with_logits(const Tensor& logits, double target, Reduction reduction) {
  GAN_CHECK(target >= 0 && target <= 1, "bce_with_logits: target " << target << " outside [0, 1]");
  if (reduction == Reduction::None) return bce_composite(logits, Tensor(), target, reduction);
  return bce_fused(logits, Tensor(), target, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_device_dtype("mse_loss", {&input, &target});
  check_same_shape("mse_loss", input, target);
  return reduce(square(sub(input, target)), reduction);
}

}  // namespace gan
