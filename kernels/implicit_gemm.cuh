// Tiled matrix-product kernels whose operands come from a problem object (see conv_problem.cuh),
// so that each convolution computation is one product with gathered operands. Two kernels, named
// for the arithmetic they do: implicit_gemm_fma (fused multiply-adds on the CUDA cores: FP32 for
// float and bfloat16 data, FP64 for double) and implicit_gemm_mma (tensor cores through PTX
// mma.sync: TF32 for float data, BF16 for bfloat16; mma_fragments.h); plus
// implicit_gemm_splitk_reduce, which sums split-K partial products.
//
// Block tile BM x BN, reduction step BK; each thread owns a TM x TN micro-tile in registers (a warp
// owns a patch of 16x8 accumulator fragments on tensor cores). Operand tiles go global ->
// registers -> shared memory with two shared buffers: the global loads of step k+1 are issued
// before the arithmetic of step k, which hides their latency behind it, and one barrier per step
// suffices. A warp covers a LANES_M x LANES_N patch of micro-tiles, so that its shared-memory reads
// touch few distinct words (most lanes read broadcasts).
//
// Results are summed in a fixed order (k ascending within a block; split-K partials summed in
// split order by a second kernel), so every run gives the same bits: no atomics. Accumulators and
// split-K partials of bfloat16 data are FP32; each output is rounded to bfloat16 once.
//
// The tile geometry below (who loads what, who computes what) is plain C++ too, and the host
// tests check that it covers each tile exactly once and replay the products from it.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/bfloat16.h"
#include "kernels/divmod.cuh"
#include "kernels/mma_fragments.h"

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

// What a product of T data accumulates in: FP32 for bfloat16, the type itself otherwise.
template <class T>
using acc_t = std::conditional_t<std::is_same_v<T, bf16>, float, T>;

