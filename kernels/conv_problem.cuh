// The three 2-D convolution computations seen as matrix products C[M, Ng] = A[M, Kg] B[Kg, Ng]
// whose operands are gathered from the tensors on the fly (implicit GEMM): nothing is unfolded
// into memory. Each problem says how to read A and B and where C goes; the tiled kernel in
// conv.cu is shared by all of them.
//
// Conv2d view throughout: x[N, C, H, W], w[K, C, R, S], y[N, K, P, Q],
//   y[n, k, p, q] = sum_{c, r, s} x[n, c, p sh - ph + r, q sw - pw + s] w[k, c, r, s].
//
//   forward          M = N P Q  (n, p, q)   Ng = K           Kg = C R S  (c, r, s)
//   backward-weight  M = K                  Ng = C R S       Kg = N P Q
//   backward-data    one product per stride phase (a, b), see below
//   backward-data from a 1x1 input (a plain product)  M = N  Ng = C H W  Kg = K
//
// Backward-data (= transposed convolution) by phases: dx[n, c, h, w] receives dy[n, k, p, q]
// w[k, c, r, s] when h = p sh - ph + r. Rows h with (h + ph) mod sh = a only meet taps
// r = a + sh t, and then p = pbase + i - t where h = h0 + sh i. Splitting the output rows and
// columns by phase leaves sh*sw dense products with ceil(R/sh) ceil(S/sw) taps each, so none of
// the zeros a zero-inserted input would contain are ever multiplied.
//
// Every access is split into a part fixed for a GEMM row/column (computed once per thread) and a
// part fixed for a reduction index (computed once per k-step), then combined with a few adds and
// bounds checks. GEMM indices are 32-bit (the host checks M, Ng, Kg < 2^31); tensor offsets are
// 64-bit. Plain C++ compiles this header too: the host tests walk the same index arithmetic.
#pragma once
#include <cstdint>

#include "kernels/divmod.cuh"

namespace gan::kernels {

// Shapes in the conv2d view (see above); 64-bit so host-side checks cannot overflow.
struct Conv2dShape {
  int64_t N = 0, C = 0, H = 0, W = 0;  // x
  int64_t K = 0, R = 0, S = 0;         // w[K, C, R, S]
  int64_t P = 0, Q = 0;                // y[N, K, P, Q]
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};

// ---------------------------------------------------------------------------------------------
// Forward: A = x gathered at (n, p, q) x (c, r, s), B[kk, k] = w[k, kk], C -> y.
template <class T>
struct ConvFwdProblem {
  const T* x;
  const T* w;
  T* y;
  int M, Ng, Kg;
  int C, H, W, K, P, Q, sh, sw, ph, pw;
  FastDivmod div_PQ, div_Q, div_RS, div_S;

  struct Row {
    int64_t base;  // x offset of image n
    int h0, w0;    // top-left input coordinate of output pixel (p, q)
    bool ok;
  };
  struct KA {
    int64_t coff;  // x offset of channel c within an image
    int r, s;
    bool ok;
  };
  struct Col {
    int64_t off;  // w offset of filter k
    bool ok;
  };
  struct KB {
    int kk;
    bool ok;
  };

  GAN_HD int num_phases() const { return 1; }
  GAN_HD const ConvFwdProblem& phase(int) const { return *this; }

  GAN_HD Row row_a(int m) const {
    Row v{0, 0, 0, m < M};
    if (!v.ok) return v;
    uint32_t n, pq, p, q;
    div_PQ.divmod(static_cast<uint32_t>(m), n, pq);
    div_Q.divmod(pq, p, q);
    v.base = static_cast<int64_t>(n) * C * H * W;
    v.h0 = static_cast<int>(p) * sh - ph;
    v.w0 = static_cast<int>(q) * sw - pw;
    return v;
  }
  GAN_HD KA k_a(int kk) const {
    KA v{0, 0, 0, kk < Kg};
    if (!v.ok) return v;
    uint32_t c, rs, r, s;
    div_RS.divmod(static_cast<uint32_t>(kk), c, rs);
    div_S.divmod(rs, r, s);
    v.coff = static_cast<int64_t>(c) * H * W;
    v.r = static_cast<int>(r);
    v.s = static_cast<int>(s);
    return v;
  }
  GAN_HD T load_a(const Row& row, const KA& k) const {
    const int h = row.h0 + k.r, wc = row.w0 + k.s;
    const bool in = row.ok && k.ok && h >= 0 && h < H && wc >= 0 && wc < W;
    return in ? x[row.base + k.coff + static_cast<int64_t>(h) * W + wc] : T{};
  }
  GAN_HD Col col_b(int n) const { return Col{static_cast<int64_t>(n) * Kg, n < Ng}; }
  GAN_HD KB k_b(int kk) const { return KB{kk, kk < Kg}; }
  GAN_HD T load_b(const Col& col, const KB& k) const { return col.ok && k.ok ? w[col.off + k.kk] : T{}; }

