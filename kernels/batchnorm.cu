// Batch-norm kernels (see batchnorm.cuh).
#include "kernels/batchnorm.cuh"

#include <algorithm>
#include <cstdint>

#include "kernels/batchnorm_walk.cuh"
#include "kernels/divmod.cuh"
#include "kernels/norm_act.h"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kCachePacks = 4;              // packs per thread the per-channel kernels keep in registers
constexpr int64_t kPerChannelMax = 4096;    // values per channel up to which one block per channel wins
constexpr int64_t kMinPerThread = 8;        // values per thread below which a channel is not split further
// Values per channel / per image stay below 2^31 with room for a block-stride step past the end.
constexpr int64_t kIndexLimit = (int64_t{1} << 31) - (int64_t{1} << 20);

// V consecutive values moved as one aligned vector access.
template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// Sums a and b over the block; every thread gets the totals. Fixed order: deterministic.
__device__ __forceinline__ void block_sum2(double& a, double& b, double* red /* [2 kWarps] */) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int off = 16; off > 0; off /= 2) {
    a += __shfl_down_sync(0xffffffffu, a, off);
    b += __shfl_down_sync(0xffffffffu, b, off);
  }
  if (lane == 0) red[warp] = a, red[kWarps + warp] = b;
  __syncthreads();
  if (warp == 0) {
    a = lane < kWarps ? red[lane] : 0.0;
    b = lane < kWarps ? red[kWarps + lane] : 0.0;
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
      a += __shfl_down_sync(0xffffffffu, a, off);
      b += __shfl_down_sync(0xffffffffu, b, off);
    }
    if (lane == 0) red[0] = a, red[kWarps] = b;
  }
  __syncthreads();
  a = red[0], b = red[kWarps];
  __syncthreads();  // red may be reused after
}

// ---- training forward ------------------------------------------------------------------------

// Statistics from sums of (x - shift) and (x - shift)^2, shift = the channel's first value: in
// double, and centred near the mean, E[d^2] - E[d]^2 loses nothing that matters.
struct Stats {
  double mean, var, invstd;
};

__device__ __forceinline__ Stats stats_of(double s1, double s2, double shift, double M, double eps) {
  const double md = s1 / M;
  Stats st;
  st.mean = shift + md;
  st.var = fmax(s2 / M - md * md, 0.0);
  st.invstd = 1.0 / sqrt(st.var + eps);
  return st;
}

template <class T>
__device__ __forceinline__ void write_stats(int c, const Stats& st, double M, T* save_mean, T* save_invstd,
                                            T* running_mean, T* running_var, double momentum) {
  save_mean[c] = static_cast<T>(st.mean);
  save_invstd[c] = static_cast<T>(st.invstd);
  if (running_mean) {
    // The running variance estimates the population variance: unbiased, M / (M - 1).
    running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * st.mean);
    running_var[c] = static_cast<T>((1 - momentum) * running_var[c] + momentum * st.var * M / (M - 1));
  }
}

template <class T, int V>
__device__ __forceinline__ void accum_centered(const Pack<T, V>& p, double shift, double& s1, double& s2) {
#pragma unroll
  for (int k = 0; k < V; ++k) {
    const double d = static_cast<double>(p.v[k]) - shift;
    s1 += d;
    s2 += d * d;
  }
}

// The fused activation after the training forward's normalisation: a run-time kind, the same for
// every thread (a uniform branch), and its slope in T.
template <class T>
struct Act {
  NormActKind kind;
  T slope;
};
template <class T>
Act<T> act_of(const NormAct& a) {
  return Act<T>{a.kind, static_cast<T>(a.slope)};
}

template <class T, int V>
__device__ __forceinline__ Pack<T, V> normalize(Pack<T, V> p, T mu, T scale, T shift) {
#pragma unroll
  for (int k = 0; k < V; ++k) p.v[k] = (p.v[k] - mu) * scale + shift;
  return p;
}

