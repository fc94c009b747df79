// CPU element-wise primitives: OpenMP over contiguous chunks, the op chosen once per call (not per
// element) so the inner loops are plain and vectorisable.
#include "engine/backend/elementwise.h"

#include <cmath>

#include "engine/cpu/broadcast.h"
#include "engine/cpu/parallel.h"
#include "kernels/philox.h"

namespace gan::cpu {

void fill(Tensor& out, double value) {
  GAN_DISPATCH_FLOAT(out.dtype(), "fill", [&] {
    scalar_t* p = out.data<scalar_t>();
    scalar_t v = static_cast<scalar_t>(value);
    parallel_for(out.numel(), [&](int64_t b, int64_t e) { std::fill(p + b, p + e, v); });
  });
}

void arange(Tensor& out) {
  GAN_DISPATCH_FLOAT(out.dtype(), "arange", [&] {
    scalar_t* p = out.data<scalar_t>();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<scalar_t>(i);
  });
}

void random_normal(Tensor& out, uint64_t seed, uint64_t draw, double mean, double std, const uint64_t* draw_on_device) {
  GAN_CHECK(!draw_on_device, "randn: the CPU backend takes its draw number from the host only");
  GAN_DISPATCH_FLOAT(out.dtype(), "randn", [&] {
    scalar_t* p = out.data<scalar_t>();
    parallel_for(out.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = static_cast<scalar_t>(rng::mul_add_rounded(mean, std, rng::normal_at(seed, draw, i)));
    }, 4096);
  });
}

void random_uniform(Tensor& out, uint64_t seed, uint64_t draw, double lo, double hi, const uint64_t* draw_on_device) {
  GAN_CHECK(!draw_on_device, "rand: the CPU backend takes its draw number from the host only");
  GAN_DISPATCH_FLOAT(out.dtype(), "rand", [&] {
    scalar_t* p = out.data<scalar_t>();
    parallel_for(out.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = rng::uniform_in<scalar_t>(seed, draw, i, lo, hi);
    }, 4096);
  });
}

void cast_copy(const Tensor& src, Tensor& dst) {
  GAN_DISPATCH_FLOAT_BF16(src.dtype(), "cast", [&] {
    using in_t = scalar_t;
    const in_t* s = src.data<in_t>();
    GAN_DISPATCH_FLOAT_BF16(dst.dtype(), "cast", [&] {
      scalar_t* d = dst.data<scalar_t>();
      parallel_for(src.numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) d[i] = static_cast<scalar_t>(s[i]);
      });
    });
  });
}

// out[i] = f(in[i]). The functor is copied into each chunk and the pointers are restrict-qualified:
// otherwise a store to `out` may alias the functor's captured scalars (same type), the compiler
// reloads them every iteration and leaves select-style maps (leaky_relu) as scalar branches, ~50x
// slower.
template <class T, class F>
static void map_pointwise(const T* in, T* out, int64_t n, F f) {
  parallel_for(n, [&, f](int64_t b, int64_t e) {
    const F g = f;
    const T* __restrict src = in;
    T* __restrict o = out;
    for (int64_t i = b; i < e; ++i) o[i] = g(src[i]);
  });
}

// The formulas are the table's (kernels/elementwise_ops.h), the same functors the CUDA kernels run.
void unary(UnaryOp op, const Tensor& x, Tensor& out, double a, double b) {
  GAN_DISPATCH_FLOAT(x.dtype(), "unary", [&] {
    using T = scalar_t;
    const bool known = kernels::visit_unary<T>(op, static_cast<T>(a), static_cast<T>(b), [&](auto f) {
      map_pointwise(x.data<T>(), out.data<T>(), x.numel(), f);
      return true;
    }, false);
    GAN_CHECK(known, "unary: unknown op " << static_cast<int>(op));
  });
}

