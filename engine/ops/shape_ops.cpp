// Data movement ops: permute, cat, slice and slice's gradient pad_slice.
// Fused backward: none; each rule is another data movement op (permute, slice, pad_slice).
#include "engine/ops/shape_ops.h"

#include "engine/backend/dispatch.h"
#include "engine/backend/reduction.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  GAN_CHECK(static_cast<int64_t>(dims.size()) == x.dim(),
            "permute: " << dims.size() << " dims given for a tensor of rank " << x.dim());
  std::vector<int64_t> perm(dims.size()), inverse(dims.size(), -1);
  Shape s(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    perm[i] = wrap_dim(dims[i], x.dim(), "permute");
    GAN_CHECK(inverse[perm[i]] < 0, "permute: dimension " << dims[i] << " repeated");
    inverse[perm[i]] = static_cast<int64_t>(i);
    s[i] = x.shape()[perm[i]];
  }
  Tensor out = Tensor::empty(s, x.dtype(), x.device());
  GAN_BACKEND(x.device(), permute, x, out, perm);
  autograd::record("permute", {x}, {&out}, [inverse](FunctionNode&, const Grads& g) -> Grads {
    return {permute(g[0], inverse)};
  });
  return out;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  std::vector<int64_t> dims(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
  std::swap(dims[wrap_dim(d0, x.dim(), "transpose")], dims[wrap_dim(d1, x.dim(), "transpose")]);
  return permute(x, dims);
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  GAN_CHECK(!xs.empty(), "cat: no tensors given");
  const Tensor& first = xs[0];
  int64_t d = wrap_dim(dim, first.dim(), "cat");
  Shape s = first.shape();
  s[d] = 0;
  for (const auto& t : xs) {
    check_same_device_dtype("cat", {&first, &t});
    GAN_CHECK(t.dim() == first.dim(), "cat: ranks differ: " << shape_str(first.shape()) << " and " << shape_str(t.shape()));
    for (int64_t i = 0; i < t.dim(); ++i)
      GAN_CHECK(i == d || t.shape()[i] == first.shape()[i],
                "cat: shapes " << shape_str(first.shape()) << " and " << shape_str(t.shape()) << " differ outside dim " << d);
    s[d] += t.shape()[d];
  }
  Tensor out = Tensor::empty(s, first.dtype(), first.device());
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const auto& t : xs) {
    starts.push_back(at);
    GAN_BACKEND(out.device(), slice_copy, t, out, d, 0, at, t.shape()[d]);
    at += t.shape()[d];
  }
  std::vector<int64_t> sizes;
  for (const auto& t : xs) sizes.push_back(t.shape()[d]);
  autograd::record("cat", xs, {&out}, [d, starts, sizes](FunctionNode& n, const Grads& g) -> Grads {
    Grads r;
    for (size_t i = 0; i < starts.size(); ++i)
      r.push_back(n.needs(i) ? slice(g[0], d, starts[i], starts[i] + sizes[i]) : Tensor());
    return r;
  });
  return out;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end) {
  int64_t d = wrap_dim(dim, x.dim(), "slice");
  GAN_CHECK(0 <= start && start <= end && end <= x.shape()[d],
            "slice: range [" << start << ", " << end << ") out of bounds for dim " << d << " of " << x.str());
  Shape s = x.shape();
  s[d] = end - start;
  Tensor out = Tensor::empty(s, x.dtype(), x.device());
  GAN_BACKEND(x.device(), slice_copy, x, out, d, start, 0, end - start);
  autograd::record("slice", {x}, {&out}, [xs = x.shape(), d, start](FunctionNode&, const Grads& g) -> Grads {
    return {pad_slice(g[0], xs, d, start)};
  });
  return out;
}

Tensor pad_slice(const Tensor& x, const Shape& shape, int64_t dim, int64_t start) {
  int64_t d = wrap_dim(dim, x.dim(), "pad_slice");
  // The copy below writes x's extent along d at `start`: anything else would write out of bounds.
  bool fits = static_cast<int64_t>(shape.size()) == x.dim() && start >= 0 && start + x.shape()[d] <= shape[d];
  for (int64_t i = 0; fits && i < x.dim(); ++i) fits = i == d || shape[i] == x.shape()[i];
  GAN_CHECK(fits, "pad_slice: cannot place " << shape_str(x.shape()) << " at " << start << " along dim " << d
                                             << " of " << shape_str(shape));
  Tensor out = Tensor::zeros(shape, x.dtype(), x.device());
  GAN_BACKEND(x.device(), slice_copy, x, out, d, 0, start, x.shape()[d]);
  autograd::record("pad_slice", {x}, {&out}, [d, start, len = x.shape()[d]](FunctionNode&, const Grads& g) -> Grads {
    return {slice(g[0], d, start, start + len)};
  });
  return out;
}

}  // namespace gan
