// 4x4 stride-2 convolutions as four 2x2 stride-1 ones, each by Winograd's F(2x2, 2x2).
//
// Polyphase split. With the kernel's taps i = 2a + p, j = 2b + q (a, b, p, q in {0, 1}),
//   y[oh, ow] = sum_{c, p, q, a, b} w[c, 2a+p, 2b+q] x_pq[c, oh + a, ow + b],
//   x_pq[c, u, v] = x[c, 2u + p - ph, 2v + q - pw]   (zero outside x),
// a 2x2 stride-1 correlation over 4 Ci "phase channels" c4 = (c, p, q). None of the 16 taps of the
// original kernel is lost or repeated: this is the same sum, regrouped.
//
// F(2x2, 2x2) computes a 2x2 block of outputs from a 3x3 block of phase-channel input with 9
// multiplications instead of 16. In one dimension, with g the 2 taps and d the 3 inputs,
//   (y0, y1) = A^T [(G g) . (B^T d)],  G g = (g0, g0 + g1, g1),  B^T d = (d0 - d1, d1, d2 - d1),
//   A^T m = (m0 + m1, m1 + m2)
// (check: y0 = (d0 - d1) g0 + d1 (g0 + g1) = d0 g0 + d1 g1). In two dimensions each transform is
// applied along rows and then columns, and the elementwise product summed over channels is, for
// each of the 9 points, one matrix product:
//   M[pt][co][tile] = sum_c4 U[pt][co][c4] V[pt][c4][tile],  U = G g G^T,  V = B^T d B,
//   y tile = A^T M A.
// G and A are the same matrix, and every entry is 0 or +-1, so the transforms only add: their
// rounding is that of a few additions, and the products themselves are plain GEMMs
// (engine/cpu/gemm.h). The two gradients are the adjoints of the same linear maps:
//   input gradient:  dM = A dY A^T,  dV[pt] = U[pt]^T dM[pt],  dx_pq += B dV B^T (tiles overlap)
//   weight gradient: dU[pt] = sum_tiles dM[pt] V[pt]^T,       dw = G^T dU G
// so in all three directions a 2x2 block of outputs costs 36 multiply-adds per (c, co) pair
// instead of im2col's 64.
//
// Samples are processed in chunks whose transformed buffers stay under kMaxChunkElements; the
// chunks run one after another (the GEMMs use the threads), so results do not depend on the
// thread count whenever the GEMM's do not.
#include "engine/cpu/conv_winograd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "engine/cpu/gemm.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/scratch.h"