  GAN_HD int64_t out_row(int m) const {
    uint32_t n, pq;
    div_PQ.divmod(static_cast<uint32_t>(m), n, pq);
    return static_cast<int64_t>(n) * K * P * Q + pq;
  }
  GAN_HD int64_t out_col(int k) const { return static_cast<int64_t>(k) * P * Q; }
  GAN_HD T* out() const { return y; }
};

// ---------------------------------------------------------------------------------------------
// Backward-weight: A[k, j] = dy[n, k, p, q], B[j, (c, r, s)] = x gathered, C -> dw[k, c, r, s],
// with j = (n, p, q) the reduction index.
template <class T>
struct ConvBwdWeightProblem {
  const T* x;
  const T* dy;
  T* dw;
  int M, Ng, Kg;
  int C, H, W, K, P, Q, sh, sw, ph, pw;
  FastDivmod div_PQ, div_Q, div_RS, div_S;

  struct Row {
    int64_t off;  // dy offset of channel k within an image
    bool ok;
  };
  struct KA {
    int64_t off;  // dy offset of image n plus pixel (p, q)
    bool ok;
  };
  struct Col {
    int64_t coff;  // x offset of channel c within an image
    int r, s;
    bool ok;
  };
  struct KB {
    int64_t base;  // x offset of image n
    int h0, w0;
    bool ok;
  };

  GAN_HD int num_phases() const { return 1; }
  GAN_HD const ConvBwdWeightProblem& phase(int) const { return *this; }

  GAN_HD Row row_a(int m) const { return Row{static_cast<int64_t>(m) * P * Q, m < M}; }
  GAN_HD KA k_a(int j) const {
    KA v{0, j < Kg};
    if (!v.ok) return v;
    uint32_t n, pq;
    div_PQ.divmod(static_cast<uint32_t>(j), n, pq);
    v.off = static_cast<int64_t>(n) * K * P * Q + pq;
    return v;
  }
  GAN_HD T load_a(const Row& row, const KA& k) const { return row.ok && k.ok ? dy[row.off + k.off] : T{}; }

  GAN_HD Col col_b(int n) const {
    Col v{0, 0, 0, n < Ng};
    if (!v.ok) return v;
    uint32_t c, rs, r, s;
    div_RS.divmod(static_cast<uint32_t>(n), c, rs);
    div_S.divmod(rs, r, s);
    v.coff = static_cast<int64_t>(c) * H * W;
    v.r = static_cast<int>(r);
    v.s = static_cast<int>(s);
    return v;
  }
  GAN_HD KB k_b(int j) const {
    KB v{0, 0, 0, j < Kg};
    if (!v.ok) return v;
    uint32_t n, pq, p, q;
    div_PQ.divmod(static_cast<uint32_t>(j), n, pq);
    div_Q.divmod(pq, p, q);
    v.base = static_cast<int64_t>(n) * C * H * W;
    v.h0 = static_cast<int>(p) * sh - ph;
    v.w0 = static_cast<int>(q) * sw - pw;
    return v;
  }
  GAN_HD T load_b(const Col& col, const KB& k) const {
    const int h = k.h0 + col.r, wc = k.w0 + col.s;
    const bool in = col.ok && k.ok && h >= 0 && h < H && wc >= 0 && wc < W;
    return in ? x[k.base + col.coff + static_cast<int64_t>(h) * W + wc] : T{};
  }

