// Spatial ops. Backward rules, each another op of this file (all of them linear maps of the image,
// so the rules close the loop at every derivative order):
//   op                            backward (d/d image)                  its kind
//   pixel_shuffle(x, r)           pixel_unshuffle(g, r)                 inverse permutation
//   pixel_unshuffle(x, r)         pixel_shuffle(g, r)                   inverse permutation
//   upsample_nearest2d(x, s)      upsample_nearest2d_backward(g, s)     block sum (the adjoint)
//   upsample_nearest2d_backward   upsample_nearest2d(g, s)              replication (the adjoint)
//   reflection_pad2d(x, l r t b)  reflection_pad2d_backward(g, l r t b) gather-sum (the adjoint)
//   reflection_pad2d_backward     reflection_pad2d(g, l r t b)          mirror padding (the adjoint)
//   translate2d(x, d)             translate2d(g, -d)                    the adjoint (zero padding both ways)
//   flip_horizontal(x, m)         flip_horizontal(g, m)                 an involution
//   cutout, adjust_*              composites of mul / add / mean: their own rules
// Parameters (shifts, flags, centers) get no gradient: the maps are piecewise constant in them.
#include "engine/ops/spatial.h"

#include <cmath>
#include <sstream>

#include "engine/backend/dispatch.h"
#include "engine/backend/spatial.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"
#include "kernels/spatial_params.h"

