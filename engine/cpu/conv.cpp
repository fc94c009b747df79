// CPU convolutions: im2col / col2im around one GEMM (engine/cpu/gemm.h) per group of samples.
//
// With K = Ci kH kW and P = Ho Wo, one sample's column matrix col[K, P] holds in row (c, i, j)
// and column (oh, ow) the input pixel x[c, oh sh - ph + i, ow sw - pw + j] (zero in the padding).
// Then, per sample (y, dy: [Co, P]; w: [Co, K]):
//   forward          y       = w   col
//   backward data    col     = w^T dy,  dx = col2im(col)   (the transpose scatters and adds)
// Both im2col and col2im go through a zero-padded, phase-split copy of one sample's input (Prep
// below), so that every row of the column matrix is a run of plain copies.
//   backward weight  dw     += dy  col^T
// conv_transpose2d_forward is the backward-data computation with its input in the role of dy.
//
// Small feature maps make narrow GEMMs (a 4x4 map gives P = 16), so samples are processed in
// groups of B whose column matrices sit side by side, col[K, B P]; dy and y then need a gather or
// scatter between [B, Co, P] and [Co, B P], which costs far less than the GEMM. Groups run in
// parallel, one per OpenMP thread, each thread with its own buffers allocated once per call; a
// single group leaves the threads to the GEMM's own parallelism instead. A kernel that covers
// the whole input (P = 1) is a fully connected layer and becomes one whole-batch GEMM. A 4x4
// stride-2 layer with 16 or more channels on each side (DCGAN's up- and downsamplings) goes to
// engine/cpu/conv_winograd.cpp instead, which needs 36 multiply-adds where this needs 64.
#include "engine/backend/conv.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "engine/cpu/conv_winograd.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/scratch.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gan::cpu {

namespace {

// Below this many GEMM columns per group, samples are grouped; above, one sample is one group.
constexpr int64_t kTargetColumns = 256;
// A grouped column buffer stays under this many elements (per thread).
constexpr int64_t kMaxGroupedColumnElements = int64_t{1} << 21;
// Below this many multiply-adds a call stays on one thread: waking a team costs more than it saves
// (gradient checks run thousands of tiny convolutions).
constexpr int64_t kMinParallelWork = int64_t{1} << 18;

struct Geometry {
  int64_t N, Ci, H, W, Co, kH, kW, Ho, Wo, sh, sw, ph, pw;
  int64_t K() const { return Ci * kH * kW; }
  int64_t P() const { return Ho * Wo; }
  bool pointwise() const { return kH == 1 && kW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
  // The kernel covers the whole unpadded input (the generator's first layer, the discriminator's
  // last): a fully connected layer, whose column matrix is the input itself.
  bool dense() const { return kH == H && kW == W && ph == 0 && pw == 0; }
  // A 4x4 stride-2 layer with enough channels: engine/cpu/conv_winograd.h, 56% of the products.
  bool winograd() const { return winograd::applies(Ci, Co, kH, kW, sh, sw, Ho, Wo); }
  winograd::Shape winograd_shape() const { return {N, Ci, H, W, Co, Ho, Wo, ph, pw}; }
};

// x: [N, Ci, H, W] (the conv2d input side), y: [N, Co, Ho, Wo] (the conv2d output side).
Geometry geometry(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3),
          y.size(2), y.size(3), p.stride_h, p.stride_w, p.pad_h, p.pad_w};
}

// The output columns [lo, hi) whose input coordinate o s - pad + k lies inside [0, extent).
inline void valid_range(int64_t k, int64_t s, int64_t pad, int64_t extent, int64_t out, int64_t& lo, int64_t& hi) {
  const int64_t first = pad - k;             // o s >= first
  const int64_t last = extent - 1 + pad - k;  // o s <= last
  lo = first <= 0 ? 0 : (first + s - 1) / s;
  hi = last < 0 ? 0 : last / s + 1;
  lo = std::min(lo, out);
  hi = std::max(lo, std::min(hi, out));
}

