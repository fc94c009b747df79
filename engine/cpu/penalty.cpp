// CPU WGAN-GP primitives: the reference for the CUDA kernels. Norms and the penalty sum accumulate in
// double.
#include "engine/backend/penalty.h"

#include <cmath>

#include "engine/cpu/parallel.h"

namespace gan::cpu {

namespace {
int64_t per_sample(const Tensor& t) { return t.shape()[0] ? t.numel() / t.shape()[0] : 0; }
}  // namespace

void interpolate_per_sample(const Tensor& real, const Tensor& fake, const Tensor& eps, Tensor& out) {
  GAN_DISPATCH_FLOAT(out.dtype(), "interpolate", [&] {
    using T = scalar_t;
    const T *r = real.data<T>(), *f = fake.data<T>(), *e = eps.data<T>();
    T* o = out.data<T>();
    const int64_t n = real.shape()[0], m = per_sample(real);
    parallel_for(n * m, [&](int64_t b, int64_t end) {
      for (int64_t i = b; i < end; ++i) {
        const T a = e[i / m];
        o[i] = a * r[i] + (T(1) - a) * f[i];
      }
    });
  });
}

void gradient_penalty_forward(const Tensor& g, double lambda, Tensor& norms, Tensor& penalty) {
  GAN_DISPATCH_FLOAT(g.dtype(), "gradient_penalty", [&] {
    using T = scalar_t;
    const T* pg = g.data<T>();
    T* pn = norms.data<T>();
    const int64_t n = g.shape()[0], m = per_sample(g);
    parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t s = b; s < e; ++s) {
        double acc = 0;
        for (int64_t i = 0; i < m; ++i) acc += double(pg[s * m + i]) * pg[s * m + i];
        pn[s] = static_cast<T>(std::sqrt(acc));
      }
    }, 1);
    double total = 0;
    for (int64_t s = 0; s < n; ++s) {
      const double d = double(pn[s]) - 1.0;
      total += d * d;
    }
    penalty.data<T>()[0] = static_cast<T>(lambda * total / static_cast<double>(n));
  });
}

void gradient_penalty_backward(const Tensor& g, const Tensor& norms, const Tensor& dpenalty, double lambda, Tensor& dg) {
  GAN_DISPATCH_FLOAT(g.dtype(), "gradient_penalty_backward", [&] {
    using T = scalar_t;
    const T *pg = g.data<T>(), *pn = norms.data<T>();
    T* out = dg.data<T>();
    const int64_t n = g.shape()[0], m = per_sample(g);
    const double scale = double(dpenalty.data<T>()[0]) * lambda * 2.0 / static_cast<double>(n);
    parallel_for(n * m, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const double norm = pn[i / m];
        // A zero gradient has no direction: its norm's subgradient 0 is used, as torch does.
        const double coef = norm == 0.0 ? 0.0 : scale * (norm - 1.0) / norm;
        out[i] = static_cast<T>(coef) * pg[i];
      }
    });
  });
}

}  // namespace gan::cpu
