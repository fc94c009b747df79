// Tiled matrix-product kernels whose operands come from a problem object (see conv_problem.cuh),
// so that each convolution computation is one product with gathered operands. Two kernels, named
// for the arithmetic they do: implicit_gemm_fma (FP32 / FP64 fused multiply-adds on the CUDA
// cores, any T) and implicit_gemm_tf32 (TF32 tensor cores through wmma, float only); plus
// implicit_gemm_splitk_reduce, which sums split-K partial products.
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
#include <utility>

#include "kernels/divmod.cuh"

#if defined(__CUDACC__)
#include <mma.h>
#endif

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

// Tiles of the TF32 tensor-core kernel: WARPS_M x WARPS_N warps, each owning a (BM / WARPS_M) x
// (BN / WARPS_N) patch of 16x16 accumulator fragments; one m16n16k8 step per BK = 8.
template <int BM_, int BN_, int WARPS_M_, int WARPS_N_>
struct WmmaTile {
  static constexpr int BM = BM_, BN = BN_, BK = 8, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_;
  static constexpr int THREADS = 32 * WARPS_M * WARPS_N;
  static constexpr int WTM = BM / WARPS_M, WTN = BN / WARPS_N;
  static constexpr int FM = WTM / 16, FN = WTN / 16;
  static constexpr int PAD = 4;  // rows stay 16-byte multiples; 8 rows stay 32-byte multiples
  static_assert(WTM % 16 == 0 && WTN % 16 == 0, "warp tiles are whole fragments");
  static_assert((BM + PAD) % 4 == 0 && (BN + PAD) % 4 == 0, "wmma leading dimension");
};
using Tf32Tile128x128 = WmmaTile<128, 128, 2, 4>;
using Tf32Tile128x64 = WmmaTile<128, 64, 4, 2>;
using Tf32Tile64x64 = WmmaTile<64, 64, 2, 2>;

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

// One operand's path through a block: a thread's share of each ROWS x BK tile, loaded from
// global memory into registers (row geometry computed once, reduction geometry once per step),
// then stored into a shared tile laid out [BK][ROWS + PAD].
struct SideA {
  template <class Sub> __device__ __forceinline__ static auto row(const Sub& s, int m) { return s.row_a(m); }
  template <class Sub> __device__ __forceinline__ static auto kpart(const Sub& s, int k) { return s.k_a(k); }
  template <class Sub, class R, class K>
  __device__ __forceinline__ static auto load(const Sub& s, const R& r, const K& k) { return s.load_a(r, k); }
};
struct SideB {
  template <class Sub> __device__ __forceinline__ static auto row(const Sub& s, int n) { return s.col_b(n); }
  template <class Sub> __device__ __forceinline__ static auto kpart(const Sub& s, int k) { return s.k_b(k); }
  template <class Sub, class R, class K>
  __device__ __forceinline__ static auto load(const Sub& s, const R& r, const K& k) { return s.load_b(r, k); }
};

template <class T, class Side, class Sub, int ROWS, int BK, int NT, int PAD, Walk W>
struct OperandStage {
  using L = TileLoad<ROWS, BK, NT, W>;
  using Row = decltype(Side::row(std::declval<const Sub&>(), 0));
  static constexpr int NR = L::kOneRow ? 1 : L::LOADS;
  Row rows[NR];
  T regs[L::LOADS];

  __device__ __forceinline__ void init(const Sub& sub, int base, int tid) {
#pragma unroll
    for (int i = 0; i < NR; ++i) rows[i] = Side::row(sub, base + L::row(tid, i));
  }
  __device__ __forceinline__ void load(const Sub& sub, int kbase, int tid) {
    if constexpr (L::kOneK) {
      const auto kp = Side::kpart(sub, kbase + L::kcol(tid, 0));
#pragma unroll
      for (int i = 0; i < L::LOADS; ++i) regs[i] = Side::load(sub, rows[L::kOneRow ? 0 : i], kp);
    } else {
#pragma unroll
      for (int i = 0; i < L::LOADS; ++i)
        regs[i] = Side::load(sub, rows[L::kOneRow ? 0 : i], Side::kpart(sub, kbase + L::kcol(tid, i)));
    }
  }
  __device__ __forceinline__ void store(T (*tile)[ROWS + PAD], int tid) const {
#pragma unroll
    for (int i = 0; i < L::LOADS; ++i)
      if (L::valid(tid, i)) tile[L::kcol(tid, i)][L::row(tid, i)] = regs[i];
  }
};