  GAN_HD int64_t out_row(int m) const { return static_cast<int64_t>(m) * Ng; }
  GAN_HD int64_t out_col(int n) const { return n; }
  GAN_HD T* out() const { return dw; }
};

// ---------------------------------------------------------------------------------------------
// Backward-data by stride phases. Per phase (a, b): rows m = (n, i, j) are output pixels
// (h0 + sh i, w0 + sw j); reduction kk = (k, t, u) pairs dy channel k with tap (a + sh t, b + sw u).
struct ConvBwdDataPhase {
  int M, Kg;           // N Hp Wp, K Ta Tb
  int a, b;            // tap residues
  int h0, w0;          // first output row/column of the phase
  int pbase, qbase;    // dy row/column paired with tap 0 for output index i = 0 / j = 0
  FastDivmod div_HpWp, div_Wp, div_TaTb, div_Tb;
};

constexpr int kMaxConvPhases = 16;  // strides up to 4 x 4

template <class T>
struct ConvBwdDataProblem {
  const T* dy;
  const T* w;
  T* dx;
  int Ng;  // C
  int C, H, W, K, R, S, P, Q, sh, sw;
  int phases;
  ConvBwdDataPhase ph[kMaxConvPhases];

  // One phase, as the GEMM kernel sees it.
  struct Sub {
    const ConvBwdDataProblem* p;
    const ConvBwdDataPhase* f;
    int M, Ng, Kg;

    struct Row {
      int64_t off;  // dy offset of image n
      int pi, qj;   // dy pixel paired with tap (0, 0)
      bool ok;
    };
    struct KA {
      int64_t koff;  // dy offset of channel k within an image
      int t, u;
      bool ok;
    };
    struct Col {
      int64_t off;  // w offset of input channel c within a filter
      bool ok;
    };
    struct KB {
      int64_t off;  // w offset of filter k at tap (a + sh t, b + sw u)
      bool ok;
    };

    GAN_HD Row row_a(int m) const {
      Row v{0, 0, 0, m < M};
      if (!v.ok) return v;
      uint32_t n, ij, i, j;
      f->div_HpWp.divmod(static_cast<uint32_t>(m), n, ij);
      f->div_Wp.divmod(ij, i, j);
      v.off = static_cast<int64_t>(n) * p->K * p->P * p->Q;
      v.pi = f->pbase + static_cast<int>(i);
      v.qj = f->qbase + static_cast<int>(j);
      return v;
    }
    GAN_HD KA k_a(int kk) const {
      KA v{0, 0, 0, kk < Kg};
      if (!v.ok) return v;
      uint32_t k, tu, t, u;
      f->div_TaTb.divmod(static_cast<uint32_t>(kk), k, tu);
      f->div_Tb.divmod(tu, t, u);
      v.koff = static_cast<int64_t>(k) * p->P * p->Q;
      v.t = static_cast<int>(t);
      v.u = static_cast<int>(u);
      return v;
    }
    GAN_HD T load_a(const Row& row, const KA& k) const {
      const int pp = row.pi - k.t, qq = row.qj - k.u;
      const bool in = row.ok && k.ok && pp >= 0 && pp < p->P && qq >= 0 && qq < p->Q;
      return in ? p->dy[row.off + k.koff + static_cast<int64_t>(pp) * p->Q + qq] : T{};
    }
    GAN_HD Col col_b(int c) const { return Col{static_cast<int64_t>(c) * p->R * p->S, c < Ng}; }
    GAN_HD KB k_b(int kk) const {
      KB v{0, kk < Kg};
      if (!v.ok) return v;
      uint32_t k, tu, t, u;
      f->div_TaTb.divmod(static_cast<uint32_t>(kk), k, tu);
      f->div_Tb.divmod(tu, t, u);
      const int r = f->a + p->sh * static_cast<int>(t), s = f->b + p->sw * static_cast<int>(u);
      v.off = static_cast<int64_t>(k) * p->C * p->R * p->S + static_cast<int64_t>(r) * p->S + s;
      return v;
    }
    GAN_HD T load_b(const Col& col, const KB& k) const { return col.ok && k.ok ? p->w[k.off + col.off] : T{}; }

    GAN_HD int64_t out_row(int m) const {
      uint32_t n, ij, i, j;
      f->div_HpWp.divmod(static_cast<uint32_t>(m), n, ij);
      f->div_Wp.divmod(ij, i, j);
      const int64_t h = f->h0 + static_cast<int64_t>(p->sh) * i, wc = f->w0 + static_cast<int64_t>(p->sw) * j;
      return static_cast<int64_t>(n) * p->C * p->H * p->W + h * p->W + wc;
    }
    GAN_HD int64_t out_col(int c) const { return static_cast<int64_t>(c) * p->H * p->W; }
    GAN_HD T* out() const { return p->dx; }
  };

