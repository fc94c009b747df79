// Activations and their gradients.
//
// Which backward is fused (one kernel: gradient and mask in one pass) and which is composite:
//   op           backward                                   its own backward (second derivative)
//   leaky_relu   leaky_relu_backward(g, x, slope)  fused    d/dg = leaky_relu_backward(G, x, slope), d/dx = 0
//   relu         leaky_relu_backward(g, x, 0)      fused    as leaky_relu
//   tanh         tanh_backward(g, y)               fused    d/dg = tanh_backward(G, y), d/dy = -2 g y G
//   sigmoid      sigmoid_backward(g, y)            fused    d/dg = sigmoid_backward(G, y), d/dy = g (1 - 2y) G
//   log_sigmoid  g sigmoid(-x)                     composite
//   softplus     g sigmoid(x)                      composite
//   bias_act     bias_act_backward(g, y, act)        fused: the mask from the output y (y > 0 exactly
//                (leaky_relu_backward and its sum    where x + bias > 0, as slope >= 0) and its sum in
//                over all dims but 1, in one pass)   sum_to's order: the unfused ops' bits. Its own
//                                                    backward: reference_vjp of those two ops
// A fused backward is an op of its own, recorded like any other: a plain backward runs its kernel,
// and under create_graph the same call records it, so the second derivative stays fused too.
#include "engine/ops/activation.h"

#include "engine/autograd/autograd.h"
#include "engine/backend/bias_act.h"
#include "engine/backend/dispatch.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double slope) {
  // Linear in g with a mask that is piecewise constant in x: nothing flows to x.
  return binary_op(BinaryOp::LeakyReluBackward, g, x, slope,
                   [](const FunctionNode& n, const Tensor& G, const BinarySaved& s) -> Grads {
                     return {n.needs(0) ? leaky_relu_backward(G, s.y, s.a) : Tensor(), Tensor()};
                   });
}

Tensor tanh_backward(const Tensor& g, const Tensor& y) {
  // g (1 - y^2): d/dg = 1 - y^2, d/dy = -2 g y.
  return binary_op(BinaryOp::TanhBackward, g, y, 0,
                   [](const FunctionNode& n, const Tensor& G, const BinarySaved& s) -> Grads {
                     return {n.needs(0) ? tanh_backward(G, s.y) : Tensor(),
                             n.needs(1) ? mul(mul(s.x, s.y), mul(G, -2.0)) : Tensor()};
                   });
}

Tensor sigmoid_backward(const Tensor& g, const Tensor& y) {
  // g y (1 - y): d/dg = y (1 - y), d/dy = g (1 - 2y).
  return binary_op(BinaryOp::SigmoidBackward, g, y, 0,
                   [](const FunctionNode& n, const Tensor& G, const BinarySaved& s) -> Grads {
                     return {n.needs(0) ? sigmoid_backward(G, s.y) : Tensor(),
                             n.needs(1) ? mul(mul(s.x, G), 1.0 - mul(s.y, 2.0)) : Tensor()};
                   });
}

Tensor leaky_relu(const Tensor& x, double slope) {
  return unary_op(UnaryOp::LeakyRelu, x, slope, 0,
                  [](const Tensor& g, const UnarySaved& s) { return leaky_relu_backward(g, s.x, s.a); });
}

Tensor relu(const Tensor& x) {
  return unary_op(UnaryOp::Relu, x, 0, 0,
                  [](const Tensor& g, const UnarySaved& s) { return leaky_relu_backward(g, s.x, 0.0); });
}

Tensor tanh(const Tensor& x) {
  return unary_op(UnaryOp::Tanh, x, 0, 0, [](const Tensor& g, const UnarySaved& s) { return tanh_backward(g, s.y); });
}

Tensor sigmoid(const Tensor& x) {
  return unary_op(UnaryOp::Sigmoid, x, 0, 0,
                  [](const Tensor& g, const UnarySaved& s) { return sigmoid_backward(g, s.y); });
}

Tensor log_sigmoid(const Tensor& x) {
  // d/dx log sigmoid(x) = 1 - sigmoid(x) = sigmoid(-x)
  return unary_op(UnaryOp::LogSigmoid, x, 0, 0,
                  [](const Tensor& g, const UnarySaved& s) { return mul(g, sigmoid(neg(s.x))); });
}