// Tiles of the tensor-core kernel: WARPS_M x WARPS_N warps, each owning a (BM / WARPS_M) x
// (BN / WARPS_N) patch of FM x FN accumulator fragments of 16x8; BK is one instruction's reduction
// (8 for TF32, 16 for BF16).
// Eight extra elements per shared row keep every row 16-byte aligned (ldmatrix rows) and put the
// rows one fragment load touches in different banks: a TF32 register gather reads rows t and
// columns g, at bank 8 t + g of a 136- or 72-word row; the eight 16-byte rows of one ldmatrix
// matrix start 4 words apart.
// MIN_BLOCKS: the blocks per multiprocessor the register budget is set for (launch bounds).
template <int BM_, int BN_, int WARPS_M_, int WARPS_N_, int BK_, int MIN_BLOCKS_ = 2>
struct MmaTile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_;
  static constexpr int MIN_BLOCKS = MIN_BLOCKS_;
  static constexpr int THREADS = 32 * WARPS_M * WARPS_N;
  static constexpr int WTM = BM / WARPS_M, WTN = BN / WARPS_N;
  static constexpr int FM = WTM / 16, FN = WTN / 8;
  static constexpr int PAD = 8;
  // First row / column of warp `warp`'s patch inside the block tile.
  GAN_HD static int warp_m0(int warp) { return (warp % WARPS_M) * WTM; }
  GAN_HD static int warp_n0(int warp) { return (warp / WARPS_M) * WTN; }
  static_assert(WTM % 16 == 0 && WTN % 16 == 0, "warp tiles are whole fragments, B fragments in ldmatrix pairs");
  static_assert(BK == 8 || BK == 16, "one m16n8k8 (TF32) or m16n8k16 (BF16) step");
};
using Tf32Tile128x128 = MmaTile<128, 128, 2, 4, 8>;
using Tf32Tile128x64 = MmaTile<128, 64, 4, 2, 8>;
using Tf32Tile64x64 = MmaTile<64, 64, 2, 2, 8>;
// BF16's 16-deep steps stage twice the operand registers of TF32's; at two blocks a multiprocessor
// (128 registers a thread) the 128x128 tile spills 56-252 bytes (ptxas, sm_90), so it runs one.
using Bf16Tile128x128 = MmaTile<128, 128, 2, 4, 16, 1>;
using Bf16Tile128x64 = MmaTile<128, 64, 4, 2, 16>;
using Bf16Tile64x64 = MmaTile<64, 64, 2, 2, 16>;

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
  // S: the shared tile's type, T or (for bfloat16 data on the CUDA cores) its FP32 widening.
  template <class S>
  __device__ __forceinline__ void store(S (*tile)[ROWS + PAD], int tid) const {
#pragma unroll
    for (int i = 0; i < L::LOADS; ++i)
      if (L::valid(tid, i)) tile[L::kcol(tid, i)][L::row(tid, i)] = static_cast<S>(regs[i]);
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
// bfloat16 data is widened to FP32 as it enters shared memory, and computed on in FP32.
// At least two blocks per multiprocessor: caps the 128x128 tile at 128 registers a thread (it
// wants ~137, which would leave one block of 8 warps to hide all latency).
template <class T, class Tile, Walk AW, Walk BW, class Prob>
__global__ void __launch_bounds__(Tile::THREADS, 2)
    implicit_gemm_fma(const __grid_constant__ Prob prob, int splits, acc_t<T>* __restrict__ partial) {
  using A = acc_t<T>;
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  constexpr int NT = Tile::THREADS, PAD = Tile::PAD;

  __shared__ __align__(16) A As[2][BK][BM + PAD];
  __shared__ __align__(16) A Bs[2][BK][BN + PAD];

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

  A acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = A(0);

  const int ms = Tile::m_start(tid), ns = Tile::n_start(tid);
  staged_reduction(a, b, sub, As, Bs, BK, kt0, kt1, tid, [&](int buf) {
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      A fa[TM], fb[TN];
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
        if (n < Ng) out[ro + sub.out_col(n)] = static_cast<T>(acc[i][j]);
      }
    } else {
      A* dst = partial + (static_cast<int64_t>(split) * M + m) * Ng;
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int n = n0 + ns + j;
        if (n < Ng) dst[n] = acc[i][j];
      }
    }
  }
}

