// CPU spatial primitives. Each loop walks output rows (plane, y) split among threads, so every
// output element is written exactly once and no two threads touch the same row; the block sums
// add in a fixed order, so results do not depend on the thread count.
#include "engine/backend/spatial.h"

#include <algorithm>
#include <array>
#include <vector>

#include "engine/cpu/parallel.h"
#include "kernels/class_ids.h"
#include "kernels/pad_index.h"
#include "kernels/spatial_params.h"

namespace gan::cpu {

namespace {

// Calls f(T{}, S{}) with T = the image dtype, S = the parameters' dtype.
template <class F>
void dispatch2(DType data, DType params, const char* op, F&& f) {
  GAN_DISPATCH_FLOAT(data, op, [&] {
    using T = scalar_t;
    GAN_DISPATCH_FLOAT(params, op, [&] { f(T{}, scalar_t{}); });
  });
}

// The last two extents of a tensor (H, W) and the planes before them.
struct Planes {
  int64_t p, h, w;
};
Planes planes_of(const Tensor& t) {
  const Shape& s = t.shape();
  const int64_t h = s[s.size() - 2], w = s[s.size() - 1];
  return {h * w == 0 ? 0 : t.numel() / (h * w), h, w};
}

// Rows per parallel chunk so that one chunk holds about kParallelGrain elements.
int64_t row_grain(int64_t row_len) { return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(row_len, 1)); }

}  // namespace

void pixel_shuffle(const Tensor& x, int64_t r, Tensor& out) {
  GAN_DISPATCH_FLOAT(x.dtype(), "pixel_shuffle", [&] {
    using T = scalar_t;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const Planes in = planes_of(x);
    const int64_t h = in.h, w = in.w, ow = w * r, oh = h * r, planes = in.p / (r * r);
    parallel_for(planes * oh, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t p = row / oh, y = row - p * oh, hy = y / r, i = y - hy * r;
        T* dst = po + row * ow;
        for (int64_t j = 0; j < r; ++j) {
          const T* src = px + ((p * r * r + i * r + j) * h + hy) * w;
          for (int64_t c = 0; c < w; ++c) dst[c * r + j] = src[c];
        }
      }
    }, row_grain(ow));
  });
}

void pixel_unshuffle(const Tensor& x, int64_t r, Tensor& out) {
  GAN_DISPATCH_FLOAT(x.dtype(), "pixel_unshuffle", [&] {
    using T = scalar_t;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const Planes o = planes_of(out);
    const int64_t h = o.h, w = o.w, iw = w * r;
    // Output rows (channel q = p r r + i r + j, y) each read every r-th value of input row y r + i.
    parallel_for(o.p * h, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t q = row / h, y = row - q * h;
        const int64_t p = q / (r * r), ij = q - p * r * r, i = ij / r, j = ij - i * r;
        const T* src = px + (p * h * r + y * r + i) * iw + j;
        T* dst = po + row * w;
        for (int64_t c = 0; c < w; ++c) dst[c] = src[c * r];
      }
    }, row_grain(w));
  });
}

void upsample_nearest2d(const Tensor& x, int64_t s, Tensor& out) {
  GAN_DISPATCH_FLOAT(x.dtype(), "upsample_nearest2d", [&] {
    using T = scalar_t;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const Planes in = planes_of(x);
    const int64_t h = in.h, w = in.w, oh = h * s, ow = w * s;
    parallel_for(in.p * oh, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t p = row / oh, y = row - p * oh;
        const T* src = px + (p * h + y / s) * w;
        T* dst = po + row * ow;
        for (int64_t c = 0; c < w; ++c) std::fill(dst + c * s, dst + (c + 1) * s, src[c]);
      }
    }, row_grain(ow));
  });
}

