#include "engine/ops/op_helpers.h"

#include "engine/backend/dispatch.h"
#include "kernels/class_ids.h"

namespace gan::detail {

using kernels::GradNeeds;

Tensor unary_raw(UnaryOp op, const Tensor& x, double a, double b) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  GAN_BACKEND(x.device(), unary, op, x, out, a, b);
  return out;
}

Tensor binary_raw(BinaryOp op, const Tensor& x, const Tensor& y, double a) {
  const char* name = kernels::op_name(op);
  check_same_device_dtype(name, {&x, &y});
  Shape s = broadcast_shapes(x.shape(), y.shape(), name);
  Tensor out = Tensor::empty(s, x.dtype(), x.device());
  GAN_BACKEND(x.device(), binary, op, x, y, out, a);
  return out;
}

Tensor unary_op(UnaryOp op, const Tensor& x, double a, double b, UnaryRule rule) {
  Tensor out = unary_raw(op, x, a, b);
  const GradNeeds needs = kernels::grad_needs(op);
  if (needs == GradNeeds::None) return out;
  // Holding x only when the rule reads it lets a chain of maps free its intermediates.
  Tensor kept_x = needs == GradNeeds::Input ? x : Tensor();
  autograd::record(
      kernels::op_name(op), {x}, {&out},
      [rule, kept_x, a, b, needs](FunctionNode& n, const Grads& g) -> Grads {
        UnarySaved s{kept_x, needs == GradNeeds::Output ? n.output(0) : Tensor(), a, b};
        return {rule(g[0], s)};
      },
      /*save_outputs=*/needs == GradNeeds::Output);
  return out;
}

Tensor binary_op(BinaryOp op, const Tensor& x, const Tensor& y, double a, BinaryRule rule) {
  Tensor out = binary_raw(op, x, y, a);
  const bool keep = kernels::grad_needs(op) == GradNeeds::Inputs;
  BinarySaved saved{keep ? x : Tensor(), keep ? y : Tensor(), a};
  autograd::record(kernels::op_name(op), {x, y}, {&out}, [rule, saved](FunctionNode& n, const Grads& g) -> Grads {
    return rule(n, g[0], saved);
  });
  return out;
}

void check_class_ids(const char* op, const char* what, const Tensor& ids, int64_t classes, const std::string& context) {
  GAN_CHECK(ids.dim() == 1, op << ": " << what << " must be 1-D class ids [N], got " << ids.str() << context);
  if (ids.is_cuda()) return;
  GAN_DISPATCH_FLOAT(ids.dtype(), op, [&] {
    const scalar_t* p = ids.data<scalar_t>();
    for (int64_t i = 0; i < ids.numel(); ++i)
      GAN_CHECK(hd::class_id(p[i], classes) >= 0, op << ": " << what << "[" << i << "] = " << p[i]
                                                      << " is not a class id: expected an integer in [0, " << classes
                                                      << ")" << context);
  });
}

}  // namespace gan::detail
