// Element-wise primitives: fills, casts, random fills, unary maps and broadcasting binary maps.
#pragma once
#include <cstdint>

#include "engine/backend/dispatch.h"
#include "engine/core/tensor.h"

namespace gan {

// Unary maps y = f(x; a, b). Parameters a, b are used by the ops that name them.
enum class UnaryOp {
  Neg, Exp, Log, Sqrt, Abs, Sign, Square, Reciprocal,
  Relu, Tanh, Sigmoid, LogSigmoid, Softplus,
  AddScalar,   // x + a
  MulScalar,   // x * a
  Pow,         // x ^ a
  Clamp,       // min(max(x, a), b)
  LeakyRelu,   // x > 0 ? x : a x
  LeakyStep,   // x > 0 ? 1 : a        (the derivative of LeakyRelu; a = 0 for Relu)
  InsideMask,  // a < x < b ? 1 : 0   (the derivative of Clamp)
};

// Binary maps z = f(x, y; a) with NumPy broadcasting of x and y into z's shape.
enum class BinaryOp {
  Add, Sub, Mul, Div,
  LeakyReluBackward,  // x = incoming gradient, y = forward input: x * (y > 0 ? 1 : a)
  TanhBackward,       // x = incoming gradient, y = forward output: x * (1 - y^2)
  SigmoidBackward,    // x = incoming gradient, y = forward output: x * y (1 - y)
};

}  // namespace gan

#define GAN_ELEMENTWISE_PRIMITIVES                                                               \
  void fill(Tensor& out, double value);                                                          \
  void arange(Tensor& out);                                                                      \
  /* out[i] = normal(seed, draw, i) * std + mean  (Philox: identical on every backend) */       \
  void random_normal(Tensor& out, uint64_t seed, uint64_t draw, double mean, double std);        \
  void random_uniform(Tensor& out, uint64_t seed, uint64_t draw, double lo, double hi);          \
  /* same device, any dtypes, same element count */                                              \
  void cast_copy(const Tensor& src, Tensor& dst);                                                \
  void unary(UnaryOp op, const Tensor& x, Tensor& out, double a, double b);                      \
  void binary(BinaryOp op, const Tensor& x, const Tensor& y, Tensor& out, double a);             \
  /* out += x, same shape (gradient accumulation, optimizer buffers) */                          \
  void add_inplace(Tensor& out, const Tensor& x, double alpha);

GAN_DECLARE_PRIMITIVES(GAN_ELEMENTWISE_PRIMITIVES)