// The reduction slice [kt0, kt1) (in BK steps) of split `split` out of `splits`.
__device__ __forceinline__ void split_range(int Kg, int BK, int split, int splits, int& kt0, int& kt1) {
  const int ktiles = (Kg + BK - 1) / BK;
  kt0 = static_cast<int>(static_cast<int64_t>(ktiles) * split / splits);
  kt1 = static_cast<int>(static_cast<int64_t>(ktiles) * (split + 1) / splits);
}

// The reduction loop both kernels share. The operand tiles of step kt0 are staged into shared
// buffer 0; then each step issues the global loads of the next step before step(buf) computes on
// this step's shared tiles, which hides their latency behind the arithmetic, stores the prefetched
// tiles into the other buffer and ends with one barrier. Buffer buf ^ 1 was last read in the
// previous step, which every thread finished before the barrier that ended it.
template <class StageA, class StageB, class Sub, class TileA, class TileB, class Step>
__device__ __forceinline__ void staged_reduction(StageA& a, StageB& b, const Sub& sub, TileA& As, TileB& Bs, int BK,
                                                 int kt0, int kt1, int tid, Step&& step) {
  if (kt0 >= kt1) return;
  a.load(sub, kt0 * BK, tid);
  b.load(sub, kt0 * BK, tid);
  a.store(As[0], tid);
  b.store(Bs[0], tid);
  __syncthreads();
  for (int kt = kt0; kt < kt1; ++kt) {
    const int buf = (kt - kt0) & 1;
    const bool more = kt + 1 < kt1;
    if (more) {
      a.load(sub, (kt + 1) * BK, tid);
      b.load(sub, (kt + 1) * BK, tid);
    }
    step(buf);
    if (more) {
      a.store(As[buf ^ 1], tid);
      b.store(Bs[buf ^ 1], tid);
    }
    __syncthreads();
  }
}

// C = A B for phase blockIdx.z / splits of `prob`, reduction slice blockIdx.z % splits.
// splits == 1: C goes to the problem's output. splits > 1 (single-phase problems only): the
// slice's partial product goes to partial[split][M][Ng] for implicit_gemm_splitk_reduce.
// At least two blocks per multiprocessor: caps the 128x128 tile at 128 registers a thread (it
// wants ~137, which would leave one block of 8 warps to hide all latency).
template <class T, class Tile, Walk AW, Walk BW, class Prob>
__global__ void __launch_bounds__(Tile::THREADS, 2)
    implicit_gemm_fma(const __grid_constant__ Prob prob, int splits, T* __restrict__ partial) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  constexpr int NT = Tile::THREADS, PAD = Tile::PAD;

  __shared__ __align__(16) T As[2][BK][BM + PAD];
  __shared__ __align__(16) T Bs[2][BK][BN + PAD];

  const int tid = threadIdx.x;
  const int phase = blockIdx.z / splits, split = blockIdx.z % splits;
  const auto& sub = prob.phase(phase);
  using Sub = std::remove_cv_t<std::remove_reference_t<decltype(sub)>>;
  const int M = sub.M, Ng = sub.Ng;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  if (m0 >= M || n0 >= Ng) return;  // a phase smaller than the grid: the whole block leaves
  int kt0, kt1;
  split_range(sub.Kg, BK, split, splits, kt0, kt1);

  OperandStage<T, SideA, Sub, BM, BK, NT, PAD, AW> a;
  OperandStage<T, SideB, Sub, BN, BK, NT, PAD, BW> b;
  a.init(sub, m0, tid);
  b.init(sub, n0, tid);

  T acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

  const int ms = Tile::m_start(tid), ns = Tile::n_start(tid);
  staged_reduction(a, b, sub, As, Bs, BK, kt0, kt1, tid, [&](int buf) {
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      T fa[TM], fb[TN];
      detail::load_frag<TM>(fa, &As[buf][kk][ms]);
      detail::load_frag<TN>(fb, &Bs[buf][kk][ns]);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = detail::fma_t(fa[i], fb[j], acc[i][j]);
    }
  });

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

