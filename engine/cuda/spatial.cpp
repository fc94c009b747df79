// CUDA spatial primitives (kernels/spatial.cu). No host sync: per-sample parameters are never read
// on the host, so a bad one shows up as NaN in its sample's output (engine/backend/spatial.h).
#include "engine/backend/spatial.h"

#include "engine/cuda/launch_utils.h"
#include "kernels/spatial.cuh"

namespace gan::cuda {

namespace {

template <class F>
void dispatch2(DType data, DType params, const char* op, F&& f) {
  GAN_DISPATCH_FLOAT(data, op, [&] {
    using T = scalar_t;
    GAN_DISPATCH_FLOAT(params, op, [&] { f(T{}, scalar_t{}); });
  });
}

// H x W planes of `t` (its last two extents) and their count.
struct Planes {
  int64_t p, h, w;
};
Planes planes_of(const Tensor& t) {
  const Shape& s = t.shape();
  const int64_t h = s[s.size() - 2], w = s[s.size() - 1];
  return {h * w == 0 ? 0 : t.numel() / (h * w), h, w};
}

}  // namespace

void pixel_shuffle(const Tensor& x, int64_t r, Tensor& out) {
  OnDevice on(out);
  const Planes in = planes_of(x);
  GAN_DISPATCH_FLOAT(x.dtype(), "pixel_shuffle", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::pixel_shuffle<T>(x.data<T>(), in.p / (r * r), in.h, in.w, r, out.data<T>(), on.stream));
  });
}

void pixel_unshuffle(const Tensor& x, int64_t r, Tensor& out) {
  OnDevice on(out);
  const Planes in = planes_of(x);
  GAN_DISPATCH_FLOAT(x.dtype(), "pixel_unshuffle", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::pixel_unshuffle<T>(x.data<T>(), in.p, in.h / r, in.w / r, r, out.data<T>(), on.stream));
  });
}

void upsample_nearest2d(const Tensor& x, int64_t s, Tensor& out) {
  OnDevice on(out);
  const Planes in = planes_of(x);
  GAN_DISPATCH_FLOAT(x.dtype(), "upsample_nearest2d", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::upsample_nearest2d<T>(x.data<T>(), in.p, in.h, in.w, s, out.data<T>(), on.stream));
  });
}

void upsample_nearest2d_backward(const Tensor& g, int64_t s, Tensor& out) {
  OnDevice on(out);
  const Planes o = planes_of(out);
  GAN_DISPATCH_FLOAT(g.dtype(), "upsample_nearest2d_backward", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(
        kernels::upsample_nearest2d_backward<T>(g.data<T>(), o.p, o.h, o.w, s, out.data<T>(), on.stream));
  });
}

void reflection_pad2d(const Tensor& x, int64_t l, int64_t r, int64_t t, int64_t b, Tensor& out) {
  OnDevice on(out);
  const Planes in = planes_of(x);
  GAN_DISPATCH_FLOAT(x.dtype(), "reflection_pad2d", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(
        kernels::reflection_pad2d<T>(x.data<T>(), in.p, in.h, in.w, l, r, t, b, out.data<T>(), on.stream));
  });
}

void reflection_pad2d_backward(const Tensor& g, int64_t l, int64_t r, int64_t t, int64_t b, Tensor& out) {
  OnDevice on(out);
  const Planes o = planes_of(out);
  GAN_DISPATCH_FLOAT(g.dtype(), "reflection_pad2d_backward", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::reflection_pad2d_backward<T>(g.data<T>(), o.p, o.h, o.w, l, r, t, b, out.data<T>(),
                                                         on.stream));
  });
}

void translate2d(const Tensor& x, const Tensor& shifts, Tensor& out) {
  OnDevice on(out);
  const Shape& s = x.shape();
  dispatch2(x.dtype(), shifts.dtype(), "translate2d", [&](auto t, auto sv) {
    using T = decltype(t);
    using S = decltype(sv);
    GAN_CUDA_CHECK(kernels::translate2d<T, S>(x.data<T>(), shifts.data<S>(), s[0], s[1], s[2], s[3], out.data<T>(),
                                              on.stream));
  });
}

void flip_horizontal(const Tensor& x, const Tensor& mask, Tensor& out) {
  OnDevice on(out);
  const Shape& s = x.shape();
  dispatch2(x.dtype(), mask.dtype(), "flip_horizontal", [&](auto t, auto sv) {
    using T = decltype(t);
    using S = decltype(sv);
    GAN_CUDA_CHECK(kernels::flip_horizontal<T, S>(x.data<T>(), mask.data<S>(), s[0], s[1] * s[2], s[3],
                                                  out.data<T>(), on.stream));
  });
}

void cutout_mask(const Tensor& centers, int64_t size_h, int64_t size_w, Tensor& out) {
  OnDevice on(out);
  const Shape& s = out.shape();
  dispatch2(out.dtype(), centers.dtype(), "cutout_mask", [&](auto t, auto sv) {
    using T = decltype(t);
    using S = decltype(sv);
    GAN_CUDA_CHECK(kernels::cutout_mask<T, S>(centers.data<S>(), s[0], s[2], s[3], size_h, size_w, out.data<T>(),
                                              on.stream));
  });
}

}  // namespace gan::cuda
