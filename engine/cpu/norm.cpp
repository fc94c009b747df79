// CPU batch norm over x viewed as [N, C, S]. One channel's elements are N runs of S contiguous
// values, so each thread owns whole channels: its statistics need no cross-thread reduction and
// the result does not depend on the number of threads. Statistics accumulate in double, in
// kLanes independent partial sums (Lanes below): one running sum is a chain of dependent adds
// that cannot be vectorised, and cost four times the rest of the kernel.
#include "engine/backend/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/ncs.h"
#include "engine/cpu/parallel.h"

namespace gan::cpu {

namespace {

// Splits channels over threads only when the whole tensor is big enough to pay for them.
template <class F>
void for_each_channel(const NCS& v, F&& f) {
  const int64_t per = std::max<int64_t>(1, v.count());
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / per);
  parallel_for(
      v.C,
      [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) f(c);
      },
      grain);
}

// kLanes running sums: element s of a row goes to lane s % kLanes, and the lanes are added in a
// fixed tree at the end, so the result depends on the data alone (not on threads or alignment).
constexpr int kLanes = 8;
static_assert(kLanes == 8, "Lanes::total adds eight lanes");
struct Lanes {
  double v[kLanes] = {};
  double total() const {
    double p[kLanes / 2];
    for (int j = 0; j < kLanes / 2; ++j) p[j] = v[j] + v[j + kLanes / 2];
    return ((p[0] + p[2]) + (p[1] + p[3]));
  }
};

// f(lanes, j, s) once per element s of a row of S values, j = s % kLanes, whole groups of kLanes
// first (the loop the compiler vectorises), then the tail.
template <class F>
inline void for_lanes(int64_t S, F&& f) {
  int64_t s = 0;
  for (; s + kLanes <= S; s += kLanes)
    for (int j = 0; j < kLanes; ++j) f(j, s + j);
  for (int j = 0; s < S; ++s, ++j) f(j, s);
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* mutable_or_null(Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// x viewed as [N, C, S] and its optional per-channel weight and bias (null when undefined).
template <class T>
struct Affine {
  NCS v;
  const T* x;
  const T* w;
  const T* b;
  Affine(const Tensor& xt, const Tensor& weight, const Tensor& bias)
      : v(ncs_of(xt)), x(xt.data<T>()), w(data_or_null<T>(weight)), b(data_or_null<T>(bias)) {}
};

// Calls f(kind) with the activation as a compile-time constant (kind.value), so each loop is
// specialised and the one without an activation stays the plain normalisation loop.
template <kernels::NormActKind K>
struct ActConst {
  static constexpr kernels::NormActKind value = K;
};
template <class F>
void with_act(kernels::NormActKind kind, F&& f) {
  switch (kind) {
    case kernels::NormActKind::Relu: return f(ActConst<kernels::NormActKind::Relu>{});
    case kernels::NormActKind::LeakyRelu: return f(ActConst<kernels::NormActKind::LeakyRelu>{});
    case kernels::NormActKind::None: return f(ActConst<kernels::NormActKind::None>{});
  }
}

}  // namespace

void batch_norm_forward_train(const Tensor& x, const Tensor& weight, const Tensor& bias, const kernels::NormAct& act,
                              Tensor& y, Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps) {
  GAN_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] {
    using T = scalar_t;
    const Affine<T> in(x, weight, bias);
    const NCS v = in.v;
    const T *px = in.x, *pw = in.w, *pb = in.b;
    T* py = y.data<T>();
    T* pm = save_mean.data<T>();
    T* pis = save_invstd.data<T>();
    T* prm = mutable_or_null<T>(running_mean);
    T* prv = mutable_or_null<T>(running_var);
    const T slope = static_cast<T>(act.slope);
    const double M = static_cast<double>(v.count());
    for_each_channel(v, [&](int64_t c) {
      // Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which loses all
      // precision in float32 when |mean| >> std.
      Lanes sum;
      for (int64_t n = 0; n < v.N; ++n) {
        const T* row = px + (n * v.C + c) * v.S;
        for_lanes(v.S, [&](int j, int64_t s) { sum.v[j] += static_cast<double>(row[s]); });
      }
      const double mean = sum.total() / M;
      Lanes sq;
      for (int64_t n = 0; n < v.N; ++n) {
        const T* row = px + (n * v.C + c) * v.S;
        for_lanes(v.S, [&](int j, int64_t s) {
          const double d = static_cast<double>(row[s]) - mean;
          sq.v[j] += d * d;
        });
      }
      const double var = sq.total() / M;  // biased: the one that normalises
      const double invstd = 1.0 / std::sqrt(var + eps);
      pm[c] = static_cast<T>(mean);
      pis[c] = static_cast<T>(invstd);
      const T mu = static_cast<T>(mean);
      const T scale = static_cast<T>(pw ? pw[c] * invstd : invstd);
      const T shift = pb ? pb[c] : T(0);
      with_act(act.kind, [&](auto kind) {
        for (int64_t n = 0; n < v.N; ++n) {
          const int64_t off = (n * v.C + c) * v.S;
          for (int64_t s = 0; s < v.S; ++s)
            py[off + s] = kernels::norm_act_forward(kind.value, slope, (px[off + s] - mu) * scale + shift);
        }
      });
      if (prm) {
        // The running variance estimates the population: unbiased, n / (n - 1).
        prm[c] = static_cast<T>((1 - momentum) * prm[c] + momentum * mean);
        prv[c] = static_cast<T>((1 - momentum) * prv[c] + momentum * var * M / (M - 1));
      }
    });
  });
}

void batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, Tensor& y, double eps) {
  GAN_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] {
    using T = scalar_t;
    const Affine<T> in(x, weight, bias);
    const NCS v = in.v;
    const T *px = in.x, *pw = in.w, *pb = in.b;
    const T* prm = running_mean.data<T>();
    const T* prv = running_var.data<T>();
    T* py = y.data<T>();
    std::vector<T> scale(v.C), mu(v.C), shift(v.C);
    for (int64_t c = 0; c < v.C; ++c) {
      double invstd = 1.0 / std::sqrt(static_cast<double>(prv[c]) + eps);
      scale[c] = static_cast<T>(pw ? pw[c] * invstd : invstd);
      mu[c] = prm[c];
      shift[c] = pb ? pb[c] : T(0);
    }
    // Rows of S values, one (n, c) pair each: parallel over rows so small C still uses threads.
    const int64_t rows = v.N * v.C;
    parallel_for(
        rows,
        [&](int64_t b, int64_t e) {
          for (int64_t r = b; r < e; ++r) {
            const int64_t c = r % v.C;
            const T a = scale[c], m = mu[c], sh = shift[c];
            const T* xr = px + r * v.S;
            T* yr = py + r * v.S;
            for (int64_t s = 0; s < v.S; ++s) yr[s] = (xr[s] - m) * a + sh;
          }
        },
        std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, v.S)));
  });
}

// With xhat = (x - mean) invstd, M values per channel and gz the gradient reaching the
// normalised value (dy itself, or dy carried back through the fused activation):
//   dbias = sum gz,  dweight = sum gz xhat,
//   dx = weight invstd (gz - sum(gz) / M - xhat sum(gz xhat) / M).
void batch_norm_backward(const Tensor& dy, const kernels::NormAct& act, const Tensor& y, const Tensor& x,
                         const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx,
                         Tensor& dweight, Tensor& dbias) {
  GAN_DISPATCH_FLOAT(x.dtype(), "batch_norm backward", [&] {
    using T = scalar_t;
    const NCS v = ncs_of(x);
    const T* pdy = dy.data<T>();
    const T* py = data_or_null<T>(y);  // the mask's source: null without an activation
    const T* px = x.data<T>();
    const T* pw = data_or_null<T>(weight);
    const T* pm = save_mean.data<T>();
    const T* pis = save_invstd.data<T>();
    T* pdx = dx.data<T>();
    T* pdw = mutable_or_null<T>(dweight);
    T* pdb = mutable_or_null<T>(dbias);
    const T slope = static_cast<T>(act.slope);
    const double M = static_cast<double>(v.count());
    for_each_channel(v, [&](int64_t c) {
      // gz: dy itself, or dy carried back through the activation, written to dx first (a plain
      // select loop the compiler vectorises; inside the lane sums it became a branch per value)
      // and turned into dx in place by the last loop.
      const T* g = pdy;
      if (act.kind != kernels::NormActKind::None) {
        for (int64_t n = 0; n < v.N; ++n) {
          const int64_t off = (n * v.C + c) * v.S;
          for (int64_t s = 0; s < v.S; ++s)
            pdx[off + s] = kernels::norm_act_backward(act.kind, slope, pdy[off + s], py[off + s]);
        }
        g = pdx;
      }
      const double mean = pm[c], invstd = pis[c];
      Lanes dy_lanes, dy_xc_lanes;
      for (int64_t n = 0; n < v.N; ++n) {
        const T* gr = g + (n * v.C + c) * v.S;
        const T* xr = px + (n * v.C + c) * v.S;
        for_lanes(v.S, [&](int j, int64_t s) {
          const double gs = static_cast<double>(gr[s]);
          dy_lanes.v[j] += gs;
          dy_xc_lanes.v[j] += gs * (static_cast<double>(xr[s]) - mean);
        });
      }
      const double sum_dy = dy_lanes.total(), sum_dy_xc = dy_xc_lanes.total();
      const double sum_dy_xhat = sum_dy_xc * invstd;
      if (pdw) pdw[c] = static_cast<T>(sum_dy_xhat);
      if (pdb) pdb[c] = static_cast<T>(sum_dy);
      const double k = (pw ? pw[c] : 1.0) * invstd;
      // dx = k gz - k mean(gz) - (x - mean) k invstd^2 mean(gz xc), folded into one multiply-add.
      const T a = static_cast<T>(k);
      const T b = static_cast<T>(k * invstd * invstd * sum_dy_xc / M);
      const T m = static_cast<T>(mean);
      const T d = static_cast<T>(k * sum_dy / M);
      for (int64_t n = 0; n < v.N; ++n) {
        const int64_t off = (n * v.C + c) * v.S;
        for (int64_t s = 0; s < v.S; ++s) pdx[off + s] = a * g[off + s] - b * (px[off + s] - m) - d;
      }
    });
  });
}

}  // namespace gan::cpu