namespace gan::cpu::winograd {

namespace {

constexpr int kPoints = 9;
// Transformed inputs and outputs of one chunk of samples, in elements (16 MiB of floats).
constexpr int64_t kMaxChunkElements = int64_t{1} << 22;
// The 9 points' planes of U, V and M are this far apart: a whole number of 4 KiB pages plus one
// cache line. With power-of-two plane sizes (512 x 1024 floats is 2 MiB) the 9 planes' rows
// would fall in the same cache sets, and the transforms' 9 streams of stores evict one another in
// L1 and L2 (measured: the weights' transform of
// a 512 x 256 x 4 x 4 kernel took 24 ms, 4 ms without).
template <class T>
int64_t plane_stride(int64_t n) {
  constexpr int64_t page = 4096 / sizeof(T), line = 64 / sizeof(T);
  return (n + page - 1) / page * page + line;
}
// Below this many channels on either side the transforms cost more than the multiplications saved.
constexpr int64_t kMinChannels = 16;

// The sizes every pass needs: TH x TW tiles of 2x2 outputs (T in all), 4 Ci phase channels.
struct Layout {
  int64_t TH, TW, T, C4;
};
Layout layout_of(const Shape& s) {
  Layout l;
  l.TH = (s.Ho + 1) / 2;
  l.TW = (s.Wo + 1) / 2;
  l.T = l.TH * l.TW;
  l.C4 = 4 * s.Ci;
  return l;
}

// ---- the one-dimensional maps and their adjoints: in values `is` apart, out values `os` apart ----

// U = G g G^T and dM = A dY A^T: (a, b) -> (a, a + b, b)
struct Expand {
  template <class T>
  void operator()(const T* in, int64_t is, T* out, int64_t os) const {
    out[0] = in[0];
    out[os] = in[0] + in[is];
    out[2 * os] = in[is];
  }
};
// y = A^T M A and dw = G^T dU G: (m0, m1, m2) -> (m0 + m1, m1 + m2)
struct Contract {
  template <class T>
  void operator()(const T* in, int64_t is, T* out, int64_t os) const {
    out[0] = in[0] + in[is];
    out[os] = in[is] + in[2 * is];
  }
};
// A separable 2D map from an ni x ni block (row stride is) to an no x no block (row stride os):
// f along the rows of each column, then along the columns of each row.
template <int NI, int NO, class F, class T>
inline void separable(F f, const T* in, int64_t is, T* out, int64_t os) {
  T mid[NO * NI];  // [NO rows][NI columns]
  for (int j = 0; j < NI; ++j) f(in + j, is, mid + j, int64_t{NI});
  for (int i = 0; i < NO; ++i) f(mid + i * NI, int64_t{1}, out + i * os, int64_t{1});
}

// ---- weights ----

// U[pt] = (G w_pq G^T)[pt] with w_pq[a][b] = w[co][c][2a + p][2b + q], c4 = 4 c + 2 p + q, stored
// [co][c4] or, with `by_channel`, [c4][co]. Either way the product reads U as its transposed A
// operand, whose packing copies contiguous runs (engine/cpu/packed_gemm.cpp).
template <class T>
void transform_weights(const T* w, const Shape& s, const Layout& l, bool by_channel, T* U) {
  const int64_t Co = s.Co, Ci = s.Ci, C4 = l.C4, uplane = plane_stride<T>(Co * C4);
  // One (co, c) pair's 4 phases x 9 points; the loops run along U's rows so that its stores are
  // contiguous (column-wise stores into a weights-sized array cost a cache miss each).
  auto pair = [&](int64_t co, int64_t c) {
    const T* k = w + (co * Ci + c) * 16;
    for (int p = 0; p < 2; ++p)
      for (int q = 0; q < 2; ++q) {
        const T g[4] = {k[p * 4 + q], k[p * 4 + q + 2], k[(p + 2) * 4 + q], k[(p + 2) * 4 + q + 2]};
        T u[9];
        separable<2, 3>(Expand{}, g, 2, u, 3);
        const int64_t c4 = 4 * c + 2 * p + q;
        T* dst = U + (by_channel ? c4 * Co + co : co * C4 + c4);
        for (int pt = 0; pt < kPoints; ++pt) dst[pt * uplane] = u[pt];
      }
  };
  if (!by_channel) {  // rows [co][c4]: c inside co
    parallel_for(Co, [&](int64_t b, int64_t e) {
      for (int64_t co = b; co < e; ++co)
        for (int64_t c = 0; c < Ci; ++c) pair(co, c);
    }, std::max<int64_t>(1, kParallelGrain / (Ci * 16)));
    return;
  }
  // rows [c4][co]: blocks of 16 co (one cache line of each row of U), c inside the block, co inside
  // c; w is read a cache line per (co, c) either way.
  constexpr int64_t kBlock = 16;
  parallel_for((Co + kBlock - 1) / kBlock, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk)
      for (int64_t c = 0; c < Ci; ++c)
        for (int64_t co = blk * kBlock; co < std::min(Co, (blk + 1) * kBlock); ++co) pair(co, c);
  }, std::max<int64_t>(1, kParallelGrain / (Ci * 16 * kBlock)));
}