namespace gan {

using detail::FunctionNode;
using detail::Grads;

namespace {

std::string str_of(const Tensor& t) { return t.defined() ? t.str() : std::string("undefined"); }

void check_image(const char* op, const Tensor& x, int64_t min_rank, int64_t max_rank, const char* layout) {
  GAN_CHECK(x.defined() && x.dim() >= min_rank && x.dim() <= max_rank,
            op << ": input must be " << layout << ", got " << str_of(x));
}

// Checks a per-sample parameter tensor: `cols` == 0 means shape [N], else [N, cols]; on x's device.
// On the CPU every value must pass `valid` (or the error names position and value, with `rule`).
template <class Valid>
void check_params(const char* op, const char* what, const Tensor& p, const Tensor& x, int64_t n, int64_t cols,
                  Valid valid, const char* rule) {
  GAN_CHECK(p.defined(), op << ": " << what << " undefined");
  const bool shape_ok = cols == 0 ? (p.dim() == 1 && p.shape()[0] == n)
                                  : (p.dim() == 2 && p.shape()[0] == n && p.shape()[1] == cols);
  GAN_CHECK(shape_ok, op << ": " << what << " must be [" << n << (cols ? ", " + std::to_string(cols) : std::string())
                         << "] for input " << x.str() << ", got " << p.str());
  GAN_CHECK(p.device() == x.device(),
            op << ": tensors on different devices: " << x.str() << " and " << what << " " << p.str());
  if (p.device().is_cuda()) return;  // read on the device only: a bad value makes its sample NaN
  const std::vector<double> v = p.to_double_vector();
  for (size_t k = 0; k < v.size(); ++k)
    if (!valid(v[k])) {
      std::ostringstream pos;
      if (cols == 0)
        pos << k;
      else
        pos << k / static_cast<size_t>(cols) << ", " << k % static_cast<size_t>(cols);
      GAN_FAIL(op << ": " << what << "[" << pos.str() << "] = " << v[k] << " " << rule << " (" << what << " "
                  << p.str() << ")");
    }
}

bool is_integer(double v) {
  int64_t ignored;
  return hd::integer_param(v, 1, ignored);
}

// r [N] or [N, 1, .., 1] as [N, 1, .., 1] of x's rank, for the per-sample colour transforms.
Tensor per_sample_factor(const char* op, const Tensor& x, const Tensor& r) {
  GAN_CHECK(x.defined() && x.dim() >= 2, op << ": input must be [N, C, ...], got " << str_of(x));
  const int64_t n = x.shape()[0];
  bool ok = r.defined() && r.dim() >= 1 && r.shape()[0] == n && r.numel() == n && (r.dim() == 1 || r.dim() == x.dim());
  GAN_CHECK(ok, op << ": factor must be [" << n << "] (one per sample) for input " << x.str() << ", got "
                   << str_of(r));
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[0] = n;
  return r.reshape(s);
}

}  // namespace

Tensor pixel_shuffle(const Tensor& x, int64_t r) {
  check_image("pixel_shuffle", x, 3, 64, "[*, C r^2, H, W]");
  GAN_CHECK(r >= 1, "pixel_shuffle: upscale factor " << r << " must be at least 1 (input " << x.str() << ")");
  Shape s = x.shape();
  const size_t c = s.size() - 3;
  GAN_CHECK(s[c] % (r * r) == 0, "pixel_shuffle: channels " << s[c] << " of input " << x.str()
                                                            << " are not divisible by r^2 = " << r * r);
  s[c] /= r * r;
  s[c + 1] *= r;
  s[c + 2] *= r;
  Tensor out = Tensor::empty(s, x.dtype(), x.device());
  GAN_BACKEND(x.device(), pixel_shuffle, x, r, out);
  autograd::record("pixel_shuffle", {x}, {&out}, [r](FunctionNode&, const Grads& g) -> Grads {
    return {pixel_unshuffle(g[0], r)};
  });
  return out;
}

Tensor pixel_unshuffle(const Tensor& x, int64_t r) {
  check_image("pixel_unshuffle", x, 3, 64, "[*, C, H r, W r]");
  GAN_CHECK(r >= 1, "pixel_unshuffle: downscale factor " << r << " must be at least 1 (input " << x.str() << ")");
  Shape s = x.shape();
  const size_t c = s.size() - 3;
  GAN_CHECK(s[c + 1] % r == 0 && s[c + 2] % r == 0,
            "pixel_unshuffle: height and width of input " << x.str() << " are not divisible by " << r);
  s[c] *= r * r;
  s[c + 1] /= r;
  s[c + 2] /= r;
  Tensor out = Tensor::empty(s, x.dtype(), x.device());
  GAN_BACKEND(x.device(), pixel_unshuffle, x, r, out);
  autograd::record("pixel_unshuffle", {x}, {&out}, [r](FunctionNode&, const Grads& g) -> Grads {
    return {pixel_shuffle(g[0], r)};
  });
  return out;
}

Tensor upsample_nearest2d(const Tensor& x, int64_t scale) {
  check_image("upsample_nearest2d", x, 4, 4, "[N, C, H, W]");
  GAN_CHECK(scale >= 1, "upsample_nearest2d: scale " << scale << " must be at least 1 (input " << x.str() << ")");
  const Shape& s = x.shape();
  Tensor out = Tensor::empty({s[0], s[1], s[2] * scale, s[3] * scale}, x.dtype(), x.device());
  GAN_BACKEND(x.device(), upsample_nearest2d, x, scale, out);
  autograd::record("upsample_nearest2d", {x}, {&out}, [scale](FunctionNode&, const Grads& g) -> Grads {
    return {upsample_nearest2d_backward(g[0], scale)};
  });
  return out;
}

Tensor upsample_nearest2d_backward(const Tensor& grad, int64_t scale) {
  check_image("upsample_nearest2d_backward", grad, 4, 4, "[N, C, H s, W s]");
  GAN_CHECK(scale >= 1,
            "upsample_nearest2d_backward: scale " << scale << " must be at least 1 (grad " << grad.str() << ")");
  const Shape& s = grad.shape();
  GAN_CHECK(s[2] % scale == 0 && s[3] % scale == 0, "upsample_nearest2d_backward: height and width of grad "
                                                        << grad.str() << " are not divisible by scale " << scale);
  Tensor out = Tensor::empty({s[0], s[1], s[2] / scale, s[3] / scale}, grad.dtype(), grad.device());
  GAN_BACKEND(grad.device(), upsample_nearest2d_backward, grad, scale, out);
  autograd::record("upsample_nearest2d_backward", {grad}, {&out}, [scale](FunctionNode&, const Grads& g) -> Grads {
    return {upsample_nearest2d(g[0], scale)};
  });
  return out;
}

namespace {

// Checks the four pads against the extents they mirror (h, w: the unpadded image's) as torch does:
// each >= 0 and < its extent, else one mirror would not reach and the far border would be needed
// too. `where` says where h and w came from, for the message.
void check_reflection_pads(const char* op, const std::string& where, int64_t h, int64_t w, int64_t left,
                           int64_t right, int64_t top, int64_t bottom) {
  GAN_CHECK(left >= 0 && right >= 0 && top >= 0 && bottom >= 0,
            op << ": padding (left " << left << ", right " << right << ", top " << top << ", bottom " << bottom
               << ") must not be negative (" << where << ")");
  GAN_CHECK(left < w && right < w && top < h && bottom < h,
            op << ": padding (left " << left << ", right " << right << ", top " << top << ", bottom " << bottom
               << ") must be less than the dimension it pads: " << where << " height " << h << ", width " << w);
}

}  // namespace

Tensor reflection_pad2d(const Tensor& x, int64_t left, int64_t right, int64_t top, int64_t bottom) {
  check_image("reflection_pad2d", x, 4, 4, "[N, C, H, W]");
  const Shape& s = x.shape();
  check_reflection_pads("reflection_pad2d", "input " + x.str() + " has", s[2], s[3], left, right, top, bottom);
  Tensor out = Tensor::empty({s[0], s[1], s[2] + top + bottom, s[3] + left + right}, x.dtype(), x.device());
  GAN_BACKEND(x.device(), reflection_pad2d, x, left, right, top, bottom, out);
  autograd::record("reflection_pad2d", {x}, {&out}, [left, right, top, bottom](FunctionNode&, const Grads& g) -> Grads {
    return {reflection_pad2d_backward(g[0], left, right, top, bottom)};
  });
  return out;
}

Tensor reflection_pad2d(const Tensor& x, int64_t pad) { return reflection_pad2d(x, pad, pad, pad, pad); }

Tensor reflection_pad2d_backward(const Tensor& grad, int64_t left, int64_t right, int64_t top, int64_t bottom) {
  check_image("reflection_pad2d_backward", grad, 4, 4, "[N, C, H', W']");
  const Shape& s = grad.shape();
  const int64_t h = s[2] - top - bottom, w = s[3] - left - right;
  check_reflection_pads("reflection_pad2d_backward", "grad " + grad.str() + " without the pads has", h, w, left,
                        right, top, bottom);
  Tensor out = Tensor::empty({s[0], s[1], h, w}, grad.dtype(), grad.device());
  GAN_BACKEND(grad.device(), reflection_pad2d_backward, grad, left, right, top, bottom, out);
  autograd::record("reflection_pad2d_backward", {grad}, {&out},
                   [left, right, top, bottom](FunctionNode&, const Grads& g) -> Grads {
                     return {reflection_pad2d(g[0], left, right, top, bottom)};
                   });
  return out;
}

Tensor translate2d(const Tensor& x, const Tensor& shifts) {
  check_image("translate2d", x, 4, 4, "[N, C, H, W]");
  check_params("translate2d", "shifts", shifts, x, x.shape()[0], 2, is_integer, "is not an integer");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  GAN_BACKEND(x.device(), translate2d, x, shifts, out);
  Tensor params = shifts.detach();
  autograd::record("translate2d", {x}, {&out}, [params](FunctionNode&, const Grads& g) -> Grads {
    return {translate2d(g[0], neg(params))};
  });
  return out;
}

Tensor flip_horizontal(const Tensor& x, const Tensor& mask) {
  check_image("flip_horizontal", x, 4, 4, "[N, C, H, W]");
  check_params("flip_horizontal", "mask", mask, x, x.shape()[0], 0, [](double v) { return v == 0 || v == 1; },
               "is neither 0 nor 1");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  GAN_BACKEND(x.device(), flip_horizontal, x, mask, out);
  Tensor params = mask.detach();
  autograd::record("flip_horizontal", {x}, {&out}, [params](FunctionNode&, const Grads& g) -> Grads {
    return {flip_horizontal(g[0], params)};
  });
  return out;
}

Tensor cutout_mask(int64_t n, int64_t h, int64_t w, const Tensor& centers, int64_t size_h, int64_t size_w) {
  GAN_CHECK(n >= 0 && h >= 0 && w >= 0,
            "cutout_mask: negative extent in N, H, W = " << n << ", " << h << ", " << w);
  GAN_CHECK(size_h >= 0 && size_w >= 0, "cutout_mask: negative cutout size " << size_h << " x " << size_w);
  Tensor shape_of = Tensor::empty({n, 1, h, w}, centers.defined() ? centers.dtype() : DType::Float32,
                                  centers.defined() ? centers.device() : Device::cpu());
  check_params("cutout_mask", "centers", centers, shape_of, n, 2, is_integer, "is not an integer");
  GAN_BACKEND(centers.device(), cutout_mask, centers, size_h, size_w, shape_of);
  return shape_of;
}

Tensor cutout_mask(int64_t n, int64_t h, int64_t w, const Tensor& centers, int64_t size) {
  return cutout_mask(n, h, w, centers, size, size);
}

Tensor cutout(const Tensor& x, const Tensor& centers, int64_t size_h, int64_t size_w) {
  check_image("cutout", x, 4, 4, "[N, C, H, W]");
  const Shape& s = x.shape();
  Tensor mask = cutout_mask(s[0], s[2], s[3], centers, size_h, size_w);
  return mul(x, mask.dtype() == x.dtype() ? mask : cast(mask, x.dtype()));
}

Tensor cutout(const Tensor& x, const Tensor& centers, int64_t size) { return cutout(x, centers, size, size); }

Tensor adjust_brightness(const Tensor& x, const Tensor& r) {
  return add(x, add(per_sample_factor("adjust_brightness", x, r), -0.5));
}

Tensor adjust_saturation(const Tensor& x, const Tensor& r) {
  Tensor f = per_sample_factor("adjust_saturation", x, r);
  Tensor m = mean(x, {1}, /*keepdim=*/true);
  return add(mul(sub(x, m), mul(f, 2.0)), m);
}

Tensor adjust_contrast(const Tensor& x, const Tensor& r) {
  Tensor f = per_sample_factor("adjust_contrast", x, r);
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < x.dim(); ++d) dims.push_back(d);
  Tensor m = mean(x, dims, /*keepdim=*/true);
  return add(mul(sub(x, m), add(f, 0.5)), m);
}

}  // namespace gan