template <class T, int V>
__device__ __forceinline__ Pack<T, V> normalize_act(Pack<T, V> p, T mu, T scale, T shift, Act<T> act) {
#pragma unroll
  for (int k = 0; k < V; ++k) p.v[k] = norm_act_forward(act.kind, act.slope, (p.v[k] - mu) * scale + shift);
  return p;
}

template <class T, int V>
__global__ void __launch_bounds__(kThreads)
    batchnorm_fwd_train_channel_v1(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                   T* __restrict__ y, T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                   ChannelWalk cw, double momentum, double eps, Act<T> act) {
  __shared__ double red[2 * kWarps];
  using P = Pack<T, V>;
  const P* xp = reinterpret_cast<const P*>(x);
  P* yp = reinterpret_cast<P*>(y);
  const int c = blockIdx.x, tid = threadIdx.x;
  const double M = static_cast<double>(cw.Mv) * V;
  const double shift = static_cast<double>(x[cw.offset(c, 0) * V]);
  const bool cached = cw.Mv <= kThreads * kCachePacks;

  P reg[kCachePacks];
  double s1 = 0, s2 = 0;
  if (cached) {
#pragma unroll
    for (int i = 0; i < kCachePacks; ++i) {
      const int e = tid + i * kThreads;
      if (e < cw.Mv) {
        reg[i] = xp[cw.offset(c, e)];
        accum_centered(reg[i], shift, s1, s2);
      }
    }
  } else {
    for (int e = tid; e < cw.Mv; e += kThreads) accum_centered(xp[cw.offset(c, e)], shift, s1, s2);
  }
  block_sum2(s1, s2, red);
  const Stats st = stats_of(s1, s2, shift, M, eps);
  if (tid == 0) write_stats(c, st, M, save_mean, save_invstd, running_mean, running_var, momentum);

  const T mu = static_cast<T>(st.mean);
  const T scale = static_cast<T>(w ? w[c] * st.invstd : st.invstd);
  const T sh = b ? b[c] : T(0);
  if (cached) {
#pragma unroll
    for (int i = 0; i < kCachePacks; ++i) {
      const int e = tid + i * kThreads;
      if (e < cw.Mv) yp[cw.offset(c, e)] = normalize_act(reg[i], mu, scale, sh, act);
    }
  } else {
    for (int e = tid; e < cw.Mv; e += kThreads) {
      const int64_t o = cw.offset(c, e);
      yp[o] = normalize_act(xp[o], mu, scale, sh, act);
    }
  }
}

// Folds channel c's G partial pairs (same order in every block of the channel).
__device__ __forceinline__ void fold_partials(const double* partial, int c, int G, double& a, double& b,
                                              double* red) {
  a = 0, b = 0;
  for (int i = threadIdx.x; i < G; i += kThreads) {
    a += partial[(static_cast<int64_t>(c) * G + i) * 2];
    b += partial[(static_cast<int64_t>(c) * G + i) * 2 + 1];
  }
  block_sum2(a, b, red);
}

template <class T, int V>
__global__ void __launch_bounds__(kThreads)
    batchnorm_fwd_partial_v1(const T* __restrict__ x, ChannelWalk cw, int G, double* __restrict__ partial) {
  __shared__ double red[2 * kWarps];
  using P = Pack<T, V>;
  const P* xp = reinterpret_cast<const P*>(x);
  const ChannelSlice sl = channel_slice(blockIdx.x, G, cw.Mv);
  const double shift = static_cast<double>(x[cw.offset(sl.c, 0) * V]);
  double s1 = 0, s2 = 0;
  for (int e = sl.e0 + threadIdx.x; e < sl.e1; e += kThreads) accum_centered(xp[cw.offset(sl.c, e)], shift, s1, s2);
  block_sum2(s1, s2, red);
  if (threadIdx.x == 0) {
    partial[static_cast<int64_t>(blockIdx.x) * 2] = s1;
    partial[static_cast<int64_t>(blockIdx.x) * 2 + 1] = s2;
  }
}