// dw[co][c][2a + p][2b + q] = (G^T dU_pq G)[a][b], the adjoint of transform_weights (overwrites dw).
template <class T>
void weights_from_transformed(const T* dU, const Shape& s, const Layout& l, T* dw) {
  const int64_t Co = s.Co, Ci = s.Ci, C4 = l.C4, uplane = plane_stride<T>(Co * C4);
  parallel_for(Co, [&](int64_t b, int64_t e) {
    for (int64_t co = b; co < e; ++co)
      for (int64_t c = 0; c < Ci; ++c) {
        T* k = dw + (co * Ci + c) * 16;
        for (int p = 0; p < 2; ++p)
          for (int q = 0; q < 2; ++q) {
            const T* src = dU + co * C4 + 4 * c + 2 * p + q;
            T u[9], g[4];
            for (int pt = 0; pt < kPoints; ++pt) u[pt] = src[pt * uplane];
            separable<3, 2>(Contract{}, u, 3, g, 2);
            k[p * 4 + q] = g[0];
            k[p * 4 + q + 2] = g[1];
            k[(p + 2) * 4 + q] = g[2];
            k[(p + 2) * 4 + q + 2] = g[3];
          }
      }
  }, std::max<int64_t>(1, kParallelGrain / (Ci * 16)));
}

// ---- inputs and their gradients, per (sample, channel) ----
//
// Tile (th, tw) of phase (p, q) reads rows 2th .. 2th + 2 and columns 2tw .. 2tw + 2 of the phase
// image, that is x's rows 4th + p - ph + {0, 2, 4} and columns 4tw + q - pw + {0, 2, 4}. So each
// channel of x is first split four ways along its columns, padding included:
//   D[R][r][k] = x[R - ph][4k + r - pw]   (zero outside x),  R < 4 TH + 2, r < 4, k <= TW,
// after which the three columns of phase q's tiles tw = 0 .. TW - 1 are the unit-stride runs
// D[R][q][tw], D[R][q + 2][tw] and D[R][q][tw + 1]: every transform below works on a whole row
// of TW tiles at once, which the compiler vectorises.
struct Split {
  int64_t rows, KW;  // R < rows, k < KW
  int64_t size() const { return rows * 4 * KW; }
};
Split split_of(const Layout& l) { return {4 * l.TH + 2, l.TW + 1}; }

// The k < KW whose column 4k + r - pw lies inside [0, W): [lo, hi).
inline void inside(int64_t r, int64_t pw, int64_t W, int64_t KW, int64_t& lo, int64_t& hi) {
  const int64_t first = pw - r, last = W - 1 + pw - r;  // 4k >= first, 4k <= last
  lo = first <= 0 ? 0 : (first + 3) / 4;
  hi = last < 0 ? 0 : last / 4 + 1;
  lo = std::min(lo, KW);
  hi = std::max(lo, std::min(hi, KW));
}

// Writes D's entries that come from x; the padding's are the same for every channel, so the
// caller zeroes D once and they stay zero. WC > 0 is W known at compile time, with pw = 1 (the
// DCGAN layers): the column loops then unroll into plain moves, which is most of this pass's
// speed at these widths.
template <int WC, class T>
void split_columns(const T* xc, const Shape& s, const Split& sp, T* D) {
  const int64_t W = WC > 0 ? WC : s.W, pw = WC > 0 ? 1 : s.pw, KW = sp.KW;
  for (int64_t ih = 0; ih < s.H && ih + s.ph < sp.rows; ++ih) {
    const T* __restrict src = xc + ih * W;
    T* __restrict row = D + (ih + s.ph) * 4 * KW;
    if constexpr (WC > 0) {
      // One sequential pass over the row; with W and pw known each store's place is a constant.
      // (Four stride-4 passes missed on their loads.) Columns past 4 KW are read by no tile.
#pragma GCC unroll 64
      for (int64_t iw = 0; iw < WC; ++iw)
        if ((iw + 1) / 4 < KW) row[((iw + 1) % 4) * KW + (iw + 1) / 4] = src[iw];
      continue;
    }
    for (int64_t r = 0; r < 4; ++r) {
      int64_t lo, hi;
      inside(r, pw, W, KW, lo, hi);
      for (int64_t k = lo; k < hi; ++k) row[r * KW + k] = src[4 * k + r - pw];
    }
  }
}
// The adjoint: each pixel of dx (overwritten) is its one entry of dD; zero where no tile reads.
template <int WC, class T>
void merge_columns(const T* dD, const Shape& s, const Split& sp, T* dxc) {
  const int64_t W = WC > 0 ? WC : s.W, pw = WC > 0 ? 1 : s.pw, KW = sp.KW;
  for (int64_t ih = 0; ih < s.H; ++ih) {
    T* __restrict dst = dxc + ih * W;
    if (ih + s.ph >= sp.rows || 4 * KW - pw < W) std::fill(dst, dst + W, T(0));
    if (ih + s.ph >= sp.rows) continue;
    const T* __restrict row = dD + (ih + s.ph) * 4 * KW;
    for (int64_t r = 0; r < 4; ++r) {
      int64_t lo, hi;
      inside(r, pw, W, KW, lo, hi);
      for (int64_t k = lo; k < hi; ++k) dst[4 * k + r - pw] = row[r * KW + k];
    }
  }
}