void upsample_nearest2d_backward(const Tensor& g, int64_t s, Tensor& out) {
  GAN_DISPATCH_FLOAT(g.dtype(), "upsample_nearest2d_backward", [&] {
    using T = scalar_t;
    const T* pg = g.data<T>();
    T* po = out.data<T>();
    const Planes o = planes_of(out);
    const int64_t h = o.h, w = o.w, gw = w * s;
    parallel_for(o.p * h, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t p = row / h, y = row - p * h;
        const T* src = pg + (p * h * s + y * s) * gw;
        T* dst = po + row * w;
        for (int64_t c = 0; c < w; ++c) {
          T acc = 0;
          for (int64_t i = 0; i < s; ++i)
            for (int64_t j = 0; j < s; ++j) acc += src[i * gw + c * s + j];
          dst[c] = acc;
        }
      }
    }, row_grain(w * s * s));
  });
}

void reflection_pad2d(const Tensor& x, int64_t l, int64_t r, int64_t t, int64_t b, Tensor& out) {
  GAN_DISPATCH_FLOAT(x.dtype(), "reflection_pad2d", [&] {
    using T = scalar_t;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const Planes in = planes_of(x);
    const int64_t h = in.h, w = in.w, oh = h + t + b, ow = w + l + r;
    // Each output row is one input row, mirrored at both ends: left part, copy, right part.
    parallel_for(in.p * oh, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t p = row / oh, i = row - p * oh;
        const T* src = px + (p * h + hd::reflect_index<int64_t>(i, t, h)) * w;
        T* dst = po + row * ow;
        for (int64_t j = 0; j < l; ++j) dst[j] = src[l - j];
        std::copy(src, src + w, dst + l);
        for (int64_t j = 0; j < r; ++j) dst[l + w + j] = src[w - 2 - j];
      }
    }, row_grain(ow));
  });
}

void reflection_pad2d_backward(const Tensor& g, int64_t l, int64_t r, int64_t t, int64_t b, Tensor& out) {
  GAN_DISPATCH_FLOAT(g.dtype(), "reflection_pad2d_backward", [&] {
    using T = scalar_t;
    const T* pg = g.data<T>();
    T* po = out.data<T>();
    const Planes o = planes_of(out);
    const int64_t h = o.h, w = o.w, gh = h + t + b, gw = w + l + r;
    // The column sources are the same for every row: listed once.
    std::vector<std::array<int64_t, 3>> cols(static_cast<size_t>(w));
    std::vector<int> ncols(static_cast<size_t>(w));
    for (int64_t x = 0; x < w; ++x) ncols[x] = hd::reflect_sources<int64_t>(x, l, r, w, cols[x].data());
    // A gather: each output element sums its sources in increasing (row, column) of g, as the CUDA
    // kernel does, so both give the same bits and no two threads write one element.
    parallel_for(o.p * h, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t p = row / h, y = row - p * h;
        int64_t rows[3];
        const int nrows = hd::reflect_sources<int64_t>(y, t, b, h, rows);
        const T* src[3];
        for (int k = 0; k < nrows; ++k) src[k] = pg + (p * gh + rows[k]) * gw;
        T* dst = po + row * w;
        auto gather = [&](int64_t x) {
          T acc = 0;
          for (int k = 0; k < nrows; ++k)
            for (int c = 0; c < ncols[x]; ++c) acc += src[k][cols[x][c]];
          dst[x] = acc;
        };
        // Columns l + 1 .. w - 2 - r have one source, column l + x: a loop per row count that the
        // compiler vectorises, adding in the same order (from 0, row by row) as gather().
        const int64_t x0 = std::min(l + 1, w), x1 = std::max(x0, w - 1 - r);
        for (int64_t x = 0; x < x0; ++x) gather(x);
        const T* s0 = src[0] + l;
        if (nrows == 1) {
          for (int64_t x = x0; x < x1; ++x) dst[x] = T(0) + s0[x];
        } else if (nrows == 2) {
          const T* s1 = src[1] + l;
          for (int64_t x = x0; x < x1; ++x) dst[x] = (T(0) + s0[x]) + s1[x];
        } else {
          const T *s1 = src[1] + l, *s2 = src[2] + l;
          for (int64_t x = x0; x < x1; ++x) dst[x] = ((T(0) + s0[x]) + s1[x]) + s2[x];
        }
        for (int64_t x = x1; x < w; ++x) gather(x);
      }
    }, row_grain(gw));
  });
}