template <class T, int V>
__global__ void __launch_bounds__(kThreads)
    batchnorm_fwd_apply_v1(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                           T* __restrict__ y, T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                           ChannelWalk cw, int G, const double* __restrict__ partial, double momentum, double eps,
                           Act<T> act) {
  __shared__ double red[2 * kWarps];
  using P = Pack<T, V>;
  const P* xp = reinterpret_cast<const P*>(x);
  P* yp = reinterpret_cast<P*>(y);
  const ChannelSlice sl = channel_slice(blockIdx.x, G, cw.Mv);
  const double M = static_cast<double>(cw.Mv) * V;
  double s1, s2;
  fold_partials(partial, sl.c, G, s1, s2, red);
  const double shift = static_cast<double>(x[cw.offset(sl.c, 0) * V]);
  const Stats st = stats_of(s1, s2, shift, M, eps);
  if (sl.g == 0 && threadIdx.x == 0)
    write_stats(sl.c, st, M, save_mean, save_invstd, running_mean, running_var, momentum);
  const T mu = static_cast<T>(st.mean);
  const T scale = static_cast<T>(w ? w[sl.c] * st.invstd : st.invstd);
  const T sh = b ? b[sl.c] : T(0);
  for (int e = sl.e0 + threadIdx.x; e < sl.e1; e += kThreads) {
    const int64_t o = cw.offset(sl.c, e);
    yp[o] = normalize_act(xp[o], mu, scale, sh, act);
  }
}

// ---- eval forward ----------------------------------------------------------------------------

// Grid: x over the packs of one image, y over images (looping past 65535).
template <class T, int V>
__global__ void __launch_bounds__(kThreads)
    batchnorm_fwd_eval_v1(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                          const T* __restrict__ rm, const T* __restrict__ rv, T* __restrict__ y, FastDivmod div_Sv,
                          int64_t CSv, int64_t N, double eps) {
  using P = Pack<T, V>;
  const P* xp = reinterpret_cast<const P*>(x);
  P* yp = reinterpret_cast<P*>(y);
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < CSv;
         i += static_cast<int64_t>(gridDim.x) * kThreads) {
      const int c = static_cast<int>(div_Sv.div(static_cast<uint32_t>(i)));
      const double invstd = 1.0 / sqrt(static_cast<double>(rv[c]) + eps);
      const T scale = static_cast<T>(w ? w[c] * invstd : invstd);
      const T sh = b ? b[c] : T(0);
      const int64_t o = n * CSv + i;
      yp[o] = normalize(xp[o], rm[c], scale, sh);
    }
  }
}

// ---- backward --------------------------------------------------------------------------------

template <class T, int V>
__device__ __forceinline__ void accum_grad(const Pack<T, V>& g, const Pack<T, V>& xv, double mean, double& sdy,
                                           double& sdyxc) {
#pragma unroll
  for (int k = 0; k < V; ++k) {
    const double gd = static_cast<double>(g.v[k]);
    sdy += gd;
    sdyxc += gd * (static_cast<double>(xv.v[k]) - mean);
  }
}

// The gradient reaching the normalised value at pack o: dy, or dy carried back through the fused
// activation, whose mask comes from its output y (null without an activation).
template <class T, int V>
__device__ __forceinline__ Pack<T, V> grad_in(const Pack<T, V>* __restrict__ gp, const Pack<T, V>* __restrict__ yp,
                                              int64_t o, Act<T> act) {
  Pack<T, V> g = gp[o];
  if (yp) {
    const Pack<T, V> yv = yp[o];
#pragma unroll
    for (int k = 0; k < V; ++k) g.v[k] = norm_act_backward(act.kind, act.slope, g.v[k], yv.v[k]);
  }
  return g;
}