// Calls f(std::integral_constant<int, W>) for the DCGAN layers' input widths with padding 1, else
// with 0 (run time).
template <class F>
void with_input_width(const Shape& s, F&& f) {
  if (s.pw == 1) switch (s.W) {
      case 8: return f(std::integral_constant<int, 8>{});
      case 16: return f(std::integral_constant<int, 16>{});
      case 32: return f(std::integral_constant<int, 32>{});
      case 64: return f(std::integral_constant<int, 64>{});
      default: break;
    }
  f(std::integral_constant<int, 0>{});
}

// One channel's rows of V: `out` is V[0][4c][sm T]; phase f = 2p + q is `f ld` further on and
// point pt `pt pstride` further.
template <int TWC, class T>
void transform_channel(const T* D, const Layout& l, const Split& sp, T* out, int64_t ld, int64_t pstride) {
  const int64_t TW = TWC > 0 ? TWC : l.TW, KW = sp.KW;
  for (int p = 0; p < 2; ++p)
    for (int q = 0; q < 2; ++q)
      for (int64_t th = 0; th < l.TH; ++th) {
        T* o = out + (2 * p + q) * ld + th * TW;
        const T* r0 = D + (4 * th + p) * 4 * KW;  // the tile's three rows: R = 4th + p + {0, 2, 4}
        const T* r1 = r0 + 8 * KW;
        const T* r2 = r1 + 8 * KW;
        const T *e0 = r0 + q * KW, *o0 = r0 + (q + 2) * KW, *e1 = r1 + q * KW, *o1 = r1 + (q + 2) * KW;
        const T *e2 = r2 + q * KW, *o2 = r2 + (q + 2) * KW;
#pragma GCC ivdep
        for (int64_t k = 0; k < TW; ++k) {
          // B^T along each row's three columns (e[k], o[k], e[k + 1]), then along the three rows
          const T a00 = e0[k] - o0[k], a01 = o0[k], a02 = e0[k + 1] - o0[k];
          const T a10 = e1[k] - o1[k], a11 = o1[k], a12 = e1[k + 1] - o1[k];
          const T a20 = e2[k] - o2[k], a21 = o2[k], a22 = e2[k + 1] - o2[k];
          o[0 * pstride + k] = a00 - a10;
          o[1 * pstride + k] = a01 - a11;
          o[2 * pstride + k] = a02 - a12;
          o[3 * pstride + k] = a10;
          o[4 * pstride + k] = a11;
          o[5 * pstride + k] = a12;
          o[6 * pstride + k] = a20 - a10;
          o[7 * pstride + k] = a21 - a11;
          o[8 * pstride + k] = a22 - a12;
        }
      }
}

