// CPU bias + activation over x viewed as [N, C, S], and its gradient. Rows of S contiguous values share one bias
// value; with S = 1 (x [N, C]) a row of C values meets the whole bias vector. Threads split the
// rows (or, with S = 1, the samples); each value depends on its inputs alone, so the result does
// not depend on the number of threads.
#include "engine/backend/bias_act.h"

#include <algorithm>

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

}  // namespace

void bias_act_forward(const Tensor& x, const Tensor& bias, const kernels::NormAct& act, Tensor& y) {
  GAN_DISPATCH_FLOAT_BF16(x.dtype(), "bias_act", [&] {
    using T = scalar_t;
    using Compute = typename kernels::NormActCompute<T>::type;
    const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(1, N * C);
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
    const T* g = dy.data<T>();
    const T* py = y.data<T>();
    T* pdx = dx.data<T>();
    const Compute slope = static_cast<Compute>(act.slope);
    const kernels::NormActKind kind = act.kind;
    // dbias as sum_to would sum dx to [1, C, 1, ...]: each dx value computed, stored and summed
    // as it is loaded.
    Shape os(dy.dim(), 1);
    os[1] = dy.size(1);
    reduce_sums(dy.shape(), os, dbias.data<T>(), [=](int64_t i) {
      const T v = static_cast<T>(
          kernels::norm_act_backward(kind, slope, static_cast<Compute>(g[i]), static_cast<Compute>(py[i])));
      pdx[i] = v;
      return static_cast<double>(v);
    });
  });
}

}  // namespace gan::cpu