// dx = a dy - bc (x - m) - d, the coefficients folded once per channel.
template <class T>
struct DxCoef {
  T a, bc, m, d;
};

template <class T>
__device__ __forceinline__ DxCoef<T> dx_coef(const T* w, int c, double mean, double invstd, double sdy, double sdyxc,
                                             double M) {
  const double k = (w ? static_cast<double>(w[c]) : 1.0) * invstd;
  return DxCoef<T>{static_cast<T>(k), static_cast<T>(k * invstd * invstd * sdyxc / M), static_cast<T>(mean),
                   static_cast<T>(k * sdy / M)};
}

template <class T, int V>
__device__ __forceinline__ Pack<T, V> dx_of(const Pack<T, V>& g, const Pack<T, V>& xv, const DxCoef<T>& q) {
  Pack<T, V> r;
#pragma unroll
  for (int k = 0; k < V; ++k) r.v[k] = q.a * g.v[k] - q.bc * (xv.v[k] - q.m) - q.d;
  return r;
}

template <class T, int V>
__global__ void __launch_bounds__(kThreads)
    batchnorm_bwd_channel_v1(const T* __restrict__ dy, const T* __restrict__ y, Act<T> act, const T* __restrict__ x,
                             const T* __restrict__ w, const T* __restrict__ save_mean,
                             const T* __restrict__ save_invstd, T* __restrict__ dx, T* __restrict__ dweight,
                             T* __restrict__ dbias, ChannelWalk cw) {
  __shared__ double red[2 * kWarps];
  using P = Pack<T, V>;
  const P* gp = reinterpret_cast<const P*>(dy);
  const P* yp = reinterpret_cast<const P*>(y);
  const P* xp = reinterpret_cast<const P*>(x);
  P* dxp = reinterpret_cast<P*>(dx);
  const int c = blockIdx.x, tid = threadIdx.x;
  const double M = static_cast<double>(cw.Mv) * V;
  const double mean = save_mean[c], invstd = save_invstd[c];
  const bool cached = cw.Mv <= kThreads * kCachePacks;

  P rg[kCachePacks], rx[kCachePacks];
  double sdy = 0, sdyxc = 0;
  if (cached) {
#pragma unroll
    for (int i = 0; i < kCachePacks; ++i) {
      const int e = tid + i * kThreads;
      if (e < cw.Mv) {
        const int64_t o = cw.offset(c, e);
        rg[i] = grad_in(gp, yp, o, act);
        rx[i] = xp[o];
        accum_grad(rg[i], rx[i], mean, sdy, sdyxc);
      }
    }
  } else {
    for (int e = tid; e < cw.Mv; e += kThreads) {
      const int64_t o = cw.offset(c, e);
      accum_grad(grad_in(gp, yp, o, act), xp[o], mean, sdy, sdyxc);
    }
  }
  block_sum2(sdy, sdyxc, red);
  if (tid == 0) {
    if (dweight) dweight[c] = static_cast<T>(sdyxc * invstd);
    if (dbias) dbias[c] = static_cast<T>(sdy);
  }
  if (!dx) return;
  const DxCoef<T> q = dx_coef(w, c, mean, invstd, sdy, sdyxc, M);
  if (cached) {
#pragma unroll
    for (int i = 0; i < kCachePacks; ++i) {
      const int e = tid + i * kThreads;
      if (e < cw.Mv) dxp[cw.offset(c, e)] = dx_of(rg[i], rx[i], q);
    }
  } else {
    for (int e = tid; e < cw.Mv; e += kThreads) {
      const int64_t o = cw.offset(c, e);
      dxp[o] = dx_of(grad_in(gp, yp, o, act), xp[o], q);
    }
  }
}

