// A tiled SIMT matrix-product kernel whose operands come from a problem object (see
// conv_problem.cuh), so that each convolution computation is one product with gathered operands.
//
// Block tile BM x BN, reduction step BK; each thread owns a TM x TN micro-tile in registers.
// Operand tiles go global -> registers -> shared memory with two shared buffers: the global loads
// of step k+1 are issued before the arithmetic of step k, which hides their latency behind it,
// and one barrier per step suffices. A warp covers a LANES_M x LANES_N patch of micro-tiles, so
// that its shared-memory reads touch few distinct words (most lanes read broadcasts).
//
// Results are summed in a fixed order (k ascending within a block; split-K partials summed in
// split order by a second kernel), so every run gives the same bits: no atomics.
//
// The tile geometry below (who loads what, who computes what) is plain C++ too, and the host
// tests check that it covers each tile exactly once.
#pragma once
#include <cstdint>
#include <type_traits>

#include "kernels/divmod.cuh"

namespace gan::kernels {

template <int BM_, int BN_, int BK_, int TM_, int TN_, int LANES_M_>
struct GemmTile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int LANES_M = LANES_M_, LANES_N = 32 / LANES_M_;
  static constexpr int THREADS_M = BM / TM, THREADS_N = BN / TN;
  static constexpr int THREADS = THREADS_M * THREADS_N;
  static constexpr int WARPS_M = THREADS_M / LANES_M, WARPS_N = THREADS_N / LANES_N;
  // Four extra words per shared row: keeps rows 16-byte aligned for vector reads and spreads the
  // K-walking stores (consecutive threads in consecutive rows) over different banks.
  static constexpr int PAD = 4;
  static_assert(BM % TM == 0 && BN % TN == 0, "tile must split into micro-tiles");
  static_assert(32 % LANES_M == 0 && THREADS_M % LANES_M == 0 && THREADS_N % LANES_N == 0,
                "warps must tile the thread grid");
  static_assert(THREADS % 32 == 0 && THREADS <= 1024, "whole warps");

  // First row / column of thread `tid`'s micro-tile inside the block tile.
  GAN_HD static int m_start(int tid) {
    const int warp = tid / 32, lane = tid % 32;
    return ((warp % WARPS_M) * LANES_M + lane % LANES_M) * TM;
  }
  GAN_HD static int n_start(int tid) {
    const int warp = tid / 32, lane = tid % 32;
    return ((warp / WARPS_M) * LANES_N + lane / LANES_M) * TN;
  }
};

// Which index consecutive threads walk when they load an operand tile: along the rows (M or N)
// or along the reduction. Each operand picks the one that makes its global reads contiguous.
enum class Walk { Rows, K };

// Loading a ROWS x KS operand tile with NT threads: element e = tid + i NT for i < LOADS.
template <int ROWS, int KS, int NT, Walk WALK>
struct TileLoad {
  static constexpr int ELEMS = ROWS * KS;
  static constexpr int LOADS = (ELEMS + NT - 1) / NT;
  // Every load of a thread lies in one row (its row geometry is computed once) ...
  static constexpr bool kOneRow = WALK == Walk::Rows && NT % ROWS == 0;
  // ... or at one reduction offset (its reduction geometry is computed once per step).
  static constexpr bool kOneK = WALK == Walk::K && NT % KS == 0;

  GAN_HD static bool valid(int tid, int i) { return tid + i * NT < ELEMS; }
  GAN_HD static int row(int tid, int i) {
    const int e = tid + i * NT;
    return WALK == Walk::Rows ? e % ROWS : e / KS;
  }
  GAN_HD static int kcol(int tid, int i) {
    const int e = tid + i * NT;
    return WALK == Walk::Rows ? e / ROWS : e % KS;
  }
};