// out[i] = g(big[i], small[(i / inner) % mid]): rows of `inner` elements that share one small value,
// or, for inner == 1, blocks of `mid` elements that read small[0..mid) in order. Either way the inner
// loop is a plain vectorisable map with no index arithmetic.
// The functor is copied and the pointers restrict-qualified so that stores to `out` cannot alias
// the functor's captured scalars, which would keep the loop scalar.
template <class T, class G>
static void map_run(const T* big, const T* small, T* out, int64_t n, int64_t inner, int64_t mid, G g) {
  if (n <= 0) return;
  if (inner == 1) {
    parallel_for(n / mid, [&, g](int64_t b, int64_t e) {
      const G h = g;
      const T* __restrict s = small;
      for (int64_t r = b; r < e; ++r) {
        const T* __restrict src = big + r * mid;
        T* __restrict dst = out + r * mid;
        for (int64_t j = 0; j < mid; ++j) dst[j] = h(src[j], s[j]);
      }
    }, std::max<int64_t>(1, kParallelGrain / mid));
    return;
  }
  parallel_for(n / inner, [&, g](int64_t b, int64_t e) {
    const G h = g;
    for (int64_t r = b; r < e; ++r) {
      const T s = small[r % mid];
      const T* __restrict src = big + r * inner;
      T* __restrict dst = out + r * inner;
      for (int64_t j = 0; j < inner; ++j) dst[j] = h(src[j], s);
    }
  }, std::max<int64_t>(1, kParallelGrain / inner));
}

template <class T, class F>
static void map_binary(const Tensor& x, const Tensor& y, Tensor& out, F f) {
  const T* px = x.data<T>();
  const T* py = y.data<T>();
  T* po = out.data<T>();
  const int64_t n = out.numel();
  if (x.shape() == out.shape() && y.shape() == out.shape()) {
    parallel_for(n, [&, f](int64_t b, int64_t e) {
      const F g = f;  // see map_pointwise
      const T* __restrict in0 = px;
      const T* __restrict in1 = py;
      T* __restrict o = po;
      for (int64_t i = b; i < e; ++i) o[i] = g(in0[i], in1[i]);
    });
  } else if (x.shape() == out.shape() && y.numel() == 1) {
    map_pointwise(px, po, n, [f, s = py[0]](T u) { return f(u, s); });  // the scalar travels in the functor
  } else if (y.shape() == out.shape() && x.numel() == 1) {
    map_pointwise(py, po, n, [f, s = px[0]](T v) { return f(s, v); });
  } else if (int64_t inner = 0, mid = 0; x.shape() == out.shape() && broadcast_run(y.shape(), out.shape(), inner, mid)) {
    map_run(px, py, po, n, inner, mid, [f](T u, T v) { return f(u, v); });
  } else if (y.shape() == out.shape() && broadcast_run(x.shape(), out.shape(), inner, mid)) {
    map_run(py, px, po, n, inner, mid, [f](T v, T u) { return f(u, v); });
  } else {
    // General broadcast: rows of the innermost output dim, each input walked with its own stride.
    const Shape& os = out.shape();
    auto sx = broadcast_strides(x.shape(), os), sy = broadcast_strides(y.shape(), os);
    const int64_t inner = os.empty() ? 1 : os.back();
    const int64_t ix = os.empty() ? 0 : sx.back(), iy = os.empty() ? 0 : sy.back();
    const int64_t rows = inner ? n / inner : 0;
    parallel_for(rows, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t ox = broadcast_offset(r * inner, os, sx), oy = broadcast_offset(r * inner, os, sy);
        T* dst = po + r * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] = f(px[ox + i * ix], py[oy + i * iy]);
      }
    }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(inner, 1)));
  }
}

void binary(BinaryOp op, const Tensor& x, const Tensor& y, Tensor& out, double a) {
  GAN_DISPATCH_FLOAT(out.dtype(), "binary", [&] {
    using T = scalar_t;
    const bool known = kernels::visit_binary<T>(op, static_cast<T>(a), [&](auto f) {
      map_binary<T>(x, y, out, f);
      return true;
    }, false);
    GAN_CHECK(known, "binary: unknown op " << static_cast<int>(op));
  });
}

void add_inplace(Tensor& out, const Tensor& x, double alpha) {
  GAN_DISPATCH_FLOAT(out.dtype(), "add_inplace", [&] {
    scalar_t* po = out.data<scalar_t>();
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t al = static_cast<scalar_t>(alpha);
    parallel_for(out.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) po[i] += al * px[i];
    });
  });
}

}  // namespace gan::cpu