template <class T, int V>
__global__ void __launch_bounds__(kThreads)
    batchnorm_bwd_partial_v1(const T* __restrict__ dy, const T* __restrict__ y, Act<T> act, const T* __restrict__ x,
                             const T* __restrict__ save_mean, ChannelWalk cw, int G, double* __restrict__ partial) {
  __shared__ double red[2 * kWarps];
  using P = Pack<T, V>;
  const P* gp = reinterpret_cast<const P*>(dy);
  const P* yp = reinterpret_cast<const P*>(y);
  const P* xp = reinterpret_cast<const P*>(x);
  const ChannelSlice sl = channel_slice(blockIdx.x, G, cw.Mv);
  const double mean = save_mean[sl.c];
  double sdy = 0, sdyxc = 0;
  for (int e = sl.e0 + threadIdx.x; e < sl.e1; e += kThreads) {
    const int64_t o = cw.offset(sl.c, e);
    accum_grad(grad_in(gp, yp, o, act), xp[o], mean, sdy, sdyxc);
  }
  block_sum2(sdy, sdyxc, red);
  if (threadIdx.x == 0) {
    partial[static_cast<int64_t>(blockIdx.x) * 2] = sdy;
    partial[static_cast<int64_t>(blockIdx.x) * 2 + 1] = sdyxc;
  }
}

template <class T, int V>
__global__ void __launch_bounds__(kThreads)
    batchnorm_bwd_apply_v1(const T* __restrict__ dy, const T* __restrict__ y, Act<T> act, const T* __restrict__ x,
                           const T* __restrict__ w, const T* __restrict__ save_mean,
                           const T* __restrict__ save_invstd, T* __restrict__ dx, T* __restrict__ dweight,
                           T* __restrict__ dbias, ChannelWalk cw, int G, const double* __restrict__ partial) {
  __shared__ double red[2 * kWarps];
  using P = Pack<T, V>;
  const P* gp = reinterpret_cast<const P*>(dy);
  const P* yp = reinterpret_cast<const P*>(y);
  const P* xp = reinterpret_cast<const P*>(x);
  P* dxp = reinterpret_cast<P*>(dx);
  const ChannelSlice sl = channel_slice(blockIdx.x, G, cw.Mv);
  const double M = static_cast<double>(cw.Mv) * V;
  double sdy, sdyxc;
  fold_partials(partial, sl.c, G, sdy, sdyxc, red);
  const double mean = save_mean[sl.c], invstd = save_invstd[sl.c];
  if (sl.g == 0 && threadIdx.x == 0) {
    if (dweight) dweight[sl.c] = static_cast<T>(sdyxc * invstd);
    if (dbias) dbias[sl.c] = static_cast<T>(sdy);
  }
  if (!dx) return;
  const DxCoef<T> q = dx_coef(w, sl.c, mean, invstd, sdy, sdyxc, M);
  for (int e = sl.e0 + threadIdx.x; e < sl.e1; e += kThreads) {
    const int64_t o = cw.offset(sl.c, e);
    dxp[o] = dx_of(grad_in(gp, yp, o, act), xp[o], q);
  }
}

// ---- planning --------------------------------------------------------------------------------

struct BnPlan {
  bool per_channel;
  int G;  // blocks per channel when split
};

BnPlan make_plan(const BatchNormShape& s, int sms) {
  sms = std::max(sms, 1);
  const int64_t M = s.N * s.S;
  BnPlan p{};
  p.per_channel = M <= kPerChannelMax || s.C >= 4 * sms;
  p.G = 1;
  if (!p.per_channel) {
    const int64_t want = (int64_t{8} * sms + s.C - 1) / s.C;
    const int64_t most = std::max<int64_t>(1, M / (kThreads * kMinPerThread));
    p.G = static_cast<int>(std::max<int64_t>(1, std::min(want, most)));
  }
  return p;
}

bool aligned(const void* p, size_t bytes) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Widest pack width for which every channel run (S values) splits into whole aligned packs.
template <class T>
int pack_width(int64_t S, std::initializer_list<const void*> ptrs) {
  const int v = sizeof(T) == 4 ? 4 : 2;
  if (S % v != 0) return 1;
  for (const void* p : ptrs)
    if (!aligned(p, sizeof(T) * v)) return 1;
  return v;
}

