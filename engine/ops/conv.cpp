// 2-D convolutions and their gradients, every one of them a differentiable op.
//
// Notation (conv2d view): x[N, Ci, H, W], w[Co, Ci, kH, kW], y = conv2d(x, w)[N, Co, Ho, Wo],
//   y[n, o, oh, ow] = sum_{c, i, j} w[o, c, i, j] x[n, c, oh s - p + i, ow s - p + j].
// y is bilinear in (x, w). Write <a, b> for the sum of a * b over all elements. For any gy shaped
// like y, the adjoint identities that define the other three ops are
//   <gy, conv2d(x, w)> = <conv_transpose2d(gy, w), x>      (conv_transpose2d is conv2d's adjoint in x)
//                      = <conv2d_weight_grad(x, gy), w>    (the weight gradient is its adjoint in w)
// and, for conv_transpose2d's own weight layout (x now [N, Ci', H, W], w[Ci', Co', kH, kW]),
//   <gy, conv_transpose2d(x, w)> = <conv_transpose2d_weight_grad(x, gy), w>.
//
// Backward rules, read off those identities (G is the upstream gradient of each op's output):
//   y = conv2d(x, w) + b:            dx = conv_transpose2d(G, w)     dw = conv2d_weight_grad(x, G)
//                                    db = sum of G over N, H, W
//   y = conv_transpose2d(x, w) + b:  dx = conv2d(G, w)               dw = conv_transpose2d_weight_grad(x, G)
//                                    db = sum of G over N, H, W
//   dw = conv2d_weight_grad(x, gy):  <G, dw> = <gy, conv2d(x, G)>, bilinear in (x, gy), so
//                                    d/dgy = conv2d(x, G)            d/dx = conv_transpose2d(gy, G)
//   dw = conv_transpose2d_weight_grad(x, gy):  <G, dw> = <gy, conv_transpose2d(x, G)>, so
//                                    d/dgy = conv_transpose2d(x, G)  d/dx = conv2d(gy, G)
// Fused backward: none (composite rules only). Every right-hand side is one of these four ops (and
// a sum for the bias), so gradients of gradients come out to any order:
// the WGAN-GP penalty differentiates dD/dx (a conv_transpose2d of the upstream gradient with w)
// with respect to w, which lands in the rules of conv_transpose2d.
//
// Strides make conv2d's output size a floor: inputs of H and H + r (r < s) give the same Ho. When
// conv_transpose2d maps back it must be told which one; that is its output_padding, and the
// rules pass r = (H + 2p - k) mod s so that dx has exactly x's shape.
#include "engine/ops/conv.h"

#include <sstream>

#include "engine/backend/bias_act.h"
#include "engine/backend/conv.h"
#include "engine/backend/dispatch.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

