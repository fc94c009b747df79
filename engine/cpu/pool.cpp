// CPU pooling and bilinear resize: planes (one channel of one image) split among threads, each
// plane walked by one thread, so the scatter-adds of the gradients are deterministic.
#include "engine/backend/pool.h"

#include <algorithm>
#include <vector>

#include "engine/cpu/parallel.h"
#include "kernels/pool_index.h"

namespace gan::cpu {

namespace {

// The geometry of a pool from input [N, C, H, W] to output [N, C, OH, OW].
hd::PoolGeom geom(const Tensor& in, const Tensor& out, const Pool2dParams& p) {
  return {in.size(0) * in.size(1), in.size(2), in.size(3), out.size(2), out.size(3), p.kernel_h, p.kernel_w,
          p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.count_include_pad};
}

// Planes per thread chunk such that a chunk holds about kParallelGrain elements of work.
int64_t plane_grain(int64_t per_plane) { return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(per_plane, 1)); }

}  // namespace

void max_pool2d_gather(const Tensor& key, const Tensor& src, const Pool2dParams& p, Tensor& out) {
  GAN_DISPATCH_FLOAT(key.dtype(), "max_pool2d", [&] {
    using T = scalar_t;
    const hd::PoolGeom g = geom(key, out, p);
    const T* pk = key.data<T>();
    const T* ps = src.data<T>();
    T* po = out.data<T>();
    parallel_for(g.planes, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* kp = pk + pl * g.h * g.w;
        const T* sp = ps + pl * g.h * g.w;
        T* op = po + pl * g.oh * g.ow;
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) op[oy * g.ow + ox] = sp[hd::window_argmax(kp, g, oy, ox)];
      }
    }, plane_grain(g.oh * g.ow * g.kh * g.kw));
  });
}

void max_pool2d_scatter(const Tensor& key, const Tensor& grad, const Pool2dParams& p, Tensor& out) {
  GAN_DISPATCH_FLOAT(key.dtype(), "max_pool2d_backward", [&] {
    using T = scalar_t;
    const hd::PoolGeom g = geom(key, grad, p);
    const T* pk = key.data<T>();
    const T* pg = grad.data<T>();
    T* po = out.data<T>();
    parallel_for(g.planes, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* kp = pk + pl * g.h * g.w;
        const T* gp = pg + pl * g.oh * g.ow;
        T* op = po + pl * g.h * g.w;
        std::fill(op, op + g.h * g.w, T(0));
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) op[hd::window_argmax(kp, g, oy, ox)] += gp[oy * g.ow + ox];
      }
    }, plane_grain(g.oh * g.ow * g.kh * g.kw));
  });
}

void avg_pool2d(const Tensor& x, const Pool2dParams& p, Tensor& out) {
  GAN_DISPATCH_FLOAT(x.dtype(), "avg_pool2d", [&] {
    using T = scalar_t;
    const hd::PoolGeom g = geom(x, out, p);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    parallel_for(g.planes, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* xp = px + pl * g.h * g.w;
        T* op = po + pl * g.oh * g.ow;
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const hd::AvgWindow a = hd::avg_window(g, oy, ox);
            T s = 0;
            for (int64_t y = a.y_lo; y < a.y_hi; ++y)
              for (int64_t xx = a.x_lo; xx < a.x_hi; ++xx) s += xp[y * g.w + xx];
            op[oy * g.ow + ox] = s / static_cast<T>(a.divisor);
          }
      }
    }, plane_grain(g.oh * g.ow * g.kh * g.kw));
  });
}

void avg_pool2d_backward(const Tensor& grad, const Pool2dParams& p, Tensor& out) {
  GAN_DISPATCH_FLOAT(grad.dtype(), "avg_pool2d_backward", [&] {
    using T = scalar_t;
    const hd::PoolGeom g = geom(out, grad, p);
    const T* pg = grad.data<T>();
    T* po = out.data<T>();
    parallel_for(g.planes, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* gp = pg + pl * g.oh * g.ow;
        T* op = po + pl * g.h * g.w;
        std::fill(op, op + g.h * g.w, T(0));
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const hd::AvgWindow a = hd::avg_window(g, oy, ox);
            const T v = gp[oy * g.ow + ox] / static_cast<T>(a.divisor);
            for (int64_t y = a.y_lo; y < a.y_hi; ++y)
              for (int64_t xx = a.x_lo; xx < a.x_hi; ++xx) op[y * g.w + xx] += v;
          }
      }
    }, plane_grain(g.oh * g.ow * g.kh * g.kw));
  });
}

void resize_bilinear(const Tensor& x, Tensor& out) {
  GAN_DISPATCH_FLOAT(x.dtype(), "resize_bilinear", [&] {
    using T = scalar_t;
    const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
    const int64_t oh = out.size(2), ow = out.size(3);
    // The horizontal taps are the same for every row and plane: computed once.
    std::vector<hd::LinearTap<T>> tx(static_cast<size_t>(ow));
    for (int64_t ox = 0; ox < ow; ++ox) tx[static_cast<size_t>(ox)] = hd::linear_tap<T>(ox, w, ow);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    parallel_for(planes * oh, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t pl = row / oh, oy = row - pl * oh;
        const hd::LinearTap<T> ty = hd::linear_tap<T>(oy, h, oh);
        const T* r0 = px + (pl * h + ty.i0) * w;
        const T* r1 = px + (pl * h + ty.i1) * w;
        T* op = po + row * ow;
        for (int64_t ox = 0; ox < ow; ++ox) {
          const hd::LinearTap<T>& t = tx[static_cast<size_t>(ox)];
          op[ox] = ty.w0 * (t.w0 * r0[t.i0] + t.w1 * r0[t.i1]) + ty.w1 * (t.w0 * r1[t.i0] + t.w1 * r1[t.i1]);
        }
      }
    }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(ow, 1)));
  });
}

void resize_bilinear_backward(const Tensor& grad, Tensor& out) {
  GAN_DISPATCH_FLOAT(grad.dtype(), "resize_bilinear_backward", [&] {
    using T = scalar_t;
    const int64_t planes = out.size(0) * out.size(1), h = out.size(2), w = out.size(3);
    const int64_t oh = grad.size(2), ow = grad.size(3);
    std::vector<hd::LinearTap<T>> tx(static_cast<size_t>(ow));
    for (int64_t ox = 0; ox < ow; ++ox) tx[static_cast<size_t>(ox)] = hd::linear_tap<T>(ox, w, ow);
    const T* pg = grad.data<T>();
    T* po = out.data<T>();
    parallel_for(planes, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        T* op = po + pl * h * w;
        std::fill(op, op + h * w, T(0));
        for (int64_t oy = 0; oy < oh; ++oy) {
          const hd::LinearTap<T> ty = hd::linear_tap<T>(oy, h, oh);
          const T* gr = pg + (pl * oh + oy) * ow;
          T* r0 = op + ty.i0 * w;
          T* r1 = op + ty.i1 * w;
          for (int64_t ox = 0; ox < ow; ++ox) {
            const hd::LinearTap<T>& t = tx[static_cast<size_t>(ox)];
            const T g0 = ty.w0 * gr[ox], g1 = ty.w1 * gr[ox];
            r0[t.i0] += t.w0 * g0;
            r0[t.i1] += t.w1 * g0;
            r1[t.i0] += t.w0 * g1;
            r1[t.i1] += t.w1 * g1;
          }
        }
      }
    }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(oh * ow, 1)));
  });
}

}  // namespace gan::cpu
