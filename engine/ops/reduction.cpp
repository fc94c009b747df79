// Reductions: all are sum_to (whose gradient is broadcast_to) plus views and scaling.
// Fused backward: none; every rule is composite (broadcast_to, mul, div).
#include "engine/ops/reduction.h"

#include <algorithm>

#include "engine/backend/dispatch.h"
#include "engine/backend/reduction.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

Tensor sum(const Tensor& x) { return sum_to(x, Shape{}); }

static Shape reduced_shape(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, int64_t* count,
                           const char* op) {
  std::vector<bool> red(x.dim(), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    GAN_CHECK(!red[w], op << ": dimension " << d << " given twice for " << x.str());
    red[w] = true;
  }
  Shape keep = x.shape(), squeezed;
  *count = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (red[d]) {
      *count *= x.shape()[d];
      keep[d] = 1;
    } else {
      squeezed.push_back(x.shape()[d]);
    }
  }
  return keepdim ? keep : squeezed;
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  int64_t count;
  Shape target = reduced_shape(x, dims, true, &count, "sum");
  Tensor s = sum_to(x, target);
  return keepdim ? s : s.reshape(reduced_shape(x, dims, false, &count, "sum"));
}

Tensor mean(const Tensor& x) {
  GAN_CHECK(x.numel() > 0, "mean: empty tensor " << x.str());
  return mul(sum(x), 1.0 / static_cast<double>(x.numel()));
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  int64_t count;
  reduced_shape(x, dims, keepdim, &count, "mean");
  GAN_CHECK(count > 0, "mean: reducing over an empty dimension of " << x.str());
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Tensor per_sample_norm(const Tensor& x, double eps) {
  GAN_CHECK(x.dim() >= 1, "per_sample_norm: needs a batch dimension, got " << x.str());
  GAN_CHECK(eps >= 0, "per_sample_norm: eps " << eps << " is negative");
  Tensor out = Tensor::empty({x.shape()[0]}, x.dtype(), x.device());
  GAN_BACKEND(x.device(), per_sample_norm, x, out, eps);
  // d||x||/dx = x / ||x||; written with ops so the penalty's double backward goes through it.
  autograd::record("per_sample_norm", {x}, {&out}, [x](FunctionNode& n, const Grads& g) -> Grads {
    Shape col(x.dim(), 1);
    col[0] = x.shape()[0];
    return {mul(x, div(g[0], n.output(0)).reshape(col))};
  }, true);
  return out;
}

}  // namespace gan
