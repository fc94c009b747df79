// The element-wise op table: every unary and binary map of the engine, declared once.
//
// Each row names an op, says what its gradient needs, and gives its formula as one expression
// that compiles for the host and the device. From the rows come
//   - the op enums UnaryOp / BinaryOp (the engine's and the kernels' alike: one enum),
//   - their printable names (autograd node names, error messages),
//   - the functors UnaryFn<op, T> / BinaryFn<op, T> that the CPU loops (engine/cpu/elementwise.cpp)
//     and the CUDA kernels (kernels/elementwise.cu) both run, so a formula is written once,
//   - visit_unary / visit_binary, the one switch from a run-time op to its functor, used by both.
// The differentiable ops and their gradient rules are in engine/ops/elementwise.cpp and
// engine/ops/activation.cpp; "needs" below is what those rules keep from the forward pass.
//
// Formulas see the element(s) v (unary) or u, v (binary), the op parameters a, b (unary) or a
// (binary), and the element type T. NaN passes through every map (relu(NaN) = NaN: a diverged
// layer must not be hidden), which is why relu is v < 0 ? 0 : v and not v > 0 ? v : 0.
//
// Plain C++ and CUDA both compile this header; it includes nothing of the engine.
#pragma once
#include "kernels/host_device.h"

// clang-format off
// What a unary op's gradient reads: Nothing (only the upstream gradient), Input (x), Output (y),
// or None (piecewise constant: zero gradient almost everywhere, the op is not recorded).
//
//   X(Enum,       name,          needs,  y = f(v; a, b))
#define GAN_UNARY_OPS(X)                                                                         \
  X(Neg,         "neg",         Nothing, -v)                                                     \
  X(Exp,         "exp",         Output,  hd::exp(v))                                             \
  X(Log,         "log",         Input,   hd::log(v))                                             \
  X(Sqrt,        "sqrt",        Output,  hd::sqrt(v))                                            \
  X(Abs,         "abs",         Input,   hd::abs(v))                                             \
  X(Sign,        "sign",        None,    T((v > T(0)) - (v < T(0))))                             \
  X(Square,      "square",      Input,   v * v)                                                  \
  X(Reciprocal,  "reciprocal",  Output,  T(1) / v)                                               \
  X(Relu,        "relu",        Input,   v < T(0) ? T(0) : v)                                    \
  X(Tanh,        "tanh",        Output,  hd::tanh(v))                                            \
  X(Sigmoid,     "sigmoid",     Output,  T(1) / (T(1) + hd::exp(-v)))                            \
  X(LogSigmoid,  "log_sigmoid", Input,   hd::min(v, T(0)) - hd::log1p(hd::exp(-hd::abs(v))))     \
  X(Softplus,    "softplus",    Input,   hd::max(v, T(0)) + hd::log1p(hd::exp(-hd::abs(v))))     \
  X(AddScalar,   "add_scalar",  Nothing, v + a)                                                  \
  X(MulScalar,   "mul_scalar",  Nothing, v * a)                                                  \
  X(Pow,         "pow",         Input,   hd::pow(v, a))                                          \
  X(Clamp,       "clamp",       Input,   hd::min(hd::max(v, a), b))                              \
  X(LeakyRelu,   "leaky_relu",  Input,   v > T(0) ? v : a * v)                                   \
  X(LeakyStep,   "leaky_step",  None,    v > T(0) ? T(1) : a)  /* leaky_relu's derivative */     \
  X(InsideMask,  "inside_mask", None,    (v > a && v < b) ? T(1) : T(0))  /* clamp's */

// What a binary op's gradient reads: Nothing (only the upstream gradient) or Inputs (u and v).
// The three *Backward rows are the fused first derivatives of the activations: u is the
// incoming gradient, v the forward input (leaky_relu, relu with a = 0) or output (tanh, sigmoid).
//
//   X(Enum,               name,                  needs,  z = f(u, v; a))
#define GAN_BINARY_OPS(X)                                                                        \
  X(Add,                "add",                 Nothing, u + v)                                   \
  X(Sub,                "sub",                 Nothing, u - v)                                   \
  X(Mul,                "mul",                 Inputs,  u * v)                                   \
  X(Div,                "div",                 Inputs,  u / v)                                   \
  X(LeakyReluBackward,  "leaky_relu_backward", Inputs,  v > T(0) ? u : a * u)                    \
  X(TanhBackward,       "tanh_backward",       Inputs,  u * (T(1) - v * v))                      \
  X(SigmoidBackward,    "sigmoid_backward",    Inputs,  u * v * (T(1) - v))
