// Shared plumbing for engine/ops/*.cpp: allocate an output and call a backend primitive.
#pragma once
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/elementwise.h"

namespace gan::detail {

using autograd::FunctionNode;
using Grads = std::vector<Tensor>;

inline Tensor unary_raw(UnaryOp op, const Tensor& x, double a = 0, double b = 0) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  GAN_BACKEND(x.device(), unary, op, x, out, a, b);
  return out;
}

inline Tensor binary_raw(BinaryOp op, const Tensor& x, const Tensor& y, const char* name, double a = 0) {
  check_same_device_dtype(name, {&x, &y});
  Shape s = broadcast_shapes(x.shape(), y.shape(), name);
  Tensor out = Tensor::empty(s, x.dtype(), x.device());
  GAN_BACKEND(x.device(), binary, op, x, y, out, a);
  return out;
}

}  // namespace gan::detail
