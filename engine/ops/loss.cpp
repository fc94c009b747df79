// Losses. Each can sit under a double backward.
//   op                          backward                                      its own backward
//   bce_with_logits (Mean/Sum)  dlogits from the fused forward pass, x g  fused  sigmoid_backward (fused)
//   bce_with_logits (None)      composite (softplus, mul, sub)
//   mse_loss                    composite
//   l1_loss                     composite (sub, abs: g sign(input - target))
//   softmax_cross_entropy       dlogits from the fused forward pass, x g  fused  softmax's backward (ops)
//     (softmax_cross_entropy_backward: (softmax(x) - q) scale, an op of x)
//   softmax                     y (g - sum_k g_k y_k)                 composite   composite (to any order)
//   gaussian_nll                composite
#include "engine/ops/loss.h"

#include "engine/backend/dispatch.h"
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

// ---- softmax and softmax cross-entropy ----

// y (g - sum_k g_k y_k): the vector-Jacobian product of softmax at output y, in ops.
static Tensor softmax_vjp(const Tensor& g, const Tensor& y) { return mul(y, sub(g, sum(mul(g, y), {1}, true))); }

static void check_logits_2d(const char* op, const Tensor& logits) {
  GAN_CHECK(logits.defined() && logits.dim() == 2 && logits.shape()[1] > 0,
            op << ": logits must be [N, K] with K >= 1, got " << (logits.defined() ? logits.str() : "undefined"));
}

Tensor softmax(const Tensor& logits) {
  check_logits_2d("softmax", logits);
  Tensor y = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  Tensor none;
  // The cross-entropy kernel without targets (q = 0) leaves softmax(x) in its gradient output.
  GAN_BACKEND(logits.device(), softmax_cross_entropy_fused, logits, Tensor(), 0.0, none, y, 1.0);
  autograd::record("softmax", {logits}, {&y},
                   [](FunctionNode& n, const Grads& g) -> Grads { return {softmax_vjp(g[0], n.output(0))}; },
                   /*save_outputs=*/true);
  return y;
}

// d(loss)/d(logits) = (softmax(x) - q) * scale as an op of the logits whose value the fused forward
// computed (`dlogits`). Its backward: q is constant, so d/dx <G, softmax(x) scale> = softmax's VJP
// of G scale at y = softmax(x), recomputed here and recorded, so the chain goes on to any order.
static Tensor softmax_xent_logits_grad(const Tensor& dlogits, const Tensor& logits, double scale) {
  Tensor d = dlogits.detach();
  autograd::record("softmax_cross_entropy_backward", {logits}, {&d},
                   [logits, scale](FunctionNode&, const Grads& G) -> Grads {
                     return {softmax_vjp(mul(G[0], scale), softmax(logits))};
                   });
  return d;
}

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing,
                             Reduction reduction) {
  check_logits_2d("softmax_cross_entropy", logits);
  const int64_t n = logits.shape()[0], k = logits.shape()[1];
  GAN_CHECK(targets.defined() && targets.dim() == 1 && targets.numel() == n,
            "softmax_cross_entropy: targets must be class ids [" << n << "] for logits " << logits.str() << ", got "
                                                                 << (targets.defined() ? targets.str() : "undefined"));
  GAN_CHECK(targets.device() == logits.device(),
            "softmax_cross_entropy: tensors on different devices: " << logits.str() << " and targets " << targets.str());
  GAN_CHECK(label_smoothing >= 0 && label_smoothing < 1,
            "softmax_cross_entropy: label_smoothing " << label_smoothing << " outside [0, 1)");
  GAN_CHECK(n > 0 || reduction != Reduction::Mean, "softmax_cross_entropy: mean over empty logits " << logits.str());
  detail::check_class_ids("softmax_cross_entropy", "targets", targets, k, " (logits " + shape_str(logits.shape()) + ")");

  const double scale = reduction == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0;
  Tensor loss = Tensor::empty(reduction == Reduction::None ? Shape{n} : Shape{}, logits.dtype(), logits.device());
  // The gradient is written only when it can be used: at [65536, 1000] it is half the traffic.
  const bool want_grad = autograd::needs_grad({logits});
  Tensor dlogits = want_grad ? Tensor::empty(logits.shape(), logits.dtype(), logits.device()) : Tensor();
  GAN_BACKEND(logits.device(), softmax_cross_entropy_fused, logits, targets, label_smoothing, loss, dlogits, scale);
  if (reduction == Reduction::Mean) loss = detail::unary_raw(UnaryOp::MulScalar, loss, scale);
  if (!want_grad) return loss;
  autograd::record("softmax_cross_entropy", {logits}, {&loss},
                   [logits, dlogits, scale, reduction, n](FunctionNode&, const Grads& g) -> Grads {
                     Tensor d = softmax_xent_logits_grad(dlogits, logits, scale);
                     // None: row i's gradient is scaled by g[i]; Mean/Sum: by the scalar g.
                     return {mul(d, reduction == Reduction::None ? g[0].reshape({n, 1}) : g[0])};
                   });
  return loss;
}

// ---- Gaussian negative log-likelihood ----

Tensor gaussian_nll(const Tensor& x, const Tensor& mean, const Tensor& log_var, Reduction reduction) {
  GAN_CHECK(x.defined() && mean.defined(), "gaussian_nll: x and mean must be defined");
  check_same_device_dtype("gaussian_nll", {&x, &mean, &log_var});
  check_same_shape("gaussian_nll", x, mean);
  constexpr double kHalfLog2Pi = 0.91893853320467274178;  // 0.5 log(2 pi)
  Tensor sq = square(sub(x, mean));
  Tensor per;
  if (log_var.defined()) {
    GAN_CHECK(broadcasts_to(log_var.shape(), x.shape()),
              "gaussian_nll: log_var " << shape_str(log_var.shape()) << " does not broadcast to x "
                                       << shape_str(x.shape()) << " (expected x's shape or one that broadcasts to it)");
    per = add(mul(add(log_var, mul(sq, exp(neg(log_var)))), 0.5), kHalfLog2Pi);
  } else {
    per = add(mul(sq, 0.5), kHalfLog2Pi);
  }
  return reduce(per, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_device_dtype("mse_loss", {&input, &target});
  check_same_shape("mse_loss", input, target);
  return reduce(square(sub(input, target)), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_device_dtype("l1_loss", {&input, &target});
  check_same_shape("l1_loss", input, target);
  return reduce(abs(sub(input, target)), reduction);
}

}  // namespace gan
