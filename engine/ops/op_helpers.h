// Shared plumbing for engine/ops/*.cpp: allocate an output and call a backend primitive, and the
// two recorders every element-wise op goes through.
//
// unary_op / binary_op run a map of the element-wise table (kernels/elementwise_ops.h) and record
// its gradient rule, keeping from the forward pass what the table says the rule needs and nothing
// else. A binary rule returns gradients shaped like the (broadcast) output; the autograd engine
// sums each one down to its input's shape.
#pragma once
#include <string>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/elementwise.h"

namespace gan::detail {

using autograd::FunctionNode;
using Grads = std::vector<Tensor>;

// The map alone, not recorded.
Tensor unary_raw(UnaryOp op, const Tensor& x, double a = 0, double b = 0);
Tensor binary_raw(BinaryOp op, const Tensor& x, const Tensor& y, double a = 0);

// What a unary rule gets: the upstream gradient g, the forward input x or output y where the table
// says the gradient needs it (undefined otherwise), and the op's parameters.
struct UnarySaved {
  Tensor x, y;
  double a = 0, b = 0;
};
using UnaryRule = Tensor (*)(const Tensor& g, const UnarySaved& s);

// What a binary rule gets: both inputs where the table says the gradient needs them.
struct BinarySaved {
  Tensor x, y;
  double a = 0;
};
// {d/dx, d/dy}, each undefined where node input i needs none (n.needs(i)) or is zero.
using BinaryRule = Grads (*)(const FunctionNode& n, const Tensor& g, const BinarySaved& s);

// y = op(x; a, b), recorded with `rule` (ops marked None in the table are never recorded).
Tensor unary_op(UnaryOp op, const Tensor& x, double a, double b, UnaryRule rule);
// z = op(x, y; a) with broadcasting, recorded with `rule`.
Tensor binary_op(BinaryOp op, const Tensor& x, const Tensor& y, double a, BinaryRule rule);

// Class ids (embedding indices, cross-entropy targets) live in float tensors. Throws naming `op`,
// the offending position and value unless `ids` is 1-D and every value is an integer in
// [0, classes); `what` names the tensor ("indices", "targets") and `context` (appended) what the
// classes belong to. Values are checked on the CPU only: reading CUDA ids would sync the host, so
// there the kernels write NaN for a bad id instead (engine/backend/embedding.h).
void check_class_ids(const char* op, const char* what, const Tensor& ids, int64_t classes, const std::string& context);

}  // namespace gan::detail