  GAN_HD int num_phases() const { return phases; }
  GAN_HD Sub phase(int z) const { return Sub{this, &ph[z], ph[z].M, Ng, ph[z].Kg}; }
};

// ---------------------------------------------------------------------------------------------
// Backward-data when dy is 1x1 (a DCGAN generator's first layer, a critic's last): only p = q = 0
// exists, so tap (r, s) = (h + ph, w + pw) and dx[n, (c, h, w)] = sum_k dy[n, k] w[k, c, h+ph, w+pw].
// As a plain product it multiplies no zeros, where the phase form would multiply R S - 1 of every
// R S taps by an out-of-range dy.
template <class T>
struct ConvBwdData1x1Problem {
  const T* dy;
  const T* w;
  T* dx;
  int M, Ng, Kg;  // N, C H W, K
  int C, H, W, K, R, S, ph, pw;
  FastDivmod div_HW, div_W;

  struct Row {
    int64_t off;
    bool ok;
  };
  struct KA {
    int k;
    bool ok;
  };
  struct Col {
    int64_t off;  // w offset of (c, h + ph, w + pw) within a filter
    bool ok;      // false also where the tap falls outside the filter
  };
  struct KB {
    int64_t off;
    bool ok;
  };

  GAN_HD int num_phases() const { return 1; }
  GAN_HD const ConvBwdData1x1Problem& phase(int) const { return *this; }

  GAN_HD Row row_a(int m) const { return Row{static_cast<int64_t>(m) * K, m < M}; }
  GAN_HD KA k_a(int kk) const { return KA{kk, kk < Kg}; }
  GAN_HD T load_a(const Row& row, const KA& k) const { return row.ok && k.ok ? dy[row.off + k.k] : T{}; }
  GAN_HD Col col_b(int n) const {
    Col v{0, n < Ng};
    if (!v.ok) return v;
    uint32_t c, hw, h, wc;
    div_HW.divmod(static_cast<uint32_t>(n), c, hw);
    div_W.divmod(hw, h, wc);
    const int r = static_cast<int>(h) + ph, s = static_cast<int>(wc) + pw;
    v.ok = r < R && s < S;
    v.off = (static_cast<int64_t>(c) * R + r) * S + s;
    return v;
  }
  GAN_HD KB k_b(int kk) const { return KB{static_cast<int64_t>(kk) * C * R * S, kk < Kg}; }
  GAN_HD T load_b(const Col& col, const KB& k) const { return col.ok && k.ok ? w[k.off + col.off] : T{}; }