// The adjoint of transform_channel: dD (zeroed by the caller) += B . B^T of each tile.
template <int TWC, class T>
void channel_from_transformed(const T* in, const Layout& l, const Split& sp, T* dD, int64_t ld, int64_t pstride) {
  const int64_t TW = TWC > 0 ? TWC : l.TW, KW = sp.KW;
  for (int p = 0; p < 2; ++p)
    for (int q = 0; q < 2; ++q)
      for (int64_t th = 0; th < l.TH; ++th) {
        const T* v = in + (2 * p + q) * ld + th * TW;
        T* r0 = dD + (4 * th + p) * 4 * KW;
        T* r1 = r0 + 8 * KW;
        T* r2 = r1 + 8 * KW;
        T *e0 = r0 + q * KW, *o0 = r0 + (q + 2) * KW, *e1 = r1 + q * KW, *o1 = r1 + (q + 2) * KW;
        T *e2 = r2 + q * KW, *o2 = r2 + (q + 2) * KW;
        // B along the rows: (v0, v1, v2) -> (v0, v1 - v0 - v2, v2) per column j, then along the
        // columns; the third column lands on e[k + 1], which the next tile's first also touches,
        // so it is added in a second pass.
#pragma GCC ivdep
        for (int64_t k = 0; k < TW; ++k) {
          const T v00 = v[0 * pstride + k], v01 = v[1 * pstride + k], v02 = v[2 * pstride + k];
          const T v10 = v[3 * pstride + k], v11 = v[4 * pstride + k], v12 = v[5 * pstride + k];
          const T v20 = v[6 * pstride + k], v21 = v[7 * pstride + k], v22 = v[8 * pstride + k];
          const T b10 = v10 - v00 - v20, b11 = v11 - v01 - v21, b12 = v12 - v02 - v22;
          e0[k] += v00;
          o0[k] += v01 - v00 - v02;
          e1[k] += b10;
          o1[k] += b11 - b10 - b12;
          e2[k] += v20;
          o2[k] += v21 - v20 - v22;
        }
#pragma GCC ivdep
        for (int64_t k = 0; k < TW; ++k) {
          e0[k + 1] += v[2 * pstride + k];
          e1[k + 1] += v[5 * pstride + k] - v[2 * pstride + k] - v[8 * pstride + k];
          e2[k + 1] += v[8 * pstride + k];
        }
      }
}