ChannelWalk channel_walk(const BatchNormShape& s, int V) { return ChannelWalk(s.N, s.C, s.S, V); }

template <class T, int V>
cudaError_t fwd_train(const T* x, const T* w, const T* b, const NormAct& na, T* y, T* sm, T* si, T* rm, T* rv,
                      const BatchNormShape& s, double momentum, double eps, void* workspace, int sms,
                      cudaStream_t stream) {
  const Act<T> act = act_of<T>(na);
  const BnPlan pl = make_plan(s, sms);
  const ChannelWalk cw = channel_walk(s, V);
  if (pl.per_channel) {
    batchnorm_fwd_train_channel_v1<T, V><<<static_cast<unsigned>(s.C), kThreads, 0, stream>>>(
        x, w, b, y, sm, si, rm, rv, cw, momentum, eps, act);
  } else {
    double* partial = static_cast<double*>(workspace);
    const unsigned blocks = static_cast<unsigned>(s.C * pl.G);
    batchnorm_fwd_partial_v1<T, V><<<blocks, kThreads, 0, stream>>>(x, cw, pl.G, partial);
    batchnorm_fwd_apply_v1<T, V><<<blocks, kThreads, 0, stream>>>(x, w, b, y, sm, si, rm, rv, cw, pl.G, partial,
                                                                  momentum, eps, act);
  }
  return cudaGetLastError();
}

template <class T, int V>
cudaError_t fwd_eval(const T* x, const T* w, const T* b, const T* rm, const T* rv, T* y, const BatchNormShape& s,
                     double eps, int sms, cudaStream_t stream) {
  const int64_t Sv = s.S / V, CSv = s.C * Sv;
  const int64_t want_x = (CSv + kThreads - 1) / kThreads;
  const int64_t gy = std::min<int64_t>(s.N, 65535);
  // Enough blocks in total for ~8 per multiprocessor, no more than the work has.
  const int64_t gx = std::max<int64_t>(1, std::min<int64_t>(want_x, (int64_t{8} * std::max(sms, 1) + gy - 1) / gy));
  dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
  batchnorm_fwd_eval_v1<T, V><<<grid, kThreads, 0, stream>>>(x, w, b, rm, rv, y, FastDivmod(static_cast<uint32_t>(Sv)),
                                                             CSv, s.N, eps);
  return cudaGetLastError();
}

template <class T, int V>
cudaError_t bwd(const T* dy, const NormAct& na, const T* y, const T* x, const T* w, const T* sm, const T* si, T* dx,
                T* dw, T* db, const BatchNormShape& s, void* workspace, int sms, cudaStream_t stream) {
  const Act<T> act = act_of<T>(na);
  if (na.kind == NormActKind::None) y = nullptr;
  const BnPlan pl = make_plan(s, sms);
  const ChannelWalk cw = channel_walk(s, V);
  if (pl.per_channel) {
    batchnorm_bwd_channel_v1<T, V><<<static_cast<unsigned>(s.C), kThreads, 0, stream>>>(dy, y, act, x, w, sm, si, dx,
                                                                                       dw, db, cw);
  } else {
    double* partial = static_cast<double*>(workspace);
    const unsigned blocks = static_cast<unsigned>(s.C * pl.G);
    batchnorm_bwd_partial_v1<T, V><<<blocks, kThreads, 0, stream>>>(dy, y, act, x, sm, cw, pl.G, partial);
    batchnorm_bwd_apply_v1<T, V><<<blocks, kThreads, 0, stream>>>(dy, y, act, x, w, sm, si, dx, dw, db, cw, pl.G,
                                                                  partial);
  }
  return cudaGetLastError();
}

