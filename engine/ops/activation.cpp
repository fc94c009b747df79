// Activations. A plain backward uses one fused kernel per rule (gradient and mask in one pass);
// under create_graph the same rule is written in differentiable ops so it can be differentiated.
#include "engine/ops/activation.h"

#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor out = unary_raw(UnaryOp::LeakyRelu, x, slope);
  autograd::record("leaky_relu", {x}, {&out}, [x, slope](FunctionNode&, const Grads& g) -> Grads {
    if (!GradMode::enabled()) return {binary_raw(BinaryOp::LeakyReluBackward, g[0], x, "leaky_relu backward", slope)};
    return {mul(g[0], leaky_step(x, slope))};
  });
  return out;
}

Tensor relu(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Relu, x);
  autograd::record("relu", {x}, {&out}, [x](FunctionNode&, const Grads& g) -> Grads {
    if (!GradMode::enabled()) return {binary_raw(BinaryOp::LeakyReluBackward, g[0], x, "relu backward", 0.0)};
    return {mul(g[0], leaky_step(x, 0.0))};
  });
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Tanh, x);
  autograd::record("tanh", {x}, {&out}, [](FunctionNode& n, const Grads& g) -> Grads {
    Tensor y = n.output(0);
    if (!GradMode::enabled()) return {binary_raw(BinaryOp::TanhBackward, g[0], y, "tanh backward")};
    return {mul(g[0], 1.0 - square(y))};
  }, true);
  return out;
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Sigmoid, x);
  autograd::record("sigmoid", {x}, {&out}, [](FunctionNode& n, const Grads& g) -> Grads {
    Tensor y = n.output(0);
    if (!GradMode::enabled()) return {binary_raw(BinaryOp::SigmoidBackward, g[0], y, "sigmoid backward")};
    return {mul(g[0], mul(y, 1.0 - y))};
  }, true);
  return out;
}

Tensor log_sigmoid(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::LogSigmoid, x);
  // d/dx log sigmoid(x) = 1 - sigmoid(x) = sigmoid(-x)
  autograd::record("log_sigmoid", {x}, {&out}, [x](FunctionNode&, const Grads& g) -> Grads {
    return {mul(g[0], sigmoid(neg(x)))};
  });
  return out;
}

Tensor softplus(const Tensor& x) {
  Tensor out = unary_raw(UnaryOp::Softplus, x);
  autograd::record("softplus", {x}, {&out}, [x](FunctionNode&, const Grads& g) -> Grads {
    return {mul(g[0], sigmoid(x))};
  });
  return out;
}

}  // namespace gan