// Short contiguous runs (a row of a small feature map: 4 to 32 values) copied or added in fixed
// chunks, which compile to single vector loads and stores; a memcpy call or a generic vectorised
// loop costs more in set-up than the copy itself at these lengths.
template <class T>
inline void copy_run(T* __restrict dst, const T* __restrict src, int64_t n) {
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) std::memcpy(dst + k, src + k, 8 * sizeof(T));
  for (; k + 4 <= n; k += 4) std::memcpy(dst + k, src + k, 4 * sizeof(T));
  for (; k < n; ++k) dst[k] = src[k];
}
template <class T>
inline void add_run(T* __restrict dst, const T* __restrict src, int64_t n) {
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int u = 0; u < 8; ++u) dst[k + u] += src[k + u];
  for (; k < n; ++k) dst[k] += src[k];
}

// One sample's input laid out so that every row of its column matrix is made of contiguous runs:
// zero-padded to Hp x Wp and each padded row split into its sw phases,
//   prep[c][hp][v][q] = x[c][hp - ph][q sw + v - pw]   (zero outside x),  q < Wq = ceil(Wp / sw).
// Column row (c, i, j) at output row oh is then prep[c][oh sh + i][j % sw][j / sw + ow], ow < Wo:
// a plain copy, with no bounds test and no strided load per element. This layout costs one pass
// over the input (a quarter of the column matrix's size for a 4x4 stride-2 kernel) and replaces
// im2col's per-row padding arithmetic and zero fills, which dominated on DCGAN's 4- to 16-wide maps.
struct Prep {
  int64_t Hp, Wq, sw;
  int64_t row() const { return sw * Wq; }          // one padded input row, all phases
  int64_t channel() const { return Hp * row(); }
  int64_t size(int64_t Ci) const { return Ci * channel(); }
};

inline Prep prep_of(const Geometry& g) {
  return {g.H + 2 * g.ph, (g.W + 2 * g.pw + g.sw - 1) / g.sw, g.sw};
}
// No padding and stride 1 along the width: the input itself already has the layout.
inline bool prep_is_input(const Geometry& g) { return g.ph == 0 && g.pw == 0 && g.sw == 1; }

// Stride 2 along an even width (every stride-2 layer of DCGAN, CycleGAN and the PatchGANs): the
// even and the odd input columns each land in one phase as one contiguous run, so a padded row is
// two de-interleaving loops the compiler vectorises instead of a strided scalar gather per phase.
// x[2k] goes to phase (2k + pw) % 2 at q = k + pw / 2 (floor), x[2k + 1] to the other phase at
// q = k + (pw + 1) / 2.
struct Stride2Split {
  int64_t even_at, odd_at;  // offsets within one padded row (all phases) of the two runs
};
inline bool stride2_even(const Geometry& g) { return g.sw == 2 && g.W % 2 == 0; }
inline Stride2Split stride2_split(const Geometry& g, const Prep& pr) {
  const int64_t ve = g.pw % 2, vo = (g.pw + 1) % 2;
  return {ve * pr.Wq + g.pw / 2, vo * pr.Wq + (g.pw + 1) / 2};
}

// Writes the entries that come from x; the padding's entries are left as they are, so the caller
// zeroes the buffer once (they are the same entries for every sample of one geometry) instead of
// once per row in many tiny fills.
template <class T>
void prepare(const T* x, const Geometry& g, const Prep& pr, T* prep) {
  const int64_t Ci = g.Ci, H = g.H, W = g.W, ph = g.ph, pw = g.pw, sw = g.sw, Wq = pr.Wq;
  const int64_t row = pr.row(), channel = pr.channel();
  if (stride2_even(g)) {
    const Stride2Split sp = stride2_split(g, pr);
    const int64_t half = W / 2;
    for (int64_t r = 0; r < Ci * H; ++r) {  // input rows, (c, ih)
      T* dst = prep + (r / H) * channel + (r % H + ph) * row;
      T* __restrict de = dst + sp.even_at;
      T* __restrict dodd = dst + sp.odd_at;
      const T* __restrict src = x + r * W;
      for (int64_t k = 0; k < half; ++k) {
        de[k] = src[2 * k];
        dodd[k] = src[2 * k + 1];
      }
    }
    return;
  }
  for (int64_t c = 0; c < Ci; ++c) {
    for (int64_t ih = 0; ih < H; ++ih) {
      T* dst = prep + c * channel + (ih + ph) * row;
      const T* __restrict src = x + (c * H + ih) * W;
      for (int64_t v = 0; v < sw; ++v) {
        T* __restrict d = dst + v * Wq;
        int64_t lo, hi;  // the q whose input column q sw + v - pw lies inside [0, W)
        valid_range(v, sw, pw, W, Wq, lo, hi);
        for (int64_t q = lo; q < hi; ++q) d[q] = src[q * sw + v - pw];
      }
    }
  }
}