constexpr int kWideFloat = 4, kWideDouble = 2;
template <class T>
constexpr int wide() {
  return sizeof(T) == 4 ? kWideFloat : kWideDouble;
}

}  // namespace

const char* batchnorm_hand_unsupported(const BatchNormShape& s) {
  if (s.N < 1 || s.C < 1 || s.S < 1) return "empty dimension";
  if (s.N * s.S >= kIndexLimit) return "2^31 or more values per channel";
  if (s.C * s.S >= kIndexLimit) return "2^31 or more values per image";
  if (s.C * ((s.N * s.S + kThreads - 1) / kThreads) >= kIndexLimit) return "grid too large";
  return nullptr;
}

size_t batchnorm_workspace_bytes(const BatchNormShape& s, int sms) {
  if (batchnorm_hand_unsupported(s)) return 0;
  const BnPlan p = make_plan(s, sms);
  return p.per_channel ? 0 : static_cast<size_t>(s.C) * p.G * 2 * sizeof(double);
}

template <class T>
cudaError_t batchnorm_fwd_train_v1(const T* x, const T* weight, const T* bias, const NormAct& act, T* y,
                                   T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                   const BatchNormShape& s, double momentum, double eps, void* workspace, int sms,
                                   cudaStream_t stream) {
  if (pack_width<T>(s.S, {x, y}) > 1)
    return fwd_train<T, wide<T>()>(x, weight, bias, act, y, save_mean, save_invstd, running_mean, running_var, s,
                                   momentum, eps, workspace, sms, stream);
  return fwd_train<T, 1>(x, weight, bias, act, y, save_mean, save_invstd, running_mean, running_var, s, momentum, eps,
                         workspace, sms, stream);
}

template <class T>
cudaError_t batchnorm_fwd_eval_v1(const T* x, const T* weight, const T* bias, const T* running_mean,
                                  const T* running_var, T* y, const BatchNormShape& s, double eps, int sms,
                                  cudaStream_t stream) {
  if (pack_width<T>(s.S, {x, y}) > 1)
    return fwd_eval<T, wide<T>()>(x, weight, bias, running_mean, running_var, y, s, eps, sms, stream);
  return fwd_eval<T, 1>(x, weight, bias, running_mean, running_var, y, s, eps, sms, stream);
}

template <class T>
cudaError_t batchnorm_bwd_v1(const T* dy, const NormAct& act, const T* y, const T* x, const T* weight,
                             const T* save_mean, const T* save_invstd, T* dx, T* dweight, T* dbias,
                             const BatchNormShape& s, void* workspace, int sms, cudaStream_t stream) {
  if (pack_width<T>(s.S, {dy, y, x, dx}) > 1)
    return bwd<T, wide<T>()>(dy, act, y, x, weight, save_mean, save_invstd, dx, dweight, dbias, s, workspace, sms,
                             stream);
  return bwd<T, 1>(dy, act, y, x, weight, save_mean, save_invstd, dx, dweight, dbias, s, workspace, sms, stream);
}

#define GAN_INSTANTIATE_BN(T)                                                                                     \
  template cudaError_t batchnorm_fwd_train_v1<T>(const T*, const T*, const T*, const NormAct&, T*, T*, T*, T*, T*, \
                                                 const BatchNormShape&, double, double, void*, int, cudaStream_t); \
  template cudaError_t batchnorm_fwd_eval_v1<T>(const T*, const T*, const T*, const T*, const T*, T*,              \
                                                const BatchNormShape&, double, int, cudaStream_t);                 \
  template cudaError_t batchnorm_bwd_v1<T>(const T*, const NormAct&, const T*, const T*, const T*, const T*,        \
                                           const T*, T*, T*, T*, const BatchNormShape&, void*, int, cudaStream_t);
GAN_INSTANTIATE_BN(float)
GAN_INSTANTIATE_BN(double)
#undef GAN_INSTANTIATE_BN

}  // namespace gan::kernels
