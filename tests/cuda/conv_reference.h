// Naive float64 references for the CUDA convolution and batch-norm tests: the definitions
// written as plain loops, independent of every kernel and of the CPU backend.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/conv_problem.cuh"

namespace gan::test {

using kernels::Conv2dShape;

inline int64_t x_index(const Conv2dShape& s, int64_t n, int64_t c, int64_t h, int64_t w) {
  return ((n * s.C + c) * s.H + h) * s.W + w;
}
inline int64_t w_index(const Conv2dShape& s, int64_t k, int64_t c, int64_t r, int64_t q) {
  return ((k * s.C + c) * s.R + r) * s.S + q;
}
inline int64_t y_index(const Conv2dShape& s, int64_t n, int64_t k, int64_t p, int64_t q) {
  return ((n * s.K + k) * s.P + p) * s.Q + q;
}

// Calls f(n, k, p, q, c, r, s, h, w) for every (output pixel, tap) pair that lands inside x.
template <class F>
void for_each_tap(const Conv2dShape& s, F&& f) {
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t p = 0; p < s.P; ++p)
        for (int64_t q = 0; q < s.Q; ++q)
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t r = 0; r < s.R; ++r)
              for (int64_t t = 0; t < s.S; ++t) {
                const int64_t h = p * s.stride_h - s.pad_h + r, w = q * s.stride_w - s.pad_w + t;
                if (h < 0 || h >= s.H || w < 0 || w >= s.W) continue;
                f(n, k, p, q, c, r, t, h, w);
              }
}

inline std::vector<double> ref_conv_forward(const Conv2dShape& s, const std::vector<double>& x,
                                            const std::vector<double>& w) {
  std::vector<double> y(static_cast<size_t>(s.N * s.K * s.P * s.Q), 0.0);
  for_each_tap(s, [&](int64_t n, int64_t k, int64_t p, int64_t q, int64_t c, int64_t r, int64_t t, int64_t h,
                      int64_t ww) { y[y_index(s, n, k, p, q)] += x[x_index(s, n, c, h, ww)] * w[w_index(s, k, c, r, t)]; });
  return y;
}

inline std::vector<double> ref_conv_backward_data(const Conv2dShape& s, const std::vector<double>& dy,
                                                  const std::vector<double>& w) {
  std::vector<double> dx(static_cast<size_t>(s.N * s.C * s.H * s.W), 0.0);
  for_each_tap(s, [&](int64_t n, int64_t k, int64_t p, int64_t q, int64_t c, int64_t r, int64_t t, int64_t h,
                      int64_t ww) { dx[x_index(s, n, c, h, ww)] += dy[y_index(s, n, k, p, q)] * w[w_index(s, k, c, r, t)]; });
  return dx;
}

inline std::vector<double> ref_conv_backward_weight(const Conv2dShape& s, const std::vector<double>& x,
                                                    const std::vector<double>& dy) {
  std::vector<double> dw(static_cast<size_t>(s.K * s.C * s.R * s.S), 0.0);
  for_each_tap(s, [&](int64_t n, int64_t k, int64_t p, int64_t q, int64_t c, int64_t r, int64_t t, int64_t h,
                      int64_t ww) { dw[w_index(s, k, c, r, t)] += x[x_index(s, n, c, h, ww)] * dy[y_index(s, n, k, p, q)]; });
  return dw;
}

// Output size of a convolution (floor), as conv2d defines it.
inline int64_t conv_out(int64_t in, int64_t k, int64_t stride, int64_t pad) { return (in + 2 * pad - k) / stride + 1; }

// ||a - b|| / ||b||; infinite when a holds a NaN (an unwritten poisoned element).
inline double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  if (a.size() != b.size()) return INFINITY;
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// ---- batch norm over x viewed as [N, C, S] ----

struct BnRef {
  std::vector<double> y, mean, invstd, running_mean, running_var;
};

inline BnRef ref_bn_train(const std::vector<double>& x, int64_t N, int64_t C, int64_t S, const double* w,
                          const double* b, const std::vector<double>& rm, const std::vector<double>& rv,
                          double momentum, double eps) {
  BnRef r;
  r.y.assign(x.size(), 0.0);
  r.mean.assign(C, 0.0), r.invstd.assign(C, 0.0);
  r.running_mean = rm, r.running_var = rv;
  const double M = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) sum += x[(n * C + c) * S + s];
    const double mean = sum / M;
    double sq = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) sq += (x[(n * C + c) * S + s] - mean) * (x[(n * C + c) * S + s] - mean);
    const double var = sq / M, invstd = 1.0 / std::sqrt(var + eps);
    r.mean[c] = mean, r.invstd[c] = invstd;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        r.y[i] = (x[i] - mean) * invstd * (w ? w[c] : 1.0) + (b ? b[c] : 0.0);
      }
    if (!rm.empty()) {
      r.running_mean[c] = (1 - momentum) * rm[c] + momentum * mean;
      r.running_var[c] = (1 - momentum) * rv[c] + momentum * var * M / (M - 1);
    }
  }
  return r;
}

struct BnGradRef {
  std::vector<double> dx, dweight, dbias;
};

// From the definition: y = xhat w + b with xhat = (x - mean(x)) / sqrt(var(x) + eps), differentiated
// through mean and var (the three-term formula is what the kernels use; this is the textbook form).
inline BnGradRef ref_bn_backward(const std::vector<double>& dy, const std::vector<double>& x, int64_t N, int64_t C,
                                 int64_t S, const double* w, double eps) {
  BnGradRef g;
  g.dx.assign(x.size(), 0.0), g.dweight.assign(C, 0.0), g.dbias.assign(C, 0.0);
  const double M = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    auto at = [&](int64_t n, int64_t s) { return (n * C + c) * S + s; };
    double mean = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) mean += x[at(n, s)];
    mean /= M;
    double var = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) var += (x[at(n, s)] - mean) * (x[at(n, s)] - mean);
    var /= M;
    const double is = 1.0 / std::sqrt(var + eps), wc = w ? w[c] : 1.0;
    // dL/dxhat, then dL/dvar and dL/dmean, then dL/dx (Ioffe & Szegedy's chain).
    double dvar = 0, dmean = 0, sum_xc = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const double xc = x[at(n, s)] - mean, dxhat = dy[at(n, s)] * wc;
        dvar += dxhat * xc * -0.5 * is * is * is;
        dmean += -dxhat * is;
        sum_xc += xc;
        g.dbias[c] += dy[at(n, s)];
        g.dweight[c] += dy[at(n, s)] * xc * is;
      }
    dmean += dvar * -2.0 * sum_xc / M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const double xc = x[at(n, s)] - mean;
        g.dx[at(n, s)] = dy[at(n, s)] * wc * is + dvar * 2.0 * xc / M + dmean / M;
      }
  }
  return g;
}

}  // namespace gan::test