namespace {

std::string params_str(const Conv2dParams& p, bool with_out_pad) {
  std::ostringstream os;
  os << "stride (" << p.stride_h << ", " << p.stride_w << "), padding (" << p.pad_h << ", " << p.pad_w << ")";
  if (with_out_pad) os << ", output_padding (" << p.out_pad_h << ", " << p.out_pad_w << ")";
  return os.str();
}

void check_params(const char* op, const Conv2dParams& p, bool transposed) {
  GAN_CHECK(p.stride_h > 0 && p.stride_w > 0, op << ": stride must be positive, got " << params_str(p, transposed));
  GAN_CHECK(p.pad_h >= 0 && p.pad_w >= 0, op << ": padding must be non-negative, got " << params_str(p, transposed));
  if (transposed) {
    GAN_CHECK(p.out_pad_h >= 0 && p.out_pad_w >= 0 && p.out_pad_h < p.stride_h && p.out_pad_w < p.stride_w,
              op << ": output_padding must be in [0, stride), got " << params_str(p, true));
  } else {
    GAN_CHECK(p.out_pad_h == 0 && p.out_pad_w == 0,
              op << ": output_padding applies to conv_transpose2d only, got " << params_str(p, true));
  }
}

void check_4d(const char* op, const char* what, const Tensor& t, const char* layout) {
  GAN_CHECK(t.dim() == 4, op << ": " << what << " must be 4-D " << layout << ", got " << t.str());
  for (int64_t d = 1; d < 4; ++d)
    GAN_CHECK(t.size(d) > 0, op << ": " << what << " " << t.str() << " has an empty dimension");
}

void check_w_shape(const char* op, const Shape& w, const char* layout) {
  GAN_CHECK(w.size() == 4, op << ": weight shape must be 4-D " << layout << ", got " << shape_str(w));
  for (int64_t e : w) GAN_CHECK(e > 0, op << ": weight shape " << shape_str(w) << " has an empty dimension");
}

// conv2d's output extent, after checking that the kernel fits the padded input.
int64_t conv_out(const char* op, int64_t in, int64_t k, int64_t s, int64_t pad, const Shape& xs, const Shape& ws,
                 const Conv2dParams& p) {
  GAN_CHECK(in + 2 * pad >= k, op << ": kernel " << shape_str(ws) << " is larger than the padded input "
                                  << shape_str(xs) << " (" << params_str(p, false) << ")");
  return (in + 2 * pad - k) / s + 1;
}

int64_t transposed_out(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t out_pad) {
  return (in - 1) * s - 2 * pad + k + out_pad;
}

Shape conv2d_out_shape(const char* op, const Shape& xs, const Shape& ws, const Conv2dParams& p) {
  return {xs[0], ws[0], conv_out(op, xs[2], ws[2], p.stride_h, p.pad_h, xs, ws, p),
          conv_out(op, xs[3], ws[3], p.stride_w, p.pad_w, xs, ws, p)};
}

Shape conv_transpose2d_out_shape(const char* op, const Shape& xs, const Shape& ws, const Conv2dParams& p) {
  Shape out{xs[0], ws[1], transposed_out(xs[2], ws[2], p.stride_h, p.pad_h, p.out_pad_h),
            transposed_out(xs[3], ws[3], p.stride_w, p.pad_w, p.out_pad_w)};
  GAN_CHECK(out[2] > 0 && out[3] > 0, op << ": output size " << shape_str(out) << " is not positive for input "
                                          << shape_str(xs) << ", weight " << shape_str(ws) << " ("
                                          << params_str(p, true) << ")");
  return out;
}

void check_bias(const char* op, const Tensor& bias, int64_t channels, const Tensor& w) {
  GAN_CHECK(!bias.defined() || bias.shape() == Shape{channels},
            op << ": bias " << bias.str() << " does not match weight " << w.str() << " (expects [" << channels << "])");
}

// The parameters of the conv_transpose2d that maps a conv2d output back onto an input of x_shape.
Conv2dParams transpose_params(const Conv2dParams& p, const Shape& x_shape, const Shape& w_shape) {
  Conv2dParams t = p;
  t.out_pad_h = (x_shape[2] + 2 * p.pad_h - w_shape[2]) % p.stride_h;
  t.out_pad_w = (x_shape[3] + 2 * p.pad_w - w_shape[3]) % p.stride_w;
  return t;
}

Conv2dParams without_out_pad(Conv2dParams p) {
  p.out_pad_h = p.out_pad_w = 0;
  return p;
}

// y + bias broadcast over N, H, W, in place on the convolution's fresh output (raw, unrecorded: the
// caller's node covers the bias). The same bits as bias_act's sum, which a fused layer runs instead.
Tensor add_bias_raw(Tensor y, const Tensor& bias) {
  if (bias.defined()) GAN_BACKEND(y.device(), bias_act_forward, y, bias, kernels::NormAct{}, y);
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  const char* op = "conv2d";
  check_same_device_dtype(op, {&x, &w, &bias});
  check_4d(op, "input", x, "[N, C_in, H, W]");
  check_4d(op, "weight", w, "[C_out, C_in, kH, kW]");
  check_params(op, p, false);
  GAN_CHECK(x.size(1) == w.size(1), op << ": input " << x.str() << " has " << x.size(1) << " channels but weight "
                                       << w.str() << " expects " << w.size(1));
  check_bias(op, bias, w.size(0), w);
  Tensor y = Tensor::empty(conv2d_out_shape(op, x.shape(), w.shape(), p), x.dtype(), x.device());
  GAN_BACKEND(x.device(), conv2d_forward, x, w, y, p);
  Tensor out = add_bias_raw(y, bias);
  autograd::record(op, {x, w, bias}, {&out}, [x, w, p](FunctionNode& nd, const Grads& g) -> Grads {
    Tensor gx, gw, gb;
    if (nd.needs(0)) gx = conv_transpose2d(g[0], w, Tensor(), transpose_params(p, x.shape(), w.shape()));
    if (nd.needs(1)) gw = conv2d_weight_grad(x, g[0], w.shape(), p);
    if (nd.needs(2)) gb = sum(g[0], {0, 2, 3});
    return {gx, gw, gb};
  });
  return out;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  const char* op = "conv_transpose2d";
  check_same_device_dtype(op, {&x, &w, &bias});
  check_4d(op, "input", x, "[N, C_in, H, W]");
  check_4d(op, "weight", w, "[C_in, C_out, kH, kW]");
  check_params(op, p, true);
  GAN_CHECK(x.size(1) == w.size(0), op << ": input " << x.str() << " has " << x.size(1) << " channels but weight "
                                       << w.str() << " expects " << w.size(0));
  check_bias(op, bias, w.size(1), w);
  Tensor y = Tensor::empty(conv_transpose2d_out_shape(op, x.shape(), w.shape(), p), x.dtype(), x.device());
  GAN_BACKEND(x.device(), conv_transpose2d_forward, x, w, y, p);
  Tensor out = add_bias_raw(y, bias);
  autograd::record(op, {x, w, bias}, {&out}, [x, w, p](FunctionNode& nd, const Grads& g) -> Grads {
    Tensor gx, gw, gb;
    if (nd.needs(0)) gx = conv2d(g[0], w, Tensor(), without_out_pad(p));
    if (nd.needs(1)) gw = conv_transpose2d_weight_grad(x, g[0], w.shape(), p);
    if (nd.needs(2)) gb = sum(g[0], {0, 2, 3});
    return {gx, gw, gb};
  });
  return out;
}

Tensor conv2d_weight_grad(const Tensor& x, const Tensor& gy, const Shape& w_shape, const Conv2dParams& p) {
  const char* op = "conv2d_weight_grad";
  check_same_device_dtype(op, {&x, &gy});
  check_4d(op, "input", x, "[N, C_in, H, W]");
  check_4d(op, "output gradient", gy, "[N, C_out, Ho, Wo]");
  check_w_shape(op, w_shape, "[C_out, C_in, kH, kW]");
  check_params(op, p, false);
  GAN_CHECK(x.size(1) == w_shape[1], op << ": input " << x.str() << " has " << x.size(1) << " channels but weight "
                                        << shape_str(w_shape) << " expects " << w_shape[1]);
  Shape ys = conv2d_out_shape(op, x.shape(), w_shape, p);
  GAN_CHECK(gy.shape() == ys, op << ": output gradient " << gy.str() << " should be " << shape_str(ys)
                                 << " for input " << x.str() << " and weight " << shape_str(w_shape) << " ("
                                 << params_str(p, false) << ")");
  Tensor dw = Tensor::empty(w_shape, x.dtype(), x.device());
  GAN_BACKEND(x.device(), conv2d_backward_weight, x, gy, dw, p);
  autograd::record(op, {x, gy}, {&dw}, [x, gy, w_shape, p](FunctionNode& nd, const Grads& g) -> Grads {
    Tensor gx, ggy;
    if (nd.needs(0)) gx = conv_transpose2d(gy, g[0], Tensor(), transpose_params(p, x.shape(), w_shape));
    if (nd.needs(1)) ggy = conv2d(x, g[0], Tensor(), p);
    return {gx, ggy};
  });
  return dw;
}

Tensor conv_transpose2d_weight_grad(const Tensor& x, const Tensor& gy, const Shape& w_shape,
                                    const Conv2dParams& p) {
  const char* op = "conv_transpose2d_weight_grad";
  check_same_device_dtype(op, {&x, &gy});
  check_4d(op, "input", x, "[N, C_in, H, W]");
  check_4d(op, "output gradient", gy, "[N, C_out, Ho, Wo]");
  check_w_shape(op, w_shape, "[C_in, C_out, kH, kW]");
  check_params(op, p, true);
  GAN_CHECK(x.size(1) == w_shape[0], op << ": input " << x.str() << " has " << x.size(1) << " channels but weight "
                                        << shape_str(w_shape) << " expects " << w_shape[0]);
  Shape ys = conv_transpose2d_out_shape(op, x.shape(), w_shape, p);
  GAN_CHECK(gy.shape() == ys, op << ": output gradient " << gy.str() << " should be " << shape_str(ys)
                                 << " for input " << x.str() << " and weight " << shape_str(w_shape) << " ("
                                 << params_str(p, true) << ")");
  Tensor dw = Tensor::empty(w_shape, x.dtype(), x.device());
  // In the conv2d view gy is the input side and x the output side.
  GAN_BACKEND(x.device(), conv2d_backward_weight, gy, x, dw, p);
  autograd::record(op, {x, gy}, {&dw}, [x, gy, p](FunctionNode& nd, const Grads& g) -> Grads {
    Tensor gx, ggy;
    if (nd.needs(0)) gx = conv2d(gy, g[0], Tensor(), without_out_pad(p));
    if (nd.needs(1)) ggy = conv_transpose2d(x, g[0], Tensor(), p);
    return {gx, ggy};
  });
  return dw;
}

}  // namespace gan
