// Window and tap arithmetic of the pooling and bilinear-resize ops, shared by the CPU backend and
// the CUDA kernels so that both pick the same argmax, the same divisor and the same source pixels.
// The rules are PyTorch's (max_pool2d / avg_pool2d with ceil_mode false, interpolate bilinear with
// align_corners false), so results agree with it to rounding.
#pragma once
#include <cstdint>

#include "kernels/host_device.h"

namespace gan::hd {

// One pooling problem over planes of h x w (a plane: one channel of one image).
struct PoolGeom {
  int64_t planes, h, w, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw;
  bool count_include_pad;
};

// Output extent of a window walk, ceil_mode false: floor((in + 2 pad - k) / stride) + 1.
GAN_HD int64_t pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

// Offset inside the plane of the maximum of window (oy, ox), padding excluded. The first maximum
// in row-major window order wins a tie; a NaN wins over numbers (and the last NaN over earlier
// ones), as in PyTorch, so a NaN input propagates.
template <class T>
GAN_HD int64_t window_argmax(const T* plane, const PoolGeom& g, int64_t oy, int64_t ox) {
  const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  const int64_t y_lo = hd::max<int64_t>(y0, 0), y_hi = hd::min<int64_t>(y0 + g.kh, g.h);
  const int64_t x_lo = hd::max<int64_t>(x0, 0), x_hi = hd::min<int64_t>(x0 + g.kw, g.w);
  int64_t best = y_lo * g.w + x_lo;
  T best_v = plane[best];
  for (int64_t y = y_lo; y < y_hi; ++y)
    for (int64_t x = x_lo; x < x_hi; ++x) {
      const T v = plane[y * g.w + x];
      if (v > best_v || v != v) {
        best_v = v;
        best = y * g.w + x;
      }
    }
  return best;
}

// The window of output (oy, ox) clipped to the plane, and the count its sum is divided by: with
// count_include_pad the padded window (itself clipped to the padded plane), else the real pixels.
struct AvgWindow {
  int64_t y_lo, y_hi, x_lo, x_hi, divisor;
};
GAN_HD AvgWindow avg_window(const PoolGeom& g, int64_t oy, int64_t ox) {
  const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  const int64_t y1 = hd::min<int64_t>(y0 + g.kh, g.h + g.ph), x1 = hd::min<int64_t>(x0 + g.kw, g.w + g.pw);
  const int64_t padded = (y1 - y0) * (x1 - x0);
  AvgWindow a;
  a.y_lo = hd::max<int64_t>(y0, 0);
  a.x_lo = hd::max<int64_t>(x0, 0);
  a.y_hi = hd::min<int64_t>(y1, g.h);
  a.x_hi = hd::min<int64_t>(x1, g.w);
  a.divisor = g.count_include_pad ? padded : (a.y_hi - a.y_lo) * (a.x_hi - a.x_lo);
  return a;
}

// Outputs whose window covers input coordinate i along one axis: [first, last] (empty when
// first > last). Used by the gather form of the average pool's gradient.
GAN_HD void covering_outputs(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t out, int64_t& first,
                             int64_t& last) {
  // o covers i when o * stride - pad <= i < o * stride - pad + k.
  const int64_t hi = i + pad, lo = i + pad - k + 1;
  first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  last = hd::min<int64_t>(hi / stride, out - 1);
}

// The two source pixels of output coordinate `dst` along one axis of a bilinear resize from `in`
// to `out` pixels (align_corners false: pixel centres line up, scale in / out), and their weights.
// Computed in T as PyTorch does (float for float tensors), so the taps agree with it bit for bit.
template <class T>
struct LinearTap {
  int64_t i0, i1;
  T w0, w1;
};
template <class T>
GAN_HD LinearTap<T> linear_tap(int64_t dst, int64_t in, int64_t out) {
  const T scale = static_cast<T>(in) / static_cast<T>(out);
  T src = scale * (static_cast<T>(dst) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  LinearTap<T> t;
  t.i0 = hd::min<int64_t>(static_cast<int64_t>(src), in - 1);
  t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
  t.w1 = hd::min<T>(hd::max<T>(src - static_cast<T>(t.i0), T(0)), T(1));
  t.w0 = T(1) - t.w1;
  return t;
}

}  // namespace gan::hd
