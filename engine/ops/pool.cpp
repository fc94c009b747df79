// Pooling and resize. Backward rules, each another op of this file:
//   op                         backward (d/d its tensor input)   its own backward
//   max_pool2d_at(key, src)    max_pool2d_backward(g, key)       max_pool2d_at(key, G)
//   max_pool2d_backward(g, k)  max_pool2d_at(key, G)             max_pool2d_backward(G', key)
//   avg_pool2d                 avg_pool2d_backward               avg_pool2d
//   resize_bilinear            resize_bilinear_backward          resize_bilinear
// Each pair is a linear map and its adjoint, so the rules close at every order. The argmax key is
// never differentiated: the maps are piecewise constant in it (zero derivative almost everywhere).
#include "engine/ops/pool.h"

#include <sstream>
#include <string>

#include "engine/backend/dispatch.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"
#include "kernels/pool_index.h"

namespace gan {

using detail::FunctionNode;
using detail::Grads;

namespace {

std::string params_str(const Pool2dParams& p) {
  std::ostringstream os;
  os << "kernel " << p.kernel_h << "x" << p.kernel_w << ", stride " << p.stride_h << "x" << p.stride_w
     << ", padding " << p.pad_h << "x" << p.pad_w;
  return os.str();
}

void check_image(const char* op, const Tensor& x) {
  GAN_CHECK(x.defined(), op << ": input undefined");
  GAN_CHECK(x.dim() == 4, op << ": expected an NCHW input [N, C, H, W], got " << x.str());
}

// Checks the window walk over an h x w plane and returns the output shape.
Shape pool_out_shape(const char* op, const Tensor& x, const Pool2dParams& p, int64_t h, int64_t w) {
  GAN_CHECK(p.kernel_h > 0 && p.kernel_w > 0 && p.stride_h > 0 && p.stride_w > 0 && p.pad_h >= 0 && p.pad_w >= 0,
            op << ": kernel and stride must be positive and padding non-negative, got " << params_str(p));
  GAN_CHECK(2 * p.pad_h <= p.kernel_h && 2 * p.pad_w <= p.kernel_w,
            op << ": padding must be at most half the kernel, got " << params_str(p));
  GAN_CHECK(h + 2 * p.pad_h >= p.kernel_h && w + 2 * p.pad_w >= p.kernel_w,
            op << ": " << params_str(p) << " does not fit a " << h << "x" << w << " input " << x.str());
  return {x.size(0), x.size(1), hd::pool_out_size(h, p.kernel_h, p.stride_h, p.pad_h),
          hd::pool_out_size(w, p.kernel_w, p.stride_w, p.pad_w)};
}

}  // namespace

Tensor max_pool2d_at(const Tensor& key, const Tensor& src, const Pool2dParams& p) {
  check_image("max_pool2d", key);
  check_same_device_dtype("max_pool2d", {&key, &src});
  check_same_shape("max_pool2d", key, src);
  const Shape os = pool_out_shape("max_pool2d", key, p, key.size(2), key.size(3));
  Tensor out = Tensor::empty(os, key.dtype(), key.device());
  if (out.numel() > 0) GAN_BACKEND(key.device(), max_pool2d_gather, key, src, p, out);
  Tensor k = key.detach();
  autograd::record("max_pool2d", {src}, {&out}, [k, p](FunctionNode&, const Grads& g) -> Grads {
    return {max_pool2d_backward(g[0], k, p)};
  });
  return out;
}

Tensor max_pool2d(const Tensor& x, const Pool2dParams& p) { return max_pool2d_at(x, x, p); }

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return max_pool2d(x, Pool2dParams::make(kernel, stride, padding));
}