// Calls f(std::integral_constant<int, TW>) for the common tile-row lengths, else with 0 (run time).
template <class F>
void with_tiles(int64_t TW, F&& f) {
  switch (TW) {
    case 2: return f(std::integral_constant<int, 2>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 8: return f(std::integral_constant<int, 8>{});
    case 16: return f(std::integral_constant<int, 16>{});
    default: return f(std::integral_constant<int, 0>{});
  }
}

// V[pt][c4][sm T + t] for the samples [n0, n0 + nb) of x; `ld` is the length of one row of V (nb T).
template <class T>
void transform_inputs(const T* x, int64_t n0, int64_t nb, const Shape& s, const Layout& l, T* V, int64_t ld) {
  const int64_t Ci = s.Ci, plane = s.H * s.W, pstride = plane_stride<T>(l.C4 * ld);
  const Split sp = split_of(l);
  parallel_for(nb * Ci, [&](int64_t b, int64_t e) {
    T* D = thread_scratch<T>(ScratchSlot::WinogradChannel, sp.size());
    std::fill(D, D + sp.size(), T(0));  // the padding, once per thread
    for (int64_t item = b; item < e; ++item) {
      const int64_t sm = item / Ci, c = item % Ci;
      with_input_width(s, [&](auto w) { split_columns<decltype(w)::value>(x + ((n0 + sm) * Ci + c) * plane, s, sp, D); });
      T* out = V + 4 * c * ld + sm * l.T;
      with_tiles(l.TW, [&](auto tw) { transform_channel<decltype(tw)::value>(D, l, sp, out, ld, pstride); });
    }
  }, std::max<int64_t>(1, kParallelGrain / (36 * l.T)));
}

// dx for the samples [n0, n0 + nb) from dV (overwritten).
template <class T>
void inputs_from_transformed(const T* dV, int64_t n0, int64_t nb, const Shape& s, const Layout& l, T* dx,
                             int64_t ld) {
  const int64_t Ci = s.Ci, plane = s.H * s.W, pstride = plane_stride<T>(l.C4 * ld);
  const Split sp = split_of(l);
  parallel_for(nb * Ci, [&](int64_t b, int64_t e) {
    T* dD = thread_scratch<T>(ScratchSlot::WinogradChannel, sp.size());
    for (int64_t item = b; item < e; ++item) {
      const int64_t sm = item / Ci, c = item % Ci;
      std::fill(dD, dD + sp.size(), T(0));
      const T* in = dV + 4 * c * ld + sm * l.T;
      with_tiles(l.TW, [&](auto tw) { channel_from_transformed<decltype(tw)::value>(in, l, sp, dD, ld, pstride); });
      with_input_width(s, [&](auto w) { merge_columns<decltype(w)::value>(dD, s, sp, dx + ((n0 + sm) * Ci + c) * plane); });
    }
  }, std::max<int64_t>(1, kParallelGrain / (36 * l.T)));
}

// ---- outputs and their gradients, per (sample, output channel) ----
//
// Output tiles are 2 x 2 blocks of y; where Ho or Wo is odd the last ones stick out, and those
// channels go through a zero-padded 2TH x 2TW copy.

// y = A^T M A per tile, into the 2TH x 2TW block yb (row length 2 TW).
template <int TWC, class T>
void output_channel(const T* m, int64_t pstride, const Layout& l, T* yb) {
  const int64_t TW = TWC > 0 ? TWC : l.TW;
  for (int64_t th = 0; th < l.TH; ++th) {
    const T* mt = m + th * TW;
    T* y0 = yb + 2 * th * 2 * TW;
    T* y1 = y0 + 2 * TW;
#pragma GCC ivdep
    for (int64_t k = 0; k < TW; ++k) {
      // A^T along the rows (m0 + m1, m1 + m2) for each column, then along the columns
      const T r00 = mt[0 * pstride + k] + mt[3 * pstride + k], r01 = mt[1 * pstride + k] + mt[4 * pstride + k];
      const T r02 = mt[2 * pstride + k] + mt[5 * pstride + k];
      const T r10 = mt[3 * pstride + k] + mt[6 * pstride + k], r11 = mt[4 * pstride + k] + mt[7 * pstride + k];
      const T r12 = mt[5 * pstride + k] + mt[8 * pstride + k];
      y0[2 * k] = r00 + r01;
      y0[2 * k + 1] = r01 + r02;
      y1[2 * k] = r10 + r11;
      y1[2 * k + 1] = r11 + r12;
    }
  }
}

// dM = A dY A^T per tile, from the 2TH x 2TW block gb: the adjoint of output_channel.
template <int TWC, class T>
void output_grad_channel(const T* gb, const Layout& l, T* m, int64_t pstride) {
  const int64_t TW = TWC > 0 ? TWC : l.TW;
  for (int64_t th = 0; th < l.TH; ++th) {
    T* mt = m + th * TW;
    const T* g0 = gb + 2 * th * 2 * TW;
    const T* g1 = g0 + 2 * TW;
#pragma GCC ivdep
    for (int64_t k = 0; k < TW; ++k) {
      const T a = g0[2 * k], b = g0[2 * k + 1], c = g1[2 * k], d = g1[2 * k + 1];
      // (a, a + b, b) along each row, then (row0, row0 + row1, row1)
      mt[0 * pstride + k] = a;
      mt[1 * pstride + k] = a + b;
      mt[2 * pstride + k] = b;
      mt[3 * pstride + k] = a + c;
      mt[4 * pstride + k] = a + b + c + d;
      mt[5 * pstride + k] = b + d;
      mt[6 * pstride + k] = c;
      mt[7 * pstride + k] = c + d;
      mt[8 * pstride + k] = d;
    }
  }
}

inline bool whole_tiles(const Shape& s) { return s.Ho % 2 == 0 && s.Wo % 2 == 0; }

template <class T>
void outputs_from_transformed(const T* M, int64_t n0, int64_t nb, const Shape& s, const Layout& l, T* y,
                              int64_t ld) {
  const int64_t Co = s.Co, Ho = s.Ho, Wo = s.Wo, pstride = plane_stride<T>(Co * ld), TW2 = 2 * l.TW;
  parallel_for(nb * Co, [&](int64_t b, int64_t e) {
    T* pad = whole_tiles(s) ? nullptr : thread_scratch<T>(ScratchSlot::WinogradChannel, 4 * l.T);
    for (int64_t item = b; item < e; ++item) {
      const int64_t sm = item / Co, co = item % Co;
      T* yc = y + ((n0 + sm) * Co + co) * Ho * Wo;
      T* yb = pad ? pad : yc;
      with_tiles(l.TW, [&](auto tw) { output_channel<decltype(tw)::value>(M + co * ld + sm * l.T, pstride, l, yb); });
      if (pad)
        for (int64_t oh = 0; oh < Ho; ++oh) std::copy(pad + oh * TW2, pad + oh * TW2 + Wo, yc + oh * Wo);
    }
  }, std::max<int64_t>(1, kParallelGrain / (9 * l.T)));
}

template <class T>
void transform_output_grads(const T* dy, int64_t n0, int64_t nb, const Shape& s, const Layout& l, T* M, int64_t ld) {
  const int64_t Co = s.Co, Ho = s.Ho, Wo = s.Wo, pstride = plane_stride<T>(Co * ld), TW2 = 2 * l.TW;
  parallel_for(nb * Co, [&](int64_t b, int64_t e) {
    T* pad = nullptr;
    if (!whole_tiles(s)) {
      pad = thread_scratch<T>(ScratchSlot::WinogradChannel, 4 * l.T);
      std::fill(pad, pad + 4 * l.T, T(0));  // the rows and columns past Ho, Wo stay zero
    }
    for (int64_t item = b; item < e; ++item) {
      const int64_t sm = item / Co, co = item % Co;
      const T* dyc = dy + ((n0 + sm) * Co + co) * Ho * Wo;
      if (pad)
        for (int64_t oh = 0; oh < Ho; ++oh) std::copy(dyc + oh * Wo, dyc + (oh + 1) * Wo, pad + oh * TW2);
      const T* gb = pad ? pad : dyc;
      with_tiles(l.TW, [&](auto tw) { output_grad_channel<decltype(tw)::value>(gb, l, M + co * ld + sm * l.T, pstride); });
    }
  }, std::max<int64_t>(1, kParallelGrain / (9 * l.T)));
}

// Samples per chunk: as many as keep one chunk's transformed data and products under the cap,
// spread evenly over the chunks.
int64_t chunk_samples(const Shape& s, const Layout& l) {
  if (s.N <= 0) return 1;
  const int64_t per_sample = kPoints * (l.C4 + s.Co) * l.T;
  const int64_t most = std::max<int64_t>(1, kMaxChunkElements / std::max<int64_t>(per_sample, 1));
  const int64_t chunks = (s.N + most - 1) / most;
  return (s.N + chunks - 1) / chunks;
}

// GAN_CONV, read at each call (a conv call costs far more than this scan of the environment).
enum class Choice { Auto, Winograd, Im2col, Invalid };
Choice choice() {
  const char* v = std::getenv("GAN_CONV");
  if (v == nullptr || *v == '\0' || std::strcmp(v, "auto") == 0) return Choice::Auto;
  if (std::strcmp(v, "winograd") == 0) return Choice::Winograd;
  if (std::strcmp(v, "im2col") == 0) return Choice::Im2col;
  return Choice::Invalid;  // gan and the benchmarks stop on it first; elsewhere it counts as auto
}

}  // namespace