// clang-format on

namespace gan::kernels {

enum class GradNeeds { Nothing, Input, Output, Inputs, None };

#define GAN_OP_ENUM(Enum, name, needs, formula) Enum,
enum class UnaryOp { GAN_UNARY_OPS(GAN_OP_ENUM) };
enum class BinaryOp { GAN_BINARY_OPS(GAN_OP_ENUM) };
#undef GAN_OP_ENUM

// Every op, in table order (tests walk them to check that each has a case).
#define GAN_UNARY_VALUE(Enum, name, needs, formula) UnaryOp::Enum,
#define GAN_BINARY_VALUE(Enum, name, needs, formula) BinaryOp::Enum,
inline constexpr UnaryOp kAllUnaryOps[] = {GAN_UNARY_OPS(GAN_UNARY_VALUE)};
inline constexpr BinaryOp kAllBinaryOps[] = {GAN_BINARY_OPS(GAN_BINARY_VALUE)};
#undef GAN_UNARY_VALUE
#undef GAN_BINARY_VALUE

#define GAN_OP_NAME(Enum, name, needs, formula) \
  case Op::Enum: return name;
inline const char* op_name(UnaryOp op) {
  using Op = UnaryOp;
  switch (op) { GAN_UNARY_OPS(GAN_OP_NAME) }
  return "unknown unary op";
}
inline const char* op_name(BinaryOp op) {
  using Op = BinaryOp;
  switch (op) { GAN_BINARY_OPS(GAN_OP_NAME) }
  return "unknown binary op";
}
#undef GAN_OP_NAME

#define GAN_OP_NEEDS(Enum, name, needs, formula) \
  case Op::Enum: return GradNeeds::needs;
inline GradNeeds grad_needs(UnaryOp op) {
  using Op = UnaryOp;
  switch (op) { GAN_UNARY_OPS(GAN_OP_NEEDS) }
  return GradNeeds::None;
}
inline GradNeeds grad_needs(BinaryOp op) {
  using Op = BinaryOp;
  switch (op) { GAN_BINARY_OPS(GAN_OP_NEEDS) }
  return GradNeeds::None;
}
#undef GAN_OP_NEEDS

// y = f(v) for op K, parameters a and b held by value: a loop that copies the functor keeps them
// in registers (see the restrict note in engine/cpu/elementwise.cpp).
template <UnaryOp K, class T> struct UnaryFn;
template <BinaryOp K, class T> struct BinaryFn;

#define GAN_UNARY_FN(Enum, name, needs, formula)                  \
  template <class T> struct UnaryFn<UnaryOp::Enum, T> {           \
    T a, b;                                                       \
    GAN_HD T operator()(T v) const { return formula; }            \
  };
#define GAN_BINARY_FN(Enum, name, needs, formula)                 \
  template <class T> struct BinaryFn<BinaryOp::Enum, T> {         \
    T a;                                                          \
    GAN_HD T operator()(T u, T v) const { return formula; }       \
  };
GAN_UNARY_OPS(GAN_UNARY_FN)
GAN_BINARY_OPS(GAN_BINARY_FN)
#undef GAN_UNARY_FN
#undef GAN_BINARY_FN

// visit(UnaryFn<op, T>{a, b}): the run-time op becomes a compile-time functor, once per call, so
// the loop the visitor runs is specialised to one formula (both backends dispatch through these).
// Returns what visit returns; a value outside the table returns on_unknown.
#define GAN_VISIT_UNARY(Enum, name, needs, formula) \
  case UnaryOp::Enum: return visit(UnaryFn<UnaryOp::Enum, T>{a, b});
template <class T, class Visit, class R>
R visit_unary(UnaryOp op, T a, T b, Visit&& visit, R on_unknown) {
  switch (op) { GAN_UNARY_OPS(GAN_VISIT_UNARY) }
  return on_unknown;
}
#undef GAN_VISIT_UNARY

#define GAN_VISIT_BINARY(Enum, name, needs, formula) \
  case BinaryOp::Enum: return visit(BinaryFn<BinaryOp::Enum, T>{a});
template <class T, class Visit, class R>
R visit_binary(BinaryOp op, T a, Visit&& visit, R on_unknown) {
  switch (op) { GAN_BINARY_OPS(GAN_VISIT_BINARY) }
  return on_unknown;
}
#undef GAN_VISIT_BINARY

}  // namespace gan::kernels
