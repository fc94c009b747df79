// CPU fused losses.
#include "engine/backend/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

// GCC 12 reports its own AVX-512 intrinsics' `__Y = __Y` idiom, inlined from Eigen's packet math,
// as maybe-uninitialized: a false positive, silenced for the headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include "engine/cpu/parallel.h"
#include "kernels/class_ids.h"

namespace gan::cpu {

// One exp per element gives both terms: with e = exp(-|x|),
//   bce = max(x, 0) - x t + log1p(e),   sigmoid(x) = x >= 0 ? 1 / (1 + e) : e / (1 + e),
// neither of which overflows for any finite x. The sum is taken over fixed-size blocks whose
// partial sums are added in order, so the value does not depend on the number of threads.
void bce_with_logits_fused(const Tensor& logits, const Tensor& targets, double target, Tensor& loss_sum,
                           Tensor& dlogits, double grad_scale) {
  GAN_DISPATCH_FLOAT(logits.dtype(), "bce_with_logits", [&] {
    using T = scalar_t;
    const T* px = logits.data<T>();
    const T* pt = targets.defined() ? targets.data<T>() : nullptr;
    T* pd = dlogits.data<T>();
    const int64_t n = logits.numel();
    constexpr int64_t kBlock = 8192;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    std::vector<double> partial(static_cast<size_t>(blocks), 0.0);
    parallel_for(
        blocks,
        [&](int64_t b0, int64_t b1) {
          for (int64_t blk = b0; blk < b1; ++blk) {
            double acc = 0;
            const int64_t end = std::min(n, (blk + 1) * kBlock);
            for (int64_t i = blk * kBlock; i < end; ++i) {
              const T x = px[i];
              const T t = pt ? pt[i] : static_cast<T>(target);
              const T e = std::exp(-std::abs(x));
              acc += static_cast<double>(std::max(x, T(0)) - x * t) + static_cast<double>(std::log1p(e));
              const T sig = x >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
              pd[i] = static_cast<T>((sig - t) * grad_scale);
            }
            partial[blk] = acc;
          }
        },
        std::max<int64_t>(1, kParallelGrain / kBlock));
    double total = 0;
    for (double p : partial) total += p;
    *loss_sum.data<T>() = static_cast<T>(total);
  });
}

// Softmax cross-entropy, one row at a time: the row max m, then e_k = exp(x_k - m) (kept in dlogits,
// or in a scratch row) with their sum S and the sum of the logits, so that
//   loss = m + log S - (1 - s) x_t - (s / K) sum_k x_k,   dlogits_k = (e_k / S - q_k) * scale.
// The row maps are Eigen arrays so that exp runs vectorised (Eigen's SIMD exp; a scalar std::exp
// loop is ~10x slower at [65536, 1000]); the two sums are taken in double. Rows are grouped into
// fixed blocks whose partial losses are added in order, so the total does not depend on the
// number of threads.
void softmax_cross_entropy_fused(const Tensor& logits, const Tensor& targets, double label_smoothing, Tensor& loss,
                                 Tensor& dlogits, double grad_scale) {
  GAN_DISPATCH_FLOAT(logits.dtype(), "softmax_cross_entropy", [&] {
    using T = scalar_t;
    using Row = Eigen::Array<T, Eigen::Dynamic, 1>;
    auto run = [&](auto id_tag) {
      using I = decltype(id_tag);
      const T* px = logits.data<T>();
      const I* pt = targets.defined() ? targets.data<I>() : nullptr;
      T* pd = dlogits.defined() ? dlogits.data<T>() : nullptr;
      const bool rows_out = loss.defined() && loss.dim() == 1;
      T* pl = loss.defined() ? loss.data<T>() : nullptr;
      const int64_t n = logits.shape()[0], k = logits.shape()[1];
      const double off = pt ? label_smoothing / static_cast<double>(k) : 0.0;  // q_k off the target
      const double hit = pt ? 1.0 - label_smoothing : 0.0;                       // q_t - off
      const int64_t rows_per_block = std::max<int64_t>(1, 8192 / std::max<int64_t>(k, 1));
      const int64_t blocks = (n + rows_per_block - 1) / rows_per_block;
      std::vector<double> partial(static_cast<size_t>(blocks), 0.0);
      parallel_for(
          blocks,
          [&](int64_t b0, int64_t b1) {
            Row scratch(pd ? 0 : k);
            for (int64_t blk = b0; blk < b1; ++blk) {
              double acc = 0;
              const int64_t end = std::min(n, (blk + 1) * rows_per_block);
              for (int64_t row = blk * rows_per_block; row < end; ++row) {
                Eigen::Map<const Row> x(px + row * k, k);
                Eigen::Map<Row> e(pd ? pd + row * k : scratch.data(), k);
                const int64_t t = pt ? hd::class_id(pt[row], k) : 0;
                if (t < 0) {  // a bad target (the op has thrown before this on the CPU)
                  if (pd) e.setConstant(hd::quiet_nan<T>());
                  if (rows_out) pl[row] = hd::quiet_nan<T>();
                  acc = hd::quiet_nan<double>();
                  continue;
                }
                const T m = x.maxCoeff();
                e = (x - m).exp();
                const double se = e.template cast<double>().sum();
                if (pt) {
                  const double sx = off != 0 ? x.template cast<double>().sum() : 0.0;
                  const double l = static_cast<double>(m) + std::log(se) - hit * static_cast<double>(x[t]) - off * sx;
                  if (rows_out) pl[row] = static_cast<T>(l);
                  acc += l;
                }
                if (pd) {
                  e = (e * static_cast<T>(1.0 / se) - static_cast<T>(off)) * static_cast<T>(grad_scale);
                  e[t] -= static_cast<T>(hit * grad_scale);
                }
              }
              partial[blk] = acc;
            }
          },
          1);
      if (pl && !rows_out) {
        double total = 0;
        for (double p : partial) total += p;
        *pl = static_cast<T>(total);
      }
    };
    if (targets.defined())
      GAN_DISPATCH_FLOAT(targets.dtype(), "softmax_cross_entropy", [&] { run(scalar_t{}); });
    else
      run(T{});
  });
}

}  // namespace gan::cpu