  GAN_HD int64_t out_row(int m) const { return static_cast<int64_t>(m) * Ng; }
  GAN_HD int64_t out_col(int n) const { return n; }
  GAN_HD T* out() const { return dx; }
};

// ---------------------------------------------------------------------------------------------
// Builders (host). They assume conv2d_hand_supported() accepted the shape.
template <class T>
ConvFwdProblem<T> make_fwd_problem(const Conv2dShape& s, const T* x, const T* w, T* y) {
  ConvFwdProblem<T> p{};
  p.x = x, p.w = w, p.y = y;
  p.M = static_cast<int>(s.N * s.P * s.Q), p.Ng = static_cast<int>(s.K), p.Kg = static_cast<int>(s.C * s.R * s.S);
  p.C = int(s.C), p.H = int(s.H), p.W = int(s.W), p.K = int(s.K), p.P = int(s.P), p.Q = int(s.Q);
  p.sh = int(s.stride_h), p.sw = int(s.stride_w), p.ph = int(s.pad_h), p.pw = int(s.pad_w);
  p.div_PQ = FastDivmod(uint32_t(s.P * s.Q)), p.div_Q = FastDivmod(uint32_t(s.Q));
  p.div_RS = FastDivmod(uint32_t(s.R * s.S)), p.div_S = FastDivmod(uint32_t(s.S));
  return p;
}

template <class T>
ConvBwdWeightProblem<T> make_bwd_weight_problem(const Conv2dShape& s, const T* x, const T* dy, T* dw) {
  ConvBwdWeightProblem<T> p{};
  p.x = x, p.dy = dy, p.dw = dw;
  p.M = static_cast<int>(s.K), p.Ng = static_cast<int>(s.C * s.R * s.S), p.Kg = static_cast<int>(s.N * s.P * s.Q);
  p.C = int(s.C), p.H = int(s.H), p.W = int(s.W), p.K = int(s.K), p.P = int(s.P), p.Q = int(s.Q);
  p.sh = int(s.stride_h), p.sw = int(s.stride_w), p.ph = int(s.pad_h), p.pw = int(s.pad_w);
  p.div_PQ = FastDivmod(uint32_t(s.P * s.Q)), p.div_Q = FastDivmod(uint32_t(s.Q));
  p.div_RS = FastDivmod(uint32_t(s.R * s.S)), p.div_S = FastDivmod(uint32_t(s.S));
  return p;
}

// Phase (a, b) of backward-data: which output rows/columns it owns and which taps they meet.
inline ConvBwdDataPhase make_bwd_data_phase(const Conv2dShape& s, int a, int b) {
  auto first = [](int64_t res, int64_t pad, int64_t stride) { return ((res - pad) % stride + stride) % stride; };
  auto count = [](int64_t from, int64_t extent, int64_t step) {
    return from < extent ? (extent - from + step - 1) / step : int64_t{0};
  };
  ConvBwdDataPhase f{};
  f.a = a, f.b = b;
  const int64_t h0 = first(a, s.pad_h, s.stride_h), w0 = first(b, s.pad_w, s.stride_w);
  const int64_t Hp = count(h0, s.H, s.stride_h), Wp = count(w0, s.W, s.stride_w);
  const int64_t Ta = count(a, s.R, s.stride_h), Tb = count(b, s.S, s.stride_w);
  f.h0 = int(h0), f.w0 = int(w0);
  f.pbase = int((h0 + s.pad_h - a) / s.stride_h), f.qbase = int((w0 + s.pad_w - b) / s.stride_w);
  f.M = static_cast<int>(s.N * Hp * Wp), f.Kg = static_cast<int>(s.K * Ta * Tb);
  // An empty phase keeps divisors of 1: its blocks exit (M = 0) or reduce over nothing (Kg = 0).
  f.div_HpWp = FastDivmod(uint32_t(Hp * Wp > 0 ? Hp * Wp : 1)), f.div_Wp = FastDivmod(uint32_t(Wp > 0 ? Wp : 1));
  f.div_TaTb = FastDivmod(uint32_t(Ta * Tb > 0 ? Ta * Tb : 1)), f.div_Tb = FastDivmod(uint32_t(Tb > 0 ? Tb : 1));
  return f;
}

template <class T>
ConvBwdDataProblem<T> make_bwd_data_problem(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  ConvBwdDataProblem<T> p{};
  p.dy = dy, p.w = w, p.dx = dx;
  p.Ng = int(s.C);
  p.C = int(s.C), p.H = int(s.H), p.W = int(s.W), p.K = int(s.K), p.R = int(s.R), p.S = int(s.S);
  p.P = int(s.P), p.Q = int(s.Q), p.sh = int(s.stride_h), p.sw = int(s.stride_w);
  p.phases = int(s.stride_h * s.stride_w);
  for (int a = 0; a < s.stride_h; ++a)
    for (int b = 0; b < s.stride_w; ++b) p.ph[a * s.stride_w + b] = make_bwd_data_phase(s, a, b);
  return p;
}

template <class T>
ConvBwdData1x1Problem<T> make_bwd_data_1x1_problem(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  ConvBwdData1x1Problem<T> p{};
  p.dy = dy, p.w = w, p.dx = dx;
  p.M = int(s.N), p.Ng = int(s.C * s.H * s.W), p.Kg = int(s.K);
  p.C = int(s.C), p.H = int(s.H), p.W = int(s.W), p.K = int(s.K), p.R = int(s.R), p.S = int(s.S);
  p.ph = int(s.pad_h), p.pw = int(s.pad_w);
  p.div_HW = FastDivmod(uint32_t(s.H * s.W)), p.div_W = FastDivmod(uint32_t(s.W));
  return p;
}

}  // namespace gan::kernels