Tensor softplus(const Tensor& x) {
  return unary_op(UnaryOp::Softplus, x, 0, 0,
                  [](const Tensor& g, const UnarySaved& s) { return mul(g, sigmoid(s.x)); });
}

namespace {

// Every dim of x but dim 1: what a per-channel bias gradient sums over.
std::vector<int64_t> all_but_channel_dim(const Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t k = 2; k < x.dim(); ++k) dims.push_back(k);
  return dims;
}

// What bias_act_backward computes, in differentiable ops: its reference and its second derivative.
std::vector<Tensor> bias_act_backward_reference(const Tensor& g, const Tensor& y, const NormAct& act) {
  Tensor gz = leaky_relu_backward(g, y, act.slope);
  return {gz, sum(gz, all_but_channel_dim(gz))};
}

}  // namespace

std::vector<Tensor> bias_act_backward(const Tensor& g, const Tensor& y, const NormAct& act) {
  check_same_device_dtype("bias_act_backward", {&g, &y});
  GAN_CHECK(g.dim() >= 2 && g.shape() == y.shape(),
            "bias_act_backward: gradient " << g.str() << " and output y " << y.str()
                                           << " must have one shape [N, C, ...]");
  GAN_CHECK(act.kind != NormActKind::None, "bias_act_backward: no activation (the gradient is g itself and "
                                           "its sum; call sum)");
  GAN_CHECK(act.kind != NormActKind::LeakyRelu || act.slope >= 0,
            "bias_act_backward: a leaky_relu mask read from the output needs a slope >= 0, got " << act.slope);
  Tensor dx = Tensor::empty(g.shape(), g.dtype(), g.device());
  Tensor db = Tensor::empty({g.size(1)}, g.dtype(), g.device());
  GAN_BACKEND(g.device(), bias_act_backward, g, y, act, dx, db);
  autograd::record(
      "bias_act_backward", {g, y}, {&dx, &db},
      [g, y, act](FunctionNode& n, const Grads& up) -> Grads {
        auto reference = [act](const Grads& in) { return bias_act_backward_reference(in[0], in[1], act); };
        return reference_vjp(reference, {g, y}, up, {n.needs(0), false});  // the mask is constant in y
      });
  return {dx, db};
}

Tensor bias_act(const Tensor& x, const Tensor& bias, const NormAct& act) {
  check_same_device_dtype("bias_act", {&x, &bias});
  GAN_CHECK(x.dim() >= 2, "bias_act: expected input [N, C] or [N, C, H, W], got " << x.str());
  GAN_CHECK(bias.defined() && bias.shape() == Shape{x.size(1)},
            "bias_act: bias " << (bias.defined() ? bias.str() : std::string("(none)")) << " does not match input "
                              << x.str() << " (expects [" << x.size(1) << "])");
  GAN_CHECK(act.kind != NormActKind::LeakyRelu || act.slope >= 0,
            "bias_act: a fused leaky_relu needs a slope >= 0 (its backward reads the mask from the output), got slope "
                << act.slope << "; use leaky_relu(x + bias)");
  GAN_CHECK(act.kind == NormActKind::LeakyRelu || act.slope == 0,
            "bias_act: only leaky_relu has a slope, got " << act.slope);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  GAN_BACKEND(x.device(), bias_act_forward, x, bias, act, y);
  const bool masked = act.kind != NormActKind::None;
  autograd::record(
      "bias_act", {x, bias}, {&y},
      [act, masked](FunctionNode& n, const Grads& g) -> Grads {
        Grads d(2);
        // Both gradients in one pass. Under create_graph (a penalty's gradient, differentiated
        // again) the unfused ops instead: the fused op's own backward would recompute them.
        if (masked && n.needs(1) && !GradMode::enabled()) {
          d = bias_act_backward(g[0], n.output(0), act);
          if (!n.needs(0)) d[0] = Tensor();
          return d;
        }
        const Tensor gz = masked ? leaky_relu_backward(g[0], n.output(0), act.slope) : g[0];
        if (n.needs(0)) d[0] = gz;
        if (n.needs(1)) d[1] = sum(gz, all_but_channel_dim(gz));
        return d;
      },
      /*save_outputs=*/masked);
  return y;
}

}  // namespace gan
