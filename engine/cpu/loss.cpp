// CPU fused losses.
#include "engine/backend/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/parallel.h"

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

}  // namespace gan::cpu
