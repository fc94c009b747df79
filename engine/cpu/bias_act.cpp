// CPU bias + activation over x viewed as [N, C, S], and its gradient. Rows of S contiguous values
// share one bias value; with S = 1 (x [N, C]) a row of C values meets the whole bias vector.
// Forward: threads split the rows (or, with S = 1, the samples). Backward: threads split the
// channels, and each channel's bias gradient is added in sum_to's order. Neither result depends
// on the number of threads.
#include "engine/backend/bias_act.h"

#include <algorithm>
#include <vector>

#include "engine/cpu/ncs.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/reduce_sums.h"

namespace gan::cpu {

namespace {

// y[i] = act(x[i] + b) for one run of n values sharing one bias value. The parameters are locals
// (not reached through a pointer that y might alias), so the loop vectorises; x may equal y.
template <class T>
void run_shared_bias(const T* x, T b, kernels::NormActKind kind, typename kernels::NormActCompute<T>::type slope,
                     T* y, int64_t n) {
  for (int64_t s = 0; s < n; ++s) y[s] = kernels::bias_act_value(kind, slope, x[s], b);
}

// y[c] = act(x[c] + bias[c]) for one row of C values.
template <class T>
void run_bias_row(const T* x, const T* bias, kernels::NormActKind kind,
                  typename kernels::NormActCompute<T>::type slope, T* y, int64_t C) {
  for (int64_t c = 0; c < C; ++c) y[c] = kernels::bias_act_value(kind, slope, x[c], bias[c]);
}

// dx = g carried back through the activation (mask from y) for n contiguous values. Parameters,
// not captures, and restrict: a store to dx cannot change what the loop reads, so it vectorises.
template <class T, class Compute>
void masked_values(const T* __restrict g, const T* __restrict y, T* __restrict dx, int64_t n,
                   kernels::NormActKind kind, Compute slope) {
  for (int64_t s = 0; s < n; ++s) dx[s] = kernels::norm_act_backward_stored(kind, slope, g[s], y[s]);
}

// The same for one row of a Linear's [N, C], one value per channel: acc[c] += dx[c].
template <class T, class Compute>
void masked_row(const T* __restrict g, const T* __restrict y, T* __restrict dx, double* __restrict acc, int64_t n,
                kernels::NormActKind kind, Compute slope) {
  for (int64_t c = 0; c < n; ++c) {
    const T v = kernels::norm_act_backward_stored(kind, slope, g[c], y[c]);
    dx[c] = v;
    acc[c] += static_cast<double>(v);
  }
}

}  // namespace

void bias_act_forward(const Tensor& x, const Tensor& bias, const kernels::NormAct& act, Tensor& y) {
  GAN_DISPATCH_FLOAT_BF16(x.dtype(), "bias_act", [&] {
    using T = scalar_t;
    using Compute = typename kernels::NormActCompute<T>::type;
    const NCS v = ncs_of(x);
    const int64_t N = v.N, C = v.C, S = v.S;
    const T* px = x.data<T>();
    const T* pb = bias.data<T>();
    T* py = y.data<T>();
    const Compute slope = static_cast<Compute>(act.slope);
    const kernels::NormActKind kind = act.kind;
    if (S == 1) {
      parallel_for(
          N,
          [&](int64_t b, int64_t e) {
            for (int64_t n = b; n < e; ++n) run_bias_row(px + n * C, pb, kind, slope, py + n * C, C);
          },
          std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, C)));
      return;
    }
    parallel_for(
        N * C,
        [&](int64_t b, int64_t e) {
          for (int64_t r = b; r < e; ++r) run_shared_bias(px + r * S, pb[r % C], kind, slope, py + r * S, S);
        },
        std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, S)));
  });
}

void bias_act_backward(const Tensor& dy, const Tensor& y, const kernels::NormAct& act, Tensor& dx, Tensor& dbias) {
  GAN_DISPATCH_FLOAT_BF16(dy.dtype(), "bias_act_backward", [&] {
    using T = scalar_t;
    using Compute = typename kernels::NormActCompute<T>::type;
    const NCS v = ncs_of(dy);
    const int64_t N = v.N, C = v.C, S = v.S;
    const T* g = dy.data<T>();
    const T* py = y.data<T>();
    T* pdx = dx.data<T>();
    T* pdb = dbias.data<T>();
    const Compute slope = static_cast<Compute>(act.slope);
    const kernels::NormActKind kind = act.kind;
    auto masked = [=](int64_t i) { return pdx[i] = kernels::norm_act_backward_stored(kind, slope, g[i], py[i]); };
    if (C == 1 || N * S <= 1) {
      // One bias value (sum_to splits its reduction across threads) or one value per channel (no
      // addition at all): sum_to's own loops, loading each masked value as they sum it.
      Shape os(dy.dim(), 1);
      os[1] = C;
      reduce_sums(dy.shape(), os, pdb, [&](int64_t i) { return static_cast<double>(masked(i)); });
      return;
    }
    // sum_to adds channel c's values in the order of (n, s) and in double, one channel per thread.
    // Walking x in memory order with one accumulator per channel adds them in that same order, so
    // the bits are sum_to's, while g, y and dx are read and written contiguously.
    parallel_for(
        C,
        [&](int64_t c0, int64_t c1) {
          std::vector<double> acc(static_cast<size_t>(c1 - c0), 0.0);
          for (int64_t n = 0; n < N; ++n) {
            if (S == 1) {  // a Linear's [N, C]: one row, every channel once (the loop vectorises)
              masked_row(g + n * C + c0, py + n * C + c0, pdx + n * C + c0, acc.data(), c1 - c0, kind, slope);
              continue;
            }
            // The mask over this thread's channels of sample n (one contiguous block: it vectorises),
            // then each channel's run of S values added in order from L1. With the store inside the
            // chain of additions the loop ran 4x slower than the unfused pair.
            const int64_t block = (n * C + c0) * S;
            masked_values(g + block, py + block, pdx + block, (c1 - c0) * S, kind, slope);
            for (int64_t c = c0; c < c1; ++c) {
              const T* run = pdx + (n * C + c) * S;
              double a = acc[static_cast<size_t>(c - c0)];
              for (int64_t s = 0; s < S; ++s) a += static_cast<double>(run[s]);
              acc[static_cast<size_t>(c - c0)] = a;
            }
          }
          for (int64_t c = c0; c < c1; ++c) pdb[c] = reduce_detail::store_sum<T>(acc[static_cast<size_t>(c - c0)]);
        },
        std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, N * S)));
  });
}

}  // namespace gan::cpu