// The tiles the convolution kernels use (float and double alike; double uses no 128x128).
using Tile128x128 = GemmTile<128, 128, 8, 8, 8, 4>;
using Tile128x64 = GemmTile<128, 64, 8, 8, 4, 4>;
using Tile64x64 = GemmTile<64, 64, 8, 4, 4, 4>;
using Tile128x16 = GemmTile<128, 16, 8, 4, 2, 8>;
using Tile128x4 = GemmTile<128, 4, 8, 4, 1, 32>;

#if defined(__CUDACC__)

namespace detail {

__device__ __forceinline__ float fma_t(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fma_t(double a, double b, double c) { return fma(a, b, c); }

// N consecutive shared-memory values into registers with the widest aligned vector loads.
template <int N, class T>
__device__ __forceinline__ void load_frag(T (&dst)[N], const T* src) {
  if constexpr (std::is_same_v<T, float> && N % 4 == 0) {
#pragma unroll
    for (int v = 0; v < N / 4; ++v) {
      const float4 t = reinterpret_cast<const float4*>(src)[v];
      dst[4 * v] = t.x, dst[4 * v + 1] = t.y, dst[4 * v + 2] = t.z, dst[4 * v + 3] = t.w;
    }
  } else if constexpr (std::is_same_v<T, float> && N % 2 == 0) {
#pragma unroll
    for (int v = 0; v < N / 2; ++v) {
      const float2 t = reinterpret_cast<const float2*>(src)[v];
      dst[2 * v] = t.x, dst[2 * v + 1] = t.y;
    }
  } else if constexpr (std::is_same_v<T, double> && N % 2 == 0) {
#pragma unroll
    for (int v = 0; v < N / 2; ++v) {
      const double2 t = reinterpret_cast<const double2*>(src)[v];
      dst[2 * v] = t.x, dst[2 * v + 1] = t.y;
    }
  } else {
#pragma unroll
    for (int v = 0; v < N; ++v) dst[v] = src[v];
  }
}

}  // namespace detail

// C = A B for phase blockIdx.z / splits of `prob`, reduction slice blockIdx.z % splits.
// splits == 1: C goes to the problem's output. splits > 1 (single-phase problems only): the
// slice's partial product goes to partial[split][M][Ng] for implicit_gemm_splitk_reduce_v1.
// At least two blocks per multiprocessor: caps the 128x128 tile at 128 registers a thread (it
// wants ~137, which would leave one block of 8 warps to hide all latency).
template <class T, class Tile, Walk AW, Walk BW, class Prob>
__global__ void __launch_bounds__(Tile::THREADS, 2)
    implicit_gemm_v1(const __grid_constant__ Prob prob, int splits, T* __restrict__ partial) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  constexpr int NT = Tile::THREADS, PAD = Tile::PAD;
  using LA = TileLoad<BM, BK, NT, AW>;
  using LB = TileLoad<BN, BK, NT, BW>;

  __shared__ __align__(16) T As[2][BK][BM + PAD];
  __shared__ __align__(16) T Bs[2][BK][BN + PAD];

  const int tid = threadIdx.x;
  const int phase = blockIdx.z / splits, split = blockIdx.z % splits;
  const auto& sub = prob.phase(phase);
  const int M = sub.M, Ng = sub.Ng, Kg = sub.Kg;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  if (m0 >= M || n0 >= Ng) return;  // a phase smaller than the grid: the whole block leaves

  const int ktiles = (Kg + BK - 1) / BK;
  const int kt0 = static_cast<int>(static_cast<int64_t>(ktiles) * split / splits);
  const int kt1 = static_cast<int>(static_cast<int64_t>(ktiles) * (split + 1) / splits);

  // Row/column geometry of this thread's loads: fixed for the whole reduction.
  using RowA = decltype(sub.row_a(0));
  using ColB = decltype(sub.col_b(0));
  constexpr int NRA = LA::kOneRow ? 1 : LA::LOADS;
  constexpr int NCB = LB::kOneRow ? 1 : LB::LOADS;
  RowA ra[NRA];
  ColB cb[NCB];
#pragma unroll
  for (int i = 0; i < NRA; ++i) ra[i] = sub.row_a(m0 + LA::row(tid, i));
#pragma unroll
  for (int i = 0; i < NCB; ++i) cb[i] = sub.col_b(n0 + LB::row(tid, i));