// The adjoint of prepare, writing (not adding to) dx: the padding's entries are dropped.
template <class T>
void unprepare(const T* prep, const Geometry& g, const Prep& pr, T* dx) {
  const int64_t Ci = g.Ci, H = g.H, W = g.W, ph = g.ph, pw = g.pw, sw = g.sw, Wq = pr.Wq;
  const int64_t row = pr.row(), channel = pr.channel();
  if (stride2_even(g)) {
    const Stride2Split sp = stride2_split(g, pr);
    const int64_t half = W / 2;
    for (int64_t r = 0; r < Ci * H; ++r) {
      const T* src = prep + (r / H) * channel + (r % H + ph) * row;
      const T* __restrict se = src + sp.even_at;
      const T* __restrict so = src + sp.odd_at;
      T* __restrict dst = dx + r * W;
      for (int64_t k = 0; k < half; ++k) {
        dst[2 * k] = se[k];
        dst[2 * k + 1] = so[k];
      }
    }
    return;
  }
  for (int64_t c = 0; c < Ci; ++c) {
    for (int64_t ih = 0; ih < H; ++ih) {
      const T* src = prep + c * channel + (ih + ph) * row;
      T* __restrict dst = dx + (c * H + ih) * W;
      for (int64_t v = 0; v < sw; ++v) {
        const T* s = src + v * Wq;
        int64_t lo, hi;
        valid_range(v, sw, pw, W, Wq, lo, hi);
        for (int64_t q = lo; q < hi; ++q) dst[q * sw + v - pw] = s[q];
      }
    }
  }
}

// One sample's column matrix into col, whose rows are `ld` elements apart, from its prepared input.
// WO > 0 is the output width known at compile time (the DCGAN maps' 4, 8, 16, 32): each run is then
// a fixed-size copy, one or two vector moves, instead of a loop over a run-time length.
// The geometry is read into locals first: the stores below could alias a field read through a
// reference, which made the compiler reload the loop bounds on every run.
template <int WO, class T>
void im2col_prepared(const T* prep, const Geometry& g, const Prep& pr, T* col, int64_t ld) {
  const int64_t Wo = WO > 0 ? WO : g.Wo, step = g.sh * pr.row();
  const int64_t Ci = g.Ci, kH = g.kH, kW = g.kW, Ho = g.Ho, sw = g.sw, Wq = pr.Wq;
  const int64_t row_len = pr.row(), channel = pr.channel();
  for (int64_t c = 0; c < Ci; ++c) {
    for (int64_t i = 0; i < kH; ++i) {
      for (int64_t j = 0; j < kW; ++j) {
        T* row = col + ((c * kH + i) * kW + j) * ld;
        const T* src = prep + c * channel + i * row_len + (j % sw) * Wq + j / sw;
        for (int64_t oh = 0; oh < Ho; ++oh) {
          if constexpr (WO > 0) std::memcpy(row + oh * WO, src + oh * step, WO * sizeof(T));
          else copy_run(row + oh * Wo, src + oh * step, Wo);
        }
      }
    }
  }
}

// The adjoint: adds each column entry into the prepared-layout gradient dprep (zeroed by the
// caller). Every pixel receives its terms in the order of the loops (c, i, j, oh, ow), starting
// from zero, exactly as when they were added into a zeroed dx directly, so the sums are the same.
template <int WO, class T>
void col2im_prepared(const T* col, int64_t ld, const Geometry& g, const Prep& pr, T* dprep) {
  const int64_t Wo = WO > 0 ? WO : g.Wo, step = g.sh * pr.row();
  const int64_t Ci = g.Ci, kH = g.kH, kW = g.kW, Ho = g.Ho, sw = g.sw, Wq = pr.Wq;
  const int64_t row_len = pr.row(), channel = pr.channel();
  for (int64_t c = 0; c < Ci; ++c) {
    for (int64_t i = 0; i < kH; ++i) {
      for (int64_t j = 0; j < kW; ++j) {
        const T* row = col + ((c * kH + i) * kW + j) * ld;
        T* dst = dprep + c * channel + i * row_len + (j % sw) * Wq + j / sw;
        for (int64_t oh = 0; oh < Ho; ++oh) {
          T* __restrict d = dst + oh * step;
          const T* __restrict r = row + oh * Wo;
          if constexpr (WO > 0) {
            for (int u = 0; u < WO; ++u) d[u] += r[u];
          } else {
            add_run(d, r, Wo);
          }
        }
      }
    }
  }
}