Tensor max_pool2d_backward(const Tensor& g, const Tensor& x, const Pool2dParams& p) {
  check_image("max_pool2d_backward", x);
  check_image("max_pool2d_backward", g);
  check_same_device_dtype("max_pool2d_backward", {&g, &x});
  const Shape os = pool_out_shape("max_pool2d_backward", x, p, x.size(2), x.size(3));
  GAN_CHECK(g.shape() == os, "max_pool2d_backward: gradient " << g.str() << " does not match the output "
                                                              << shape_str(os) << " of input " << x.str());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) GAN_BACKEND(x.device(), max_pool2d_scatter, x, g, p, out);
  Tensor k = x.detach();
  autograd::record("max_pool2d_backward", {g}, {&out}, [k, p](FunctionNode&, const Grads& G) -> Grads {
    return {max_pool2d_at(k, G[0], p)};
  });
  return out;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p) {
  check_image("avg_pool2d", x);
  const Shape os = pool_out_shape("avg_pool2d", x, p, x.size(2), x.size(3));
  Tensor out = Tensor::empty(os, x.dtype(), x.device());
  if (out.numel() > 0) GAN_BACKEND(x.device(), avg_pool2d, x, p, out);
  const int64_t h = x.size(2), w = x.size(3);
  autograd::record("avg_pool2d", {x}, {&out}, [p, h, w](FunctionNode&, const Grads& g) -> Grads {
    return {avg_pool2d_backward(g[0], p, h, w)};
  });
  return out;
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool count_include_pad) {
  return avg_pool2d(x, Pool2dParams::make(kernel, stride, padding, count_include_pad));
}

Tensor avg_pool2d_backward(const Tensor& g, const Pool2dParams& p, int64_t in_h, int64_t in_w) {
  check_image("avg_pool2d_backward", g);
  GAN_CHECK(in_h > 0 && in_w > 0, "avg_pool2d_backward: input size " << in_h << "x" << in_w << " is empty");
  const Shape os = pool_out_shape("avg_pool2d_backward", g, p, in_h, in_w);
  GAN_CHECK(g.shape() == os, "avg_pool2d_backward: gradient " << g.str() << " does not match the output "
                                                              << shape_str(os) << " of a " << in_h << "x" << in_w
                                                              << " input");
  Tensor out = Tensor::empty({g.size(0), g.size(1), in_h, in_w}, g.dtype(), g.device());
  if (out.numel() > 0) GAN_BACKEND(g.device(), avg_pool2d_backward, g, p, out);
  autograd::record("avg_pool2d_backward", {g}, {&out}, [p](FunctionNode&, const Grads& G) -> Grads {
    return {avg_pool2d(G[0], p)};
  });
  return out;
}

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_image("resize_bilinear", x);
  GAN_CHECK(out_h > 0 && out_w > 0, "resize_bilinear: output size " << out_h << "x" << out_w << " is empty");
  GAN_CHECK(x.size(2) > 0 && x.size(3) > 0, "resize_bilinear: input " << x.str() << " has no pixels");
  Tensor out = Tensor::empty({x.size(0), x.size(1), out_h, out_w}, x.dtype(), x.device());
  if (out.numel() > 0) GAN_BACKEND(x.device(), resize_bilinear, x, out);
  const int64_t h = x.size(2), w = x.size(3);
  autograd::record("resize_bilinear", {x}, {&out}, [h, w](FunctionNode&, const Grads& g) -> Grads {
    return {resize_bilinear_backward(g[0], h, w)};
  });
  return out;
}

Tensor resize_bilinear_backward(const Tensor& g, int64_t in_h, int64_t in_w) {
  check_image("resize_bilinear_backward", g);
  GAN_CHECK(in_h > 0 && in_w > 0 && g.size(2) > 0 && g.size(3) > 0,
            "resize_bilinear_backward: input size " << in_h << "x" << in_w << " or gradient " << g.str()
                                                    << " is empty");
  Tensor out = Tensor::empty({g.size(0), g.size(1), in_h, in_w}, g.dtype(), g.device());
  if (out.numel() > 0) GAN_BACKEND(g.device(), resize_bilinear_backward, g, out);
  const int64_t oh = g.size(2), ow = g.size(3);
  autograd::record("resize_bilinear_backward", {g}, {&out}, [oh, ow](FunctionNode&, const Grads& G) -> Grads {
    return {resize_bilinear(G[0], oh, ow)};
  });
  return out;
}

}  // namespace gan