// The same product on TF32 tensor cores (float only): operands rounded to TF32 (10-bit
// mantissa) as they enter the fragments, products accumulated in FP32. Same staging, split-K and
// phases as implicit_gemm_fma; results leave through a per-warp shared scratch, so that lanes write
// consecutive rows (consecutive output pixels) together.
template <class Tile, Walk AW, Walk BW, class Prob>
__global__ void __launch_bounds__(Tile::THREADS, 2)
    implicit_gemm_tf32(const __grid_constant__ Prob prob, int splits, float* __restrict__ partial) {
  namespace wmma = nvcuda::wmma;
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, NT = Tile::THREADS, PAD = Tile::PAD;
  constexpr int FM = Tile::FM, FN = Tile::FN;
  constexpr int WARPS = Tile::WARPS_M * Tile::WARPS_N;

  // wmma loads want 32-byte aligned fragment origins: every buffer below starts on a multiple of 32.
  __shared__ __align__(32) float As[2][BK][BM + PAD];
  __shared__ __align__(32) float Bs[2][BK][BN + PAD];
  __shared__ __align__(32) float Cs[WARPS][16 * 16];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp % Tile::WARPS_M, wn = warp / Tile::WARPS_M;
  const int phase = blockIdx.z / splits, split = blockIdx.z % splits;
  const auto& sub = prob.phase(phase);
  using Sub = std::remove_cv_t<std::remove_reference_t<decltype(sub)>>;
  const int M = sub.M, Ng = sub.Ng;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  if (m0 >= M || n0 >= Ng) return;
  int kt0, kt1;
  split_range(sub.Kg, BK, split, splits, kt0, kt1);

  OperandStage<float, SideA, Sub, BM, BK, NT, PAD, AW> a;
  OperandStage<float, SideB, Sub, BN, BK, NT, PAD, BW> b;
  a.init(sub, m0, tid);
  b.init(sub, n0, tid);

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  staged_reduction(a, b, sub, As, Bs, BK, kt0, kt1, tid, [&](int buf) {
    // As[k][m] is A column-major (m contiguous), Bs[k][n] is B row-major.
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fa[FM];
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb[FN];
#pragma unroll
    for (int i = 0; i < FM; ++i) {
      wmma::load_matrix_sync(fa[i], &As[buf][0][wm * Tile::WTM + i * 16], BM + PAD);
#pragma unroll
      for (int t = 0; t < fa[i].num_elements; ++t) fa[i].x[t] = wmma::__float_to_tf32(fa[i].x[t]);
    }
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::load_matrix_sync(fb[j], &Bs[buf][0][wn * Tile::WTN + j * 16], BN + PAD);
#pragma unroll
      for (int t = 0; t < fb[j].num_elements; ++t) fb[j].x[t] = wmma::__float_to_tf32(fb[j].x[t]);
    }
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
  });

  float* out = sub.out();
  float* scratch = Cs[warp];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      // Column-major: element (r, c) of the fragment at r + 16 c, so lane l and l + 1 hold rows
      // r and r + 1 of one column.
      wmma::store_matrix_sync(scratch, acc[i][j], 16, wmma::mem_col_major);
      __syncwarp();
#pragma unroll
      for (int t = 0; t < 8; ++t) {
        const int e = lane + 32 * t, r = e % 16, c = e / 16;
        const int m = m0 + wm * Tile::WTM + i * 16 + r, n = n0 + wn * Tile::WTN + j * 16 + c;
        if (m < M && n < Ng) {
          if (splits == 1) out[sub.out_row(m) + sub.out_col(n)] = scratch[e];
          else partial[(static_cast<int64_t>(split) * M + m) * Ng + n] = scratch[e];
        }
      }
      __syncwarp();  // the scratch is rewritten by the next fragment
    }
}

// Sums the split-K partial products in split order and writes them to the problem's output.
template <class T, class Prob>
__global__ void implicit_gemm_splitk_reduce(const __grid_constant__ Prob prob, const T* __restrict__ partial,
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