// Calls f(std::integral_constant<int, WO>) with WO = Wo for the common widths, else 0 (run time).
template <class F>
void with_width(int64_t Wo, F&& f) {
  switch (Wo) {
    case 4: return f(std::integral_constant<int, 4>{});
    case 8: return f(std::integral_constant<int, 8>{});
    case 16: return f(std::integral_constant<int, 16>{});
    case 32: return f(std::integral_constant<int, 32>{});
    default: return f(std::integral_constant<int, 0>{});
  }
}

// The column matrices of b consecutive samples side by side (sample s from column s P, rows `ld`
// apart), each through a prepared copy of its input in `scratch` (size Prep::size) unless the input
// already has that layout.
template <class T>
void im2col(const T* x, int64_t b, const Geometry& g, T* col, int64_t ld, T* scratch) {
  const Prep pr = prep_of(g);
  const bool direct = prep_is_input(g);
  if (!direct) std::fill(scratch, scratch + pr.size(g.Ci), T(0));  // the padding, once per group
  const int64_t xs = g.Ci * g.H * g.W;
  for (int64_t s = 0; s < b; ++s) {
    const T* prep = x + s * xs;
    if (!direct) {
      prepare(x + s * xs, g, pr, scratch);
      prep = scratch;
    }
    with_width(g.Wo, [&](auto wo) { im2col_prepared<decltype(wo)::value>(prep, g, pr, col + s * g.P(), ld); });
  }
}

// The adjoint of im2col: dx (overwritten) = the sum of each column entry into the input pixel it
// was read from. `scratch` holds Prep::size elements.
template <class T>
void col2im(const T* col, int64_t ld, const Geometry& g, T* dx, T* scratch) {
  const Prep pr = prep_of(g);
  T* dprep = prep_is_input(g) ? dx : scratch;
  std::fill(dprep, dprep + pr.size(g.Ci), T(0));
  with_width(g.Wo, [&](auto wo) { col2im_prepared<decltype(wo)::value>(col, ld, g, pr, dprep); });
  if (dprep != dx) unprepare(dprep, g, pr, dx);
}

// How many samples share one GEMM, and how many threads work on the groups.
struct Plan {
  int64_t group = 1, groups = 0;
  int threads = 1;
};

Plan plan(const Geometry& g) {
  int max_threads = 1;
#ifdef _OPENMP
  if (!omp_in_parallel() && g.N * g.Co * g.P() * g.K() >= kMinParallelWork) max_threads = omp_get_max_threads();
#endif
  Plan pl;
  const int64_t P = std::max<int64_t>(g.P(), 1), K = std::max<int64_t>(g.K(), 1);
  int64_t b = (kTargetColumns + P - 1) / P;
  b = std::min(b, std::max<int64_t>(1, kMaxGroupedColumnElements / (K * P)));
  // Keep at least one group per thread when the batch allows it.
  b = std::min(b, std::max<int64_t>(1, (g.N + max_threads - 1) / max_threads));
  pl.group = std::max<int64_t>(1, b);
  pl.groups = (g.N + pl.group - 1) / pl.group;
  pl.threads = static_cast<int>(std::min<int64_t>(max_threads, pl.groups));
  return pl;
}

