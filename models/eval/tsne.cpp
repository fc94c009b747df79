#include "models/eval/tsne.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/error.h"
#include "engine/rng/generator.h"

namespace gan::models::eval {

std::vector<double> squared_distances(const Tensor& x) {
  GAN_CHECK(x.defined() && x.dim() == 2, "t-SNE: expected points [N, D], got " << (x.defined() ? x.str() : "nothing"));
  const std::vector<double> v = x.to_double_vector();
  const int64_t n = x.size(0), d = x.size(1);
  std::vector<double> out(static_cast<size_t>(n * n), 0.0);
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < d; ++k) {
        const double t = v[static_cast<size_t>(i * d + k)] - v[static_cast<size_t>(j * d + k)];
        s += t * t;
      }
      out[static_cast<size_t>(i * n + j)] = out[static_cast<size_t>(j * n + i)] = s;
    }
  return out;
}

Affinities conditional_affinities(const std::vector<double>& dist, int64_t n, double perplexity) {
  GAN_CHECK(static_cast<int64_t>(dist.size()) == n * n, "t-SNE: " << dist.size() << " distances for " << n << " points");
  GAN_CHECK(perplexity > 1 && perplexity < static_cast<double>(n - 1),
            "--perplexity " << perplexity << ": must lie between 1 and the number of points - 1 (" << n - 1 << ")");
  Affinities a;
  a.n = n;
  a.p.assign(static_cast<size_t>(n * n), 0.0);
  a.beta.assign(static_cast<size_t>(n), 1.0);
  a.entropy.assign(static_cast<size_t>(n), 0.0);
  const double target = std::log(perplexity);
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < n; ++i) {
    const double* d = &dist[static_cast<size_t>(i * n)];
    double* p = &a.p[static_cast<size_t>(i * n)];
    // Distances shifted by the nearest one: the same row after normalisation, and exp never
    // underflows to an all-zero row.
    double dmin = std::numeric_limits<double>::infinity(), dmean = 0;
    for (int64_t j = 0; j < n; ++j)
      if (j != i) dmin = std::min(dmin, d[j]), dmean += d[j];
    dmean = dmean / static_cast<double>(n - 1) - dmin;
    double beta = dmean > 0 ? 1.0 / dmean : 1.0, lo = 0, hi = std::numeric_limits<double>::infinity(), h = 0;
    for (int it = 0; it < 200; ++it) {
      double z = 0, dp = 0;
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const double s = d[j] - dmin, e = std::exp(-beta * s);
        p[j] = e;
        z += e;
        dp += s * e;
      }
      h = std::log(z) + beta * dp / z;  // entropy of the normalised row
      for (int64_t j = 0; j < n; ++j) p[j] /= z;
      if (std::abs(h - target) < 1e-10) break;
      if (h > target) {  // too flat: narrower kernel
        lo = beta;
        beta = std::isinf(hi) ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
    p[i] = 0;
    a.beta[static_cast<size_t>(i)] = beta;
    a.entropy[static_cast<size_t>(i)] = h;
  }
  return a;
}

TsneResult tsne(const Tensor& x, const TsneOptions& opt) {
  const int64_t n = x.defined() && x.dim() == 2 ? x.size(0) : 0, m = opt.dims;
  GAN_CHECK(n >= 4, "t-SNE: needs at least 4 points, got " << n);
  GAN_CHECK(m >= 1 && opt.iterations >= 1, "t-SNE: " << m << " dimensions and " << opt.iterations << " iterations");
  const Affinities a = conditional_affinities(squared_distances(x), n, opt.perplexity);
  std::vector<double> P(static_cast<size_t>(n * n));
  const double sym = 1.0 / (2.0 * static_cast<double>(n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      P[static_cast<size_t>(i * n + j)] =
          std::max((a.p[static_cast<size_t>(i * n + j)] + a.p[static_cast<size_t>(j * n + i)]) * sym, 1e-12);
  for (int64_t i = 0; i < n; ++i) P[static_cast<size_t>(i * n + i)] = 0;

  // Standard normal start scaled by 1e-4: Box-Muller on the seeded generator.
  Generator gen(opt.seed);
  std::vector<double> Y(static_cast<size_t>(n * m)), update(Y.size(), 0.0), gains(Y.size(), 1.0), grad(Y.size());
  for (size_t k = 0; k < Y.size(); ++k) {
    const double u1 = std::max(gen.uniform(), 1e-300), u2 = gen.uniform();
    Y[k] = 1e-4 * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }
  const double lr = opt.learning_rate > 0 ? opt.learning_rate
                                          : std::max(static_cast<double>(n) / opt.early_exaggeration, 50.0);
  std::vector<double> num(static_cast<size_t>(n * n));
  double z = 0;
  auto kernel = [&]() {  // num_ij = (1 + |y_i - y_j|^2)^-1 and their sum z
    double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t k = 0; k < m; ++k) {
          const double t = Y[static_cast<size_t>(i * m + k)] - Y[static_cast<size_t>(j * m + k)];
          s += t * t;
        }
        const double q = i == j ? 0.0 : 1.0 / (1.0 + s);
        num[static_cast<size_t>(i * n + j)] = q;
        total += q;
      }
    z = total;
  };
  for (int64_t it = 0; it < opt.iterations; ++it) {
    const bool early = it < opt.exaggeration_iterations;
    const double exag = early ? opt.early_exaggeration : 1.0, momentum = early ? 0.5 : 0.8;
    kernel();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t k = 0; k < m; ++k) grad[static_cast<size_t>(i * m + k)] = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double w = num[static_cast<size_t>(i * n + j)];
        const double f = 4.0 * (exag * P[static_cast<size_t>(i * n + j)] - w / z) * w;
        for (int64_t k = 0; k < m; ++k)
          grad[static_cast<size_t>(i * m + k)] += f * (Y[static_cast<size_t>(i * m + k)] - Y[static_cast<size_t>(j * m + k)]);
      }
    }
    for (size_t k = 0; k < Y.size(); ++k) {
      gains[k] = (grad[k] > 0) != (update[k] > 0) ? gains[k] + 0.2 : gains[k] * 0.8;
      gains[k] = std::max(gains[k], 0.01);
      update[k] = momentum * update[k] - lr * gains[k] * grad[k];
      Y[k] += update[k];
    }
    for (int64_t k = 0; k < m; ++k) {
      double mu = 0;
      for (int64_t i = 0; i < n; ++i) mu += Y[static_cast<size_t>(i * m + k)];
      mu /= static_cast<double>(n);
      for (int64_t i = 0; i < n; ++i) Y[static_cast<size_t>(i * m + k)] -= mu;
    }
  }
  kernel();
  TsneResult r;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const double p = P[static_cast<size_t>(i * n + j)], q = std::max(num[static_cast<size_t>(i * n + j)] / z, 1e-300);
      r.kl += p * std::log(p / q);
    }
  r.embedding = Tensor::from_vector(Y, {n, m});
  r.entropy = a.entropy;
  return r;
}

}  // namespace gan::models::eval
