// Element-wise ops and their gradients. The maps and their formulas are the table in
// kernels/elementwise_ops.h; each op here adds its gradient rule, a formula in differentiable ops,
// so that with create_graph the gradient is itself recorded (d/dx of g * f'(x) needs f''(x)).
// Every rule here is composite (no fused backward kernels): the activations' fused backward ops
// are in activation.cpp.
#include "engine/ops/elementwise.h"

#include "engine/backend/dispatch.h"
#include "engine/backend/reduction.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

// Binary rules return gradients at the output's shape; the engine sums each down to its input's
// shape (broadcast inputs), so no rule here calls sum_to.
Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::Add, a, b, 0, [](const FunctionNode& n, const Tensor& g, const BinarySaved&) -> Grads {
    return {n.needs(0) ? g : Tensor(), n.needs(1) ? g : Tensor()};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::Sub, a, b, 0, [](const FunctionNode& n, const Tensor& g, const BinarySaved&) -> Grads {
    return {n.needs(0) ? g : Tensor(), n.needs(1) ? neg(g) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::Mul, a, b, 0, [](const FunctionNode& n, const Tensor& g, const BinarySaved& s) -> Grads {
    return {n.needs(0) ? mul(g, s.y) : Tensor(), n.needs(1) ? mul(g, s.x) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::Div, a, b, 0, [](const FunctionNode& n, const Tensor& g, const BinarySaved& s) -> Grads {
    return {n.needs(0) ? div(g, s.y) : Tensor(), n.needs(1) ? neg(div(mul(g, s.x), mul(s.y, s.y))) : Tensor()};
  });
}

Tensor add(const Tensor& a, double s) {
  return unary_op(UnaryOp::AddScalar, a, s, 0, [](const Tensor& g, const UnarySaved&) { return g; });
}

Tensor mul(const Tensor& a, double s) {
  return unary_op(UnaryOp::MulScalar, a, s, 0, [](const Tensor& g, const UnarySaved& k) { return mul(g, k.a); });
}

Tensor neg(const Tensor& x) {
  return unary_op(UnaryOp::Neg, x, 0, 0, [](const Tensor& g, const UnarySaved&) { return neg(g); });
}

Tensor exp(const Tensor& x) {
  return unary_op(UnaryOp::Exp, x, 0, 0, [](const Tensor& g, const UnarySaved& s) { return mul(g, s.y); });
}

Tensor log(const Tensor& x) {
  return unary_op(UnaryOp::Log, x, 0, 0, [](const Tensor& g, const UnarySaved& s) { return div(g, s.x); });
}

Tensor pow(const Tensor& x, double p) {
  return unary_op(UnaryOp::Pow, x, p, 0, [](const Tensor& g, const UnarySaved& s) {
    // x^0 is constant: p x^(p-1) would be 0 * inf = NaN at x = 0.
    if (s.a == 0) return zeros_like(g);
    return mul(g, mul(pow(s.x, s.a - 1), s.a));
  });
}

Tensor sqrt(const Tensor& x) {
  return unary_op(UnaryOp::Sqrt, x, 0, 0, [](const Tensor& g, const UnarySaved& s) { return div(mul(g, 0.5), s.y); });
}

Tensor abs(const Tensor& x) {
  return unary_op(UnaryOp::Abs, x, 0, 0, [](const Tensor& g, const UnarySaved& s) { return mul(g, sign(s.x)); });
}

Tensor square(const Tensor& x) {
  return unary_op(UnaryOp::Square, x, 0, 0, [](const Tensor& g, const UnarySaved& s) { return mul(g, mul(s.x, 2.0)); });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  GAN_CHECK(lo <= hi, "clamp: lower bound " << lo << " above upper bound " << hi);
  return unary_op(UnaryOp::Clamp, x, lo, hi,
                  [](const Tensor& g, const UnarySaved& s) { return mul(g, inside_mask(s.x, s.a, s.b)); });
}

// Piecewise constant (None in the table): never recorded, so no rule.
Tensor sign(const Tensor& x) { return unary_raw(UnaryOp::Sign, x); }
Tensor leaky_step(const Tensor& x, double slope) { return unary_raw(UnaryOp::LeakyStep, x, slope); }
Tensor inside_mask(const Tensor& x, double lo, double hi) { return unary_raw(UnaryOp::InsideMask, x, lo, hi); }

Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  GAN_BACKEND(x.device(), cast_copy, x, out);
  autograd::record("cast", {x}, {&out}, [from = x.dtype()](FunctionNode&, const Grads& g) -> Grads {
    return {cast(g[0], from)};
  });
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  GAN_CHECK(broadcasts_to(x.shape(), shape),
            "broadcast_to: cannot broadcast " << shape_str(x.shape()) << " to " << shape_str(shape));
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  GAN_BACKEND(x.device(), broadcast_copy, x, out);
  // The engine sums the gradient down to x's shape.
  autograd::record("broadcast_to", {x}, {&out}, [](FunctionNode&, const Grads& g) -> Grads { return {g[0]}; });
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  GAN_CHECK(broadcasts_to(shape, x.shape()),
            "sum_to: cannot sum " << shape_str(x.shape()) << " down to " << shape_str(shape));
  // Same-rank shape with 1 on every summed dim, then a view to the requested rank.
  Shape keep(x.shape().size() - shape.size(), 1);
  keep.insert(keep.end(), shape.begin(), shape.end());
  Tensor out = Tensor::empty(keep, x.dtype(), x.device());
  GAN_BACKEND(x.device(), sum_to, x, out);
  autograd::record("sum_to", {x}, {&out}, [xs = x.shape()](FunctionNode&, const Grads& g) -> Grads {
    return {broadcast_to(g[0], xs)};
  });
  return keep == shape ? out : out.reshape(shape);
}

Tensor zeros_like(const Tensor& x) { return Tensor::zeros(x.shape(), x.dtype(), x.device()); }
Tensor ones_like(const Tensor& x) { return Tensor::ones(x.shape(), x.dtype(), x.device()); }

}  // namespace gan