// Runs body(thread, first_sample, samples) for every group, spread over pl.threads threads with a
// static assignment (so per-thread partial sums are reproducible for a given thread count).
template <class F>
void for_each_group(const Geometry& g, const Plan& pl, F&& body) {
  auto run = [&](int t, int nt) {
    for (int64_t q = t; q < pl.groups; q += nt) {
      const int64_t n0 = q * pl.group;
      body(t, n0, std::min(pl.group, g.N - n0));
    }
  };
#ifdef _OPENMP
  if (pl.threads > 1) {
#pragma omp parallel num_threads(pl.threads)
    run(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  run(0, 1);
}

// [b, C, P] samples <-> one [C, b P] matrix.
template <class T>
void gather(const T* src, int64_t b, int64_t C, int64_t P, T* dst) {
  for (int64_t s = 0; s < b; ++s)
    for (int64_t c = 0; c < C; ++c) std::memcpy(dst + c * b * P + s * P, src + (s * C + c) * P, P * sizeof(T));
}
template <class T>
void scatter(const T* src, int64_t b, int64_t C, int64_t P, T* dst) {
  for (int64_t s = 0; s < b; ++s)
    for (int64_t c = 0; c < C; ++c) std::memcpy(dst + (s * C + c) * P, src + c * b * P + s * P, P * sizeof(T));
}

// Per-thread scratch, sized on first use by its own thread and reused for every later group.
template <class T>
struct Scratch {
  std::vector<std::vector<T>> bufs;
  explicit Scratch(int threads) : bufs(static_cast<size_t>(threads)) {}
  T* get(int t, int64_t n) {
    auto& v = bufs[static_cast<size_t>(t)];
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
  }
};

// Dense layers as whole-batch GEMMs, X[N, K], Y[N, Co] (the GEMM spreads them over the threads).
template <class T>
void dense_forward(const T* x, const T* w, T* y, const Geometry& g) {
  gemm(false, true, g.N, g.Co, g.K(), x, w, T(0), y);  // Y[N, Co] = X W^T
}
template <class T>
void dense_backward_data(const T* dy, const T* w, T* dx, const Geometry& g) {
  gemm(false, false, g.N, g.K(), g.Co, dy, w, T(0), dx);  // DX[N, K] = DY W
}
template <class T>
void dense_backward_weight(const T* x, const T* dy, T* dw, const Geometry& g) {
  gemm(true, false, g.Co, g.K(), g.N, dy, x, T(0), dw);  // DW[Co, K] = DY^T X
}

template <class T>
void forward_impl(const Tensor& xt, const Tensor& wt, Tensor& yt, const Conv2dParams& p) {
  const Geometry g = geometry(xt, wt, yt, p);
  if (g.dense()) return dense_forward(xt.data<T>(), wt.data<T>(), yt.data<T>(), g);
  if (g.winograd()) return winograd::forward(xt.data<T>(), wt.data<T>(), yt.data<T>(), g.winograd_shape());
  const Plan pl = plan(g);
  const int64_t K = g.K(), P = g.P(), Co = g.Co, xs = g.Ci * g.H * g.W;
  const T* x = xt.data<T>();
  T* y = yt.data<T>();
  const T* w = wt.data<T>();
  for_each_group(g, pl, [&](int t, int64_t n0, int64_t b) {
    const T* colp = x + n0 * xs;  // a 1x1 stride-1 unpadded conv reads its input as the columns
    if (b > 1 || !g.pointwise()) {
      T* col = thread_scratch<T>(ScratchSlot::ConvColumns, K * b * P);
      T* prep = thread_scratch<T>(ScratchSlot::ConvPrep, prep_of(g).size(g.Ci));
      im2col(x + n0 * xs, b, g, col, b * P, prep);
      colp = col;
    }
    if (b == 1) {
      gemm(false, false, Co, P, K, w, colp, T(0), y + n0 * Co * P);  // Y[Co, P] = W C
    } else {
      T* out = thread_scratch<T>(ScratchSlot::ConvRows, Co * b * P);
      gemm(false, false, Co, b * P, K, w, colp, T(0), out);
      scatter(out, b, Co, P, y + n0 * Co * P);
    }
  });
}

template <class T>
void backward_data_impl(const Tensor& dyt, const Tensor& wt, Tensor& dxt, const Conv2dParams& p) {
  const Geometry g = geometry(dxt, wt, dyt, p);
  if (g.dense()) return dense_backward_data(dyt.data<T>(), wt.data<T>(), dxt.data<T>(), g);
  if (g.winograd()) return winograd::backward_data(dyt.data<T>(), wt.data<T>(), dxt.data<T>(), g.winograd_shape());
  const Plan pl = plan(g);
  const int64_t K = g.K(), P = g.P(), Co = g.Co, xs = g.Ci * g.H * g.W;
  const T* dy = dyt.data<T>();
  T* dx = dxt.data<T>();
  const T* w = wt.data<T>();
  for_each_group(g, pl, [&](int t, int64_t n0, int64_t b) {
    const T* dyp = dy + n0 * Co * P;
    if (b > 1) {
      T* buf = thread_scratch<T>(ScratchSlot::ConvRows, Co * b * P);
      gather(dyp, b, Co, P, buf);
      dyp = buf;
    }
    T* dxp = dx + n0 * xs;
    if (b == 1 && g.pointwise()) {  // the columns are dx itself
      gemm(true, false, K, P, Co, w, dyp, T(0), dxp);  // C[K, P] = W^T DY
      return;
    }
    T* col = thread_scratch<T>(ScratchSlot::ConvColumns, K * b * P);
    gemm(true, false, K, b * P, Co, w, dyp, T(0), col);
    T* prep = thread_scratch<T>(ScratchSlot::ConvPrep, prep_of(g).size(g.Ci));
    for (int64_t s = 0; s < b; ++s) col2im(col + s * P, b * P, g, dxp + s * xs, prep);
  });
}

template <class T>
void backward_weight_impl(const Tensor& xt, const Tensor& dyt, Tensor& dwt, const Conv2dParams& p) {
  const Geometry g = geometry(xt, dwt, dyt, p);
  if (g.dense()) return dense_backward_weight(xt.data<T>(), dyt.data<T>(), dwt.data<T>(), g);
  if (g.winograd()) return winograd::backward_weight(xt.data<T>(), dyt.data<T>(), dwt.data<T>(), g.winograd_shape());
  const Plan pl = plan(g);
  const int64_t K = g.K(), P = g.P(), Co = g.Co, xs = g.Ci * g.H * g.W;
  const T* x = xt.data<T>();
  const T* dy = dyt.data<T>();
  T* dw = dwt.data<T>();
  std::fill(dw, dw + Co * K, T(0));
  // Thread 0 accumulates straight into dw, the others into partial sums added at the end.
  Scratch<T> partial(pl.threads);  // read by the calling thread after the groups: not thread-local
  std::vector<char> started(static_cast<size_t>(pl.threads), 0);
  for_each_group(g, pl, [&](int t, int64_t n0, int64_t b) {
    T* acc = dw;
    if (t > 0) {
      acc = partial.get(t, Co * K);
      if (!started[static_cast<size_t>(t)]) std::fill(acc, acc + Co * K, T(0));
      started[static_cast<size_t>(t)] = 1;
    }
    const T* colp = x + n0 * xs;
    if (b > 1 || !g.pointwise()) {
      T* col = thread_scratch<T>(ScratchSlot::ConvColumns, K * b * P);
      T* prep = thread_scratch<T>(ScratchSlot::ConvPrep, prep_of(g).size(g.Ci));
      im2col(x + n0 * xs, b, g, col, b * P, prep);
      colp = col;
    }
    const T* dyp = dy + n0 * Co * P;
    if (b > 1) {
      T* buf = thread_scratch<T>(ScratchSlot::ConvRows, Co * b * P);
      gather(dyp, b, Co, P, buf);
      dyp = buf;
    }
    gemm(false, true, Co, K, b * P, dyp, colp, T(1), acc);  // DW[Co, K] += DY C^T
  });
  for (int t = 1; t < pl.threads; ++t) {
    if (!started[static_cast<size_t>(t)]) continue;
    const T* part = partial.bufs[static_cast<size_t>(t)].data();
    for (int64_t i = 0; i < Co * K; ++i) dw[i] += part[i];
  }
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dParams& p) {
  GAN_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] { forward_impl<scalar_t>(x, w, y, p); });
}

void conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const Conv2dParams& p) {
  GAN_DISPATCH_FLOAT(dy.dtype(), "conv2d_backward_data", [&] { backward_data_impl<scalar_t>(dy, w, dx, p); });
}

void conv2d_backward_weight(const Tensor& x, const Tensor& dy, Tensor& dw, const Conv2dParams& p) {
  GAN_DISPATCH_FLOAT(x.dtype(), "conv2d_backward_weight", [&] { backward_weight_impl<scalar_t>(x, dy, dw, p); });
}

// A transposed convolution is conv2d's input gradient: columns = w^T x, then col2im into y.
void conv_transpose2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dParams& p) {
  GAN_DISPATCH_FLOAT(x.dtype(), "conv_transpose2d", [&] { backward_data_impl<scalar_t>(x, w, y, p); });
}

}  // namespace gan::cpu