  T ga[LA::LOADS], gb[LB::LOADS];
  auto load_global = [&](int kt) {
    const int kbase = kt * BK;
    if constexpr (LA::kOneK) {
      const auto ka = sub.k_a(kbase + LA::kcol(tid, 0));
#pragma unroll
      for (int i = 0; i < LA::LOADS; ++i) ga[i] = sub.load_a(ra[LA::kOneRow ? 0 : i], ka);
    } else {
#pragma unroll
      for (int i = 0; i < LA::LOADS; ++i) ga[i] = sub.load_a(ra[LA::kOneRow ? 0 : i], sub.k_a(kbase + LA::kcol(tid, i)));
    }
    if constexpr (LB::kOneK) {
      const auto kb = sub.k_b(kbase + LB::kcol(tid, 0));
#pragma unroll
      for (int i = 0; i < LB::LOADS; ++i) gb[i] = sub.load_b(cb[LB::kOneRow ? 0 : i], kb);
    } else {
#pragma unroll
      for (int i = 0; i < LB::LOADS; ++i) gb[i] = sub.load_b(cb[LB::kOneRow ? 0 : i], sub.k_b(kbase + LB::kcol(tid, i)));
    }
  };
  auto store_shared = [&](int buf) {
#pragma unroll
    for (int i = 0; i < LA::LOADS; ++i)
      if (LA::valid(tid, i)) As[buf][LA::kcol(tid, i)][LA::row(tid, i)] = ga[i];
#pragma unroll
    for (int i = 0; i < LB::LOADS; ++i)
      if (LB::valid(tid, i)) Bs[buf][LB::kcol(tid, i)][LB::row(tid, i)] = gb[i];
  };

  T acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

  const int ms = Tile::m_start(tid), ns = Tile::n_start(tid);
  if (kt0 < kt1) {
    load_global(kt0);
    store_shared(0);
    __syncthreads();
    for (int kt = kt0; kt < kt1; ++kt) {
      const int buf = (kt - kt0) & 1;
      const bool more = kt + 1 < kt1;
      if (more) load_global(kt + 1);
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) {
        T a[TM], b[TN];
        detail::load_frag<TM>(a, &As[buf][kk][ms]);
        detail::load_frag<TN>(b, &Bs[buf][kk][ns]);
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] = detail::fma_t(a[i], b[j], acc[i][j]);
      }
      // Buffer buf^1 was last read in the previous step, which every thread finished before
      // the barrier that ended it.
      if (more) store_shared(buf ^ 1);
      __syncthreads();
    }
  }

  T* out = sub.out();
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ms + i;
    if (m >= M) continue;
    if (splits == 1) {
      const int64_t ro = sub.out_row(m);
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int n = n0 + ns + j;
        if (n < Ng) out[ro + sub.out_col(n)] = acc[i][j];
      }
    } else {
      T* dst = partial + (static_cast<int64_t>(split) * M + m) * Ng;
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int n = n0 + ns + j;
        if (n < Ng) dst[n] = acc[i][j];
      }
    }
  }
}

// Sums the split-K partial products in split order and writes them to the problem's output.
template <class T, class Prob>
__global__ void implicit_gemm_splitk_reduce_v1(const __grid_constant__ Prob prob, const T* __restrict__ partial,
                                               int splits) {
  const auto& sub = prob.phase(0);
  const int64_t Ng = sub.Ng;
  const int64_t MN = static_cast<int64_t>(sub.M) * Ng;
  T* out = sub.out();
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < MN;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    T s = partial[idx];
    for (int sp = 1; sp < splits; ++sp) s += partial[sp * MN + idx];
    const int m = static_cast<int>(idx / Ng), n = static_cast<int>(idx % Ng);
    out[sub.out_row(m) + sub.out_col(n)] = s;
  }
}

#endif  // __CUDACC__

}  // namespace gan::kernels
