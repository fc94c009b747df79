// Element-wise ops and their gradients. Each rule is a formula in differentiable ops, so that
// with create_graph the gradient is itself recorded (d/dx of g * f'(x) needs f''(x)).
#include "engine/ops/elementwise.h"

#include "engine/backend/reduction.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Add, a, b, "add");
  autograd::record("add", {a, b}, {&out}, [sa = a.shape(), sb = b.shape()](FunctionNode& n, const Grads& g) -> Grads {
    return {n.needs(0) ? sum_to(g[0], sa) : Tensor(), n.needs(1) ? sum_to(g[0], sb) : Tensor()};
  });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Sub, a, b, "sub");
  autograd::record("sub", {a, b}, {&out}, [sa = a.shape(), sb = b.shape()](FunctionNode& n, const Grads& g) -> Grads {
    return {n.needs(0) ? sum_to(g[0], sa) : Tensor(), n.needs(1) ? sum_to(neg(g[0]), sb) : Tensor()};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Mul, a, b, "mul");
  autograd::record("mul", {a, b}, {&out}, [a, b](FunctionNode& n, const Grads& g) -> Grads {
    return {n.needs(0) ? sum_to(mul(g[0], b), a.shape()) : Tensor(),
            n.needs(1) ? sum_to(mul(g[0], a), b.shape()) : Tensor()};
  });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Div, a, b, "div");
  autograd::record("div", {a, b}, {&out}, [a, b](FunctionNode& n, const Grads& g) -> Grads {
    return {n.needs(0) ? sum_to(div(g[0], b), a.shape()) : Tensor(),
            n.needs(1) ? sum_to(neg(div(mul(g[0], a), mul(b, b))), b.shape()) : Tensor()};
  });
  return out;
}

Tensor add(const Tensor& a, double s) {
  Tensor out = unary_raw(UnaryOp::AddScalar, a, s);
  autograd::record("add_scalar", {a}, {&out}, [](FunctionNode&, const Grads& g) -> Grads { return {g[0]}; });
  return out;
}

Tensor mul(const Tensor& a, double s) {
  Tensor out = unary_raw(UnaryOp::MulScalar, a, s);
  autograd::record("mul_scalar", {a}, {&out}, [s](FunctionNode&, const Grads& g) -> Grads { return {mul(g[0], s)}; });
  return out;
}

Tensor neg(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Neg, x);
  autograd::record("neg", {x}, {&out}, [](FunctionNode&, const Grads& g) -> Grads { return {neg(g[0])}; });
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Exp, x);
  autograd::record("exp", {x}, {&out}, [](FunctionNode& n, const Grads& g) -> Grads { return {mul(g[0], n.output(0))}; },
                   /*save_outputs=*/true);
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Log, x);
  autograd::record("log", {x}, {&out}, [x](FunctionNode&, const Grads& g) -> Grads { return {div(g[0], x)}; });
  return out;
}

Tensor pow(const Tensor& x, double p) {
  Tensor out = unary_raw(UnaryOp::Pow, x, p);
  autograd::record("pow", {x}, {&out}, [x, p](FunctionNode&, const Grads& g) -> Grads {
    // x^0 is constant: p x^(p-1) would be 0 * inf = NaN at x = 0.
    if (p == 0) return {zeros_like(g[0])};
    return {mul(g[0], mul(pow(x, p - 1), p))};
  });
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Sqrt, x);
  autograd::record("sqrt", {x}, {&out}, [](FunctionNode& n, const Grads& g) -> Grads {
    return {div(mul(g[0], 0.5), n.output(0))};
  }, true);
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Abs, x);
  autograd::record("abs", {x}, {&out}, [x](FunctionNode&, const Grads& g) -> Grads { return {mul(g[0], sign(x))}; });
  return out;
}

Tensor square(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Square, x);
  autograd::record("square", {x}, {&out}, [x](FunctionNode&, const Grads& g) -> Grads { return {mul(g[0], mul(x, 2.0))}; });
  return out;
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  GAN_CHECK(lo <= hi, "clamp: lower bound " << lo << " above upper bound " << hi);
  Tensor out = unary_raw(UnaryOp::Clamp, x, lo, hi);
  autograd::record("clamp", {x}, {&out}, [x, lo, hi](FunctionNode&, const Grads& g) -> Grads {
    return {mul(g[0], inside_mask(x, lo, hi))};
  });
  return out;
}

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
  GAN_CHECK(broadcast_shapes(x.shape(), shape, "broadcast_to") == shape,
            "broadcast_to: cannot broadcast " << shape_str(x.shape()) << " to " << shape_str(shape));
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  GAN_BACKEND(x.device(), broadcast_copy, x, out);
  autograd::record("broadcast_to", {x}, {&out}, [xs = x.shape()](FunctionNode&, const Grads& g) -> Grads {
    return {sum_to(g[0], xs)};
  });
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  GAN_CHECK(shape.size() <= x.shape().size() && broadcast_shapes(shape, x.shape(), "sum_to") == x.shape(),
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