bool applies(int64_t Ci, int64_t Co, int64_t kH, int64_t kW, int64_t sh, int64_t sw, int64_t Ho, int64_t Wo) {
  if (kH != 4 || kW != 4 || sh != 2 || sw != 2 || Ho < 1 || Wo < 1) return false;
  switch (choice()) {
    case Choice::Im2col: return false;
    case Choice::Winograd: return true;
    default: return Ci >= kMinChannels && Co >= kMinChannels && Ho >= 2 && Wo >= 2;
  }
}

std::string describe() {
  switch (choice()) {
    case Choice::Im2col: return "4x4 stride-2 convolutions by im2col and one product (GAN_CONV=im2col)";
    case Choice::Winograd:
      return "every 4x4 stride-2 convolution by polyphase Winograd F(2x2, 2x2) (GAN_CONV=winograd)";
    default:
      return "4x4 stride-2 convolutions with " + std::to_string(kMinChannels) +
             "+ channels each side by polyphase Winograd F(2x2, 2x2), the rest by im2col (GAN_CONV=im2col for all by im2col)";
  }
}

std::string conv_setting_error() {
  if (choice() != Choice::Invalid) return "";
  return "GAN_CONV='" + std::string(std::getenv("GAN_CONV")) +
         "' is not a convolution choice (expected auto, winograd or im2col)";
}