void translate2d(const Tensor& x, const Tensor& shifts, Tensor& out) {
  dispatch2(x.dtype(), shifts.dtype(), "translate2d", [&](auto t, auto sv) {
    using T = decltype(t);
    using S = decltype(sv);
    const T* px = x.data<T>();
    const S* ps = shifts.data<S>();
    T* po = out.data<T>();
    const int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], w = x.shape()[3];
    parallel_for(n * c * h, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t sample = row / (c * h), y = row % h;
        T* dst = po + row * w;
        int64_t dy = 0, dx = 0;
        if (!hd::integer_param(ps[2 * sample], h, dy) || !hd::integer_param(ps[2 * sample + 1], w, dx)) {
          std::fill(dst, dst + w, hd::quiet_nan<T>());
          continue;
        }
        const int64_t sy = y - dy;
        if (sy < 0 || sy >= h) {
          std::fill(dst, dst + w, T(0));
          continue;
        }
        const T* src = px + (row - y + sy) * w;
        // Columns x with 0 <= x - dx < w take src[x - dx]; the rest are zero.
        const int64_t lo = std::clamp<int64_t>(dx, 0, w), hi = std::clamp<int64_t>(w + dx, 0, w);
        std::fill(dst, dst + lo, T(0));
        for (int64_t col = lo; col < hi; ++col) dst[col] = src[col - dx];
        std::fill(dst + hi, dst + w, T(0));
      }
    }, row_grain(w));
  });
}

void flip_horizontal(const Tensor& x, const Tensor& mask, Tensor& out) {
  dispatch2(x.dtype(), mask.dtype(), "flip_horizontal", [&](auto t, auto sv) {
    using T = decltype(t);
    using S = decltype(sv);
    const T* px = x.data<T>();
    const S* pm = mask.data<S>();
    T* po = out.data<T>();
    const int64_t n = x.shape()[0], w = x.shape()[3];
    const int64_t rows_per_sample = n == 0 ? 0 : x.numel() / (n * std::max<int64_t>(w, 1));
    parallel_for(n * rows_per_sample, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int flag = hd::flip_flag(pm[row / rows_per_sample]);
        const T* src = px + row * w;
        T* dst = po + row * w;
        if (flag == 1)
          for (int64_t col = 0; col < w; ++col) dst[col] = src[w - 1 - col];
        else if (flag == 0)
          std::copy(src, src + w, dst);
        else
          std::fill(dst, dst + w, hd::quiet_nan<T>());
      }
    }, row_grain(w));
  });
}

void cutout_mask(const Tensor& centers, int64_t size_h, int64_t size_w, Tensor& out) {
  dispatch2(out.dtype(), centers.dtype(), "cutout_mask", [&](auto t, auto sv) {
    using T = decltype(t);
    using S = decltype(sv);
    const S* pc = centers.data<S>();
    T* po = out.data<T>();
    const int64_t n = out.shape()[0], h = out.shape()[2], w = out.shape()[3];
    parallel_for(n * h, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t sample = row / h, y = row - sample * h;
        T* dst = po + row * w;
        int64_t cy = 0, cx = 0;
        if (!hd::integer_param(pc[2 * sample], h + size_h, cy) ||
            !hd::integer_param(pc[2 * sample + 1], w + size_w, cx)) {
          std::fill(dst, dst + w, hd::quiet_nan<T>());
          continue;
        }
        int64_t y0, y1, x0, x1;
        hd::cutout_range(cy, size_h, h, y0, y1);
        hd::cutout_range(cx, size_w, w, x0, x1);
        std::fill(dst, dst + w, T(1));
        if (y >= y0 && y < y1) std::fill(dst + x0, dst + x1, T(0));
      }
    }, row_grain(w));
  });
}

}  // namespace gan::cpu