// The same product on tensor cores: T = float runs TF32 (operands rounded to a 10-bit mantissa as
// they enter the fragments), T = bf16 runs BF16 (fragments straight from shared memory through
// ldmatrix); both accumulate in FP32. Same staging, split-K and phases as implicit_gemm_fma.
// Lane (g, t) of a warp holds rows g and g + 8, columns 2t and 2t + 1 of each accumulator
// fragment; for a given register the eight groups write eight consecutive rows (output pixels,
// contiguous in NCHW) of one column, which keeps the stores in whole 32-byte sectors for float.
template <class T, class Tile, Walk AW, Walk BW, class Prob>
__global__ void __launch_bounds__(Tile::THREADS, Tile::MIN_BLOCKS)
    implicit_gemm_mma(const __grid_constant__ Prob prob, int splits, float* __restrict__ partial) {
  constexpr bool kBf16 = std::is_same_v<T, bf16>;
  static_assert(std::is_same_v<T, float> || kBf16, "tensor cores take float (TF32) or bfloat16 data");
  static_assert(Tile::BK == (kBf16 ? 16 : 8), "one instruction's reduction per step");
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, NT = Tile::THREADS, PAD = Tile::PAD;
  constexpr int FM = Tile::FM, FN = Tile::FN;

  __shared__ __align__(16) T As[2][BK][BM + PAD];
  __shared__ __align__(16) T Bs[2][BK][BN + PAD];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm0 = Tile::warp_m0(warp), wn0 = Tile::warp_n0(warp);
  const int phase = blockIdx.z / splits, split = blockIdx.z % splits;
  const auto& sub = prob.phase(phase);
  using Sub = std::remove_cv_t<std::remove_reference_t<decltype(sub)>>;
  const int M = sub.M, Ng = sub.Ng;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  if (m0 >= M || n0 >= Ng) return;
  int kt0, kt1;
  split_range(sub.Kg, BK, split, splits, kt0, kt1);

  OperandStage<T, SideA, Sub, BM, BK, NT, PAD, AW> a;
  OperandStage<T, SideB, Sub, BN, BK, NT, PAD, BW> b;
  a.init(sub, m0, tid);
  b.init(sub, n0, tid);

  float acc[FM][FN][4];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.0f;

  staged_reduction(a, b, sub, As, Bs, BK, kt0, kt1, tid, [&](int buf) {
    uint32_t fa[FM][4], fb[FN][2];
    if constexpr (kBf16) {
      const mma::Coord ra = mma::bf16_a_ldmatrix_row(lane), rb = mma::bf16_b_ldmatrix_row(lane);
#pragma unroll
      for (int i = 0; i < FM; ++i) mma::ldmatrix_x4_trans(fa[i], &As[buf][ra.row][wm0 + 16 * i + ra.col]);
#pragma unroll
      for (int j = 0; j < FN; j += 2) {
        uint32_t r[4];
        mma::ldmatrix_x4_trans(r, &Bs[buf][rb.row][wn0 + 8 * j + rb.col]);
        fb[j][0] = r[0], fb[j][1] = r[1], fb[j + 1][0] = r[2], fb[j + 1][1] = r[3];
      }
    } else {
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const mma::Coord c = mma::tf32_a_coord(lane, r);  // (m, k); the tile is [k][m]
          fa[i][r] = mma::to_tf32(As[buf][c.col][wm0 + 16 * i + c.row]);
        }
#pragma unroll
      for (int j = 0; j < FN; ++j)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const mma::Coord c = mma::tf32_b_coord(lane, r);  // (k, n); the tile is [k][n]
          fb[j][r] = mma::to_tf32(Bs[buf][c.row][wn0 + 8 * j + c.col]);
        }
    }
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
      for (int j = 0; j < FN; ++j) {
        if constexpr (kBf16) mma::mma_bf16_16x8x16(acc[i][j], fa[i], fb[j]);
        else mma::mma_tf32_16x8x8(acc[i][j], fa[i], fb[j]);
      }
  });

  T* out = sub.out();
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {  // rows g (registers 0, 1) and g + 8 (registers 2, 3)
      const int m = m0 + wm0 + 16 * i + mma::c_coord(lane, 2 * h).row;
      if (m >= M) continue;
      const int64_t ro = splits == 1 ? sub.out_row(m) : (static_cast<int64_t>(split) * M + m) * Ng;
#pragma unroll
      for (int j = 0; j < FN; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int n = n0 + wn0 + 8 * j + mma::c_coord(lane, 2 * h + e).col;
          if (n >= Ng) continue;
          if (splits == 1) out[ro + sub.out_col(n)] = static_cast<T>(acc[i][j][2 * h + e]);
          else partial[ro + n] = acc[i][j][2 * h + e];
        }
    }
}

// Sums the split-K partial products in split order and writes them to the problem's output.
template <class T, class Prob>
__global__ void implicit_gemm_splitk_reduce(const __grid_constant__ Prob prob, const acc_t<T>* __restrict__ partial,
                                               int splits) {
  const auto& sub = prob.phase(0);
  const int64_t Ng = sub.Ng;
  const int64_t MN = static_cast<int64_t>(sub.M) * Ng;
  T* out = sub.out();
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < MN;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    acc_t<T> s = partial[idx];
    for (int sp = 1; sp < splits; ++sp) s += partial[sp * MN + idx];
    const int m = static_cast<int>(idx / Ng), n = static_cast<int>(idx % Ng);
    out[sub.out_row(m) + sub.out_col(n)] = static_cast<T>(s);
  }
}

#endif  // __CUDACC__

}  // namespace gan::kernels