// The three buffers of one call, and its loop over chunks of samples.
template <class T>
struct Work {
  Layout l;
  int64_t chunk;
  T *U, *V, *M;  // transformed weights, inputs and outputs (or their gradients), 9 planes each
  int64_t up;    // U's plane stride

  explicit Work(const Shape& s) : l(layout_of(s)), chunk(chunk_samples(s, l)) {
    up = plane_stride<T>(s.Co * l.C4);
    U = thread_scratch<T>(ScratchSlot::WinogradWeight, kPoints * up);
    V = thread_scratch<T>(ScratchSlot::WinogradData, kPoints * plane_stride<T>(l.C4 * chunk * l.T));
    M = thread_scratch<T>(ScratchSlot::WinogradProduct, kPoints * plane_stride<T>(s.Co * chunk * l.T));
  }
  // body(n0, nb, ld, vp, mp) for the samples [n0, n0 + nb): their transformed rows are ld = nb T
  // long, and vp and mp are V's and M's plane strides for this chunk.
  template <class F>
  void chunks(const Shape& s, F&& body) const {
    for (int64_t n0 = 0; n0 < s.N; n0 += chunk) {
      const int64_t nb = std::min(chunk, s.N - n0), ld = nb * l.T;
      body(n0, nb, ld, plane_stride<T>(l.C4 * ld), plane_stride<T>(s.Co * ld));
    }
  }
};

template <class T>
void forward(const T* x, const T* w, T* y, const Shape& s) {
  const Work<T> k(s);
  transform_weights(w, s, k.l, /*by_channel=*/true, k.U);
  k.chunks(s, [&](int64_t n0, int64_t nb, int64_t ld, int64_t vp, int64_t mp) {
    transform_inputs(x, n0, nb, s, k.l, k.V, ld);
    gemm_batch(kPoints, true, false, s.Co, ld, k.l.C4, k.U, k.up, k.V, vp, T(0), k.M, mp);
    outputs_from_transformed(k.M, n0, nb, s, k.l, y, ld);
  });
}

template <class T>
void backward_data(const T* dy, const T* w, T* dx, const Shape& s) {
  const Work<T> k(s);
  transform_weights(w, s, k.l, /*by_channel=*/false, k.U);
  k.chunks(s, [&](int64_t n0, int64_t nb, int64_t ld, int64_t vp, int64_t mp) {
    transform_output_grads(dy, n0, nb, s, k.l, k.M, ld);
    gemm_batch(kPoints, true, false, k.l.C4, ld, s.Co, k.U, k.up, k.M, mp, T(0), k.V, vp);
    inputs_from_transformed(k.V, n0, nb, s, k.l, dx, ld);
  });
}

template <class T>
void backward_weight(const T* x, const T* dy, T* dw, const Shape& s) {
  if (s.N <= 0) {
    std::fill(dw, dw + s.Co * s.Ci * 16, T(0));
    return;
  }
  const Work<T> k(s);
  k.chunks(s, [&](int64_t n0, int64_t nb, int64_t ld, int64_t vp, int64_t mp) {
    transform_inputs(x, n0, nb, s, k.l, k.V, ld);
    transform_output_grads(dy, n0, nb, s, k.l, k.M, ld);
    const T beta = n0 == 0 ? T(0) : T(1);  // the chunks' sums in order: independent of threads
    gemm_batch(kPoints, false, true, s.Co, k.l.C4, ld, k.M, mp, k.V, vp, beta, k.U, k.up);
  });
  weights_from_transformed(k.U, s, k.l, dw);
}

template void forward<float>(const float*, const float*, float*, const Shape&);
template void forward<double>(const double*, const double*, double*, const Shape&);
template void backward_data<float>(const float*, const float*, float*, const Shape&);
template void backward_data<double>(const double*, const double*, double*, const Shape&);
template void backward_weight<float>(const float*, const float*, float*, const Shape&);
template void backward_weight<double>(const double*, const double*, double*, const Shape&);

}  // namespace gan::cpu::winograd
