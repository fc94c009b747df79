// Host-side checks of the tensor-core convolution kernel (implicit_gemm_mma): where each lane's
// registers sit (kernels/mma_fragments.h) and the kernel's data flow, replayed on the CPU; they
// need no GPU.
//
// The instructions are emulated from their definitions in the PTX ISA: mma.sync multiplies the
// 16x8 (or 16x16) A and 8x8 (16x8) B that the warp's registers hold, as the fragment tables place
// them; ldmatrix .x4 builds matrix i from the eight rows lanes 8 i .. 8 i + 7 point at, and gives
// lane l the elements (l / 4, 2 (l % 4) + j), or with .trans (2 (l % 4) + j, l / 4). A replay
// then runs whole convolutions through the same tiles, warp origins, ldmatrix addresses and
// epilogue coordinates as the kernel, and compares them with naive float64 convolutions.
// What it cannot check (the hardware's own layouts, barriers, bank timing) waits for a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/conv_problem.cuh"
#include "kernels/implicit_gemm.cuh"
#include "kernels/mma_fragments.h"
#include "tests/cuda/conv_reference.h"
#include "tests/cuda/gemm_replay.h"

using namespace gan::kernels;
using gan::test::conv_out;
using gan::test::random_vec;
using gan::test::rel_err;

namespace {

// Counts how often each (row, col) of a rows x cols matrix is named by coord(lane, reg, half).
template <class F>
std::vector<int> cover(int rows, int cols, int regs, int halves, F&& coord) {
  std::vector<int> hits(static_cast<size_t>(rows) * cols, 0);
  for (int lane = 0; lane < 32; ++lane)
    for (int r = 0; r < regs; ++r)
      for (int h = 0; h < halves; ++h) {
        const mma::Coord c = coord(lane, r, h);
        EXPECT_TRUE(c.row >= 0 && c.row < rows && c.col >= 0 && c.col < cols)
            << "lane " << lane << " reg " << r << " half " << h << " -> (" << c.row << ", " << c.col << ")";
        if (c.row >= 0 && c.row < rows && c.col >= 0 && c.col < cols) ++hits[c.row * cols + c.col];
      }
  return hits;
}

void expect_each_once(const std::vector<int>& hits, const char* what) {
  for (size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i], 1) << what << " element " << i;
}

// ldmatrix .x4 on a tile of 16-bit elements stored [row][col] with row stride `ld`: lane l points
// at (row_of(l), col_of(l)); returns, for lane l and register i, the stored (row, col) of its low
// (j = 0) and high (j = 1) halves.
struct Stored {
  int row, col;
};
template <class Addr>
std::vector<Stored> emulate_ldmatrix_x4(bool trans, Addr&& addr) {
  std::vector<Stored> got(32 * 4 * 2);
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 2; ++j) {
        // Element (er, ec) of matrix i: row er is the one lane 8 i + er points at, ec along it.
        const int er = trans ? 2 * (lane % 4) + j : lane / 4;
        const int ec = trans ? lane / 4 : 2 * (lane % 4) + j;
        const mma::Coord base = addr(8 * i + er);
        got[(lane * 4 + i) * 2 + j] = {base.row, base.col + ec};
      }
  return got;
}

}  // namespace

TEST(CudaMmaLayout, FragmentsCoverEachElementOnce) {
  expect_each_once(cover(16, 8, 4, 1, [](int l, int r, int) { return mma::tf32_a_coord(l, r); }), "tf32 A");
  expect_each_once(cover(8, 8, 2, 1, [](int l, int r, int) { return mma::tf32_b_coord(l, r); }), "tf32 B");
  expect_each_once(cover(16, 16, 4, 2, [](int l, int r, int h) { return mma::bf16_a_coord(l, r, h); }), "bf16 A");
  expect_each_once(cover(16, 8, 2, 2, [](int l, int r, int h) { return mma::bf16_b_coord(l, r, h); }), "bf16 B");
  expect_each_once(cover(16, 8, 4, 1, [](int l, int r, int) { return mma::c_coord(l, r); }), "accumulator");
}

// The tables against the PTX ISA's fragment figures, written out for two lanes (a relabelling of
// registers would pass every consistency check below; only this pins them to the hardware).
// Lane 5: groupID 1, threadID_in_group 1. Lane 30: groupID 7, threadID_in_group 2.
TEST(CudaMmaLayout, TablesAreThePtxIsaLayouts) {
  auto eq = [](mma::Coord c, int row, int col) { return c.row == row && c.col == col; };
  // m16n8k8 .tf32 A: row groupID (a0, a2) / groupID + 8 (a1, a3); col threadID_in_group (a0, a1) / + 4.
  EXPECT_TRUE(eq(mma::tf32_a_coord(5, 0), 1, 1) && eq(mma::tf32_a_coord(5, 1), 9, 1) &&
              eq(mma::tf32_a_coord(5, 2), 1, 5) && eq(mma::tf32_a_coord(5, 3), 9, 5));
  EXPECT_TRUE(eq(mma::tf32_a_coord(30, 0), 7, 2) && eq(mma::tf32_a_coord(30, 3), 15, 6));
  // m16n8k8 .tf32 B: row threadID_in_group (b0) / + 4 (b1); col groupID.
  EXPECT_TRUE(eq(mma::tf32_b_coord(5, 0), 1, 1) && eq(mma::tf32_b_coord(5, 1), 5, 1));
  EXPECT_TRUE(eq(mma::tf32_b_coord(30, 0), 2, 7) && eq(mma::tf32_b_coord(30, 1), 6, 7));
  // m16n8k16 .bf16 A, elements a0..a7 (two per register): row groupID for a0, a1, a4, a5, else + 8;
  // col threadID_in_group * 2 + (i & 1) for a0..a3, + 8 for a4..a7.
  EXPECT_TRUE(eq(mma::bf16_a_coord(5, 0, 0), 1, 2) && eq(mma::bf16_a_coord(5, 0, 1), 1, 3) &&
              eq(mma::bf16_a_coord(5, 1, 0), 9, 2) && eq(mma::bf16_a_coord(5, 2, 1), 1, 11) &&
              eq(mma::bf16_a_coord(5, 3, 0), 9, 10));
  EXPECT_TRUE(eq(mma::bf16_a_coord(30, 3, 1), 15, 13));
  // m16n8k16 .bf16 B, b0..b3: row threadID_in_group * 2 + (i & 1) for b0, b1, + 8 for b2, b3; col groupID.
  EXPECT_TRUE(eq(mma::bf16_b_coord(5, 0, 0), 2, 1) && eq(mma::bf16_b_coord(5, 0, 1), 3, 1) &&
              eq(mma::bf16_b_coord(5, 1, 0), 10, 1));
  EXPECT_TRUE(eq(mma::bf16_b_coord(30, 1, 1), 13, 7));
  // f32 accumulators c0..c3: row groupID (c0, c1) / + 8 (c2, c3); col threadID_in_group * 2 + (i & 1).
  EXPECT_TRUE(eq(mma::c_coord(5, 0), 1, 2) && eq(mma::c_coord(5, 1), 1, 3) && eq(mma::c_coord(5, 2), 9, 2) &&
              eq(mma::c_coord(5, 3), 9, 3));
  EXPECT_TRUE(eq(mma::c_coord(30, 3), 15, 5));
}

// The kernel points lane l at row bf16_a_ldmatrix_row(l) of A's [k][m] tile (and likewise for B's
// [k][n] tile, two fragments side by side): what .trans then delivers must be what mma.sync wants.
TEST(CudaMmaLayout, LdmatrixTransDeliversTheBf16Fragments) {
  const auto a = emulate_ldmatrix_x4(true, [](int lane) { return mma::bf16_a_ldmatrix_row(lane); });
  const auto b = emulate_ldmatrix_x4(true, [](int lane) { return mma::bf16_b_ldmatrix_row(lane); });
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 2; ++j) {
        const Stored sa = a[(lane * 4 + i) * 2 + j];  // (k, m)
        const mma::Coord wa = mma::bf16_a_coord(lane, i, j);  // (m, k)
        EXPECT_EQ(sa.row, wa.col) << "A lane " << lane << " reg " << i << " half " << j;
        EXPECT_EQ(sa.col, wa.row) << "A lane " << lane << " reg " << i << " half " << j;
        // Registers 0, 1: the fragment of columns 0-7; 2, 3: columns 8-15.
        const Stored sb = b[(lane * 4 + i) * 2 + j];  // (k, n)
        const mma::Coord wb = mma::bf16_b_coord(lane, i % 2, j);
        EXPECT_EQ(sb.row, wb.row) << "B lane " << lane << " reg " << i << " half " << j;
        EXPECT_EQ(sb.col, wb.col + 8 * (i / 2)) << "B lane " << lane << " reg " << i << " half " << j;
      }
  // Without .trans the same addresses would hand A over transposed: the check above can fail.
  const auto plain = emulate_ldmatrix_x4(false, [](int lane) { return mma::bf16_a_ldmatrix_row(lane); });
  int same = 0;
  for (int lane = 0; lane < 32; ++lane) {
    const mma::Coord wa = mma::bf16_a_coord(lane, 0, 1);
    const Stored s = plain[(lane * 4) * 2 + 1];
    same += s.row == wa.col && s.col == wa.row;
  }
  EXPECT_LT(same, 32);
}

namespace {

// The kernel's data flow on the host: per block and reduction step, every thread's loads into the
// [k][row] shared tiles (gemm_replay.h: stage_tiles, shared with the FP32 kernel's replay), then
// per warp the fragments gathered as the kernel gathers them (TF32: one read per register at its
// coordinate; BF16: ldmatrix .trans from the kernel's row addresses), the emulated mma.sync, and the
// epilogue at the accumulator coordinates.
template <class Tile, bool kBf16, Walk AW, Walk BW, class Prob>
void replay_mma_gemm(const Prob& prob, int phases, int splits, std::vector<double>* partial) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, NT = Tile::THREADS, FM = Tile::FM, FN = Tile::FN;
  constexpr int LDA = BM + Tile::PAD, LDB = BN + Tile::PAD;
  static_assert(BK == (kBf16 ? 16 : 8), "tile and instruction");
  int maxM = 0, Ng = 0;
  for (int ph = 0; ph < phases; ++ph) maxM = std::max(maxM, prob.phase(ph).M), Ng = prob.phase(ph).Ng;
  const int grid_m = (maxM + BM - 1) / BM, grid_n = (Ng + BN - 1) / BN;
  std::vector<double> As(BK * LDA), Bs(BK * LDB);
  const auto ra = emulate_ldmatrix_x4(true, [](int lane) { return mma::bf16_a_ldmatrix_row(lane); });
  const auto rb = emulate_ldmatrix_x4(true, [](int lane) { return mma::bf16_b_ldmatrix_row(lane); });
  constexpr int WARPS = NT / 32;
  for (int z = 0; z < phases * splits; ++z) {
    const int phase = z / splits, split = z % splits;
    const auto& sub = prob.phase(phase);
    for (int bx = 0; bx < grid_m; ++bx)
      for (int by = 0; by < grid_n; ++by) {
        const int M = sub.M, Kg = sub.Kg, m0 = bx * BM, n0 = by * BN;
        if (m0 >= M || n0 >= sub.Ng) continue;
        int kt0, kt1;
        gan::test::split_steps(Kg, BK, split, splits, kt0, kt1);
        // acc[warp][i][j][lane][reg]
        std::vector<double> acc(static_cast<size_t>(WARPS) * FM * FN * 32 * 4, 0.0);
        auto at = [&](int w, int i, int j, int l, int r) -> double& {
          return acc[((((static_cast<size_t>(w) * FM + i) * FN + j) * 32 + l) * 4) + r];
        };
        for (int kt = kt0; kt < kt1; ++kt) {
          gan::test::stage_tiles<BM, BN, BK, NT, AW, BW>(sub, m0, n0, kt, As, LDA, Bs, LDB);
          for (int w = 0; w < WARPS; ++w) {
            const int wm0 = Tile::warp_m0(w), wn0 = Tile::warp_n0(w);
            for (int i = 0; i < FM; ++i)
              for (int j = 0; j < FN; ++j) {
                // The warp's registers, then the matrices mma.sync reads from them.
                double a[16][16], b[16][8];
                for (int l = 0; l < 32; ++l) {
                  if constexpr (kBf16) {
                    for (int r = 0; r < 4; ++r)
                      for (int h = 0; h < 2; ++h) {
                        const Stored s = ra[(l * 4 + r) * 2 + h];  // (k, m) in the tile, from the warp's origin
                        const mma::Coord c = mma::bf16_a_coord(l, r, h);
                        a[c.row][c.col] = As[s.row * LDA + wm0 + 16 * i + s.col];
                      }
                    // Fragment j comes from the ldmatrix of the pair j - j % 2, registers 2 (j % 2) + r.
                    for (int r = 0; r < 2; ++r)
                      for (int h = 0; h < 2; ++h) {
                        const Stored s = rb[(l * 4 + 2 * (j % 2) + r) * 2 + h];
                        const mma::Coord c = mma::bf16_b_coord(l, r, h);
                        b[c.row][c.col] = Bs[s.row * LDB + wn0 + 8 * (j - j % 2) + s.col];
                      }
                  } else {
                    for (int r = 0; r < 4; ++r) {
                      const mma::Coord c = mma::tf32_a_coord(l, r);
                      a[c.row][c.col] = As[c.col * LDA + wm0 + 16 * i + c.row];
                    }
                    for (int r = 0; r < 2; ++r) {
                      const mma::Coord c = mma::tf32_b_coord(l, r);
                      b[c.row][c.col] = Bs[c.row * LDB + wn0 + 8 * j + c.col];
                    }
                  }
                }
                for (int l = 0; l < 32; ++l)
                  for (int r = 0; r < 4; ++r) {
                    const mma::Coord c = mma::c_coord(l, r);
                    double sum = 0;
                    for (int k = 0; k < BK; ++k) sum += a[c.row][k] * b[k][c.col];
                    at(w, i, j, l, r) += sum;
                  }
              }
          }
        }
        for (int w = 0; w < WARPS; ++w)
          for (int i = 0; i < FM; ++i)
            for (int j = 0; j < FN; ++j)
              for (int l = 0; l < 32; ++l)
                for (int r = 0; r < 4; ++r) {
                  const mma::Coord c = mma::c_coord(l, r);
                  const int m = m0 + Tile::warp_m0(w) + 16 * i + c.row, n = n0 + Tile::warp_n0(w) + 8 * j + c.col;
                  if (m >= M || n >= sub.Ng) continue;
                  const double v = at(w, i, j, l, r);
                  if (splits == 1) sub.out()[sub.out_row(m) + sub.out_col(n)] = v;
                  else (*partial)[(static_cast<size_t>(split) * M + m) * sub.Ng + n] = v;
                }
      }
  }
  if (splits > 1) gan::test::sum_splits(prob, splits, *partial);
}

Conv2dShape shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t st,
                  int64_t pad) {
  Conv2dShape s;
  s.N = N, s.C = C, s.H = H, s.W = W, s.K = K, s.R = R, s.S = S;
  s.stride_h = s.stride_w = st, s.pad_h = s.pad_w = pad;
  s.P = conv_out(H, R, st, pad), s.Q = conv_out(W, S, st, pad);
  return s;
}

// Every pass of `s` through tile Tile, with the walks conv.cu gives each pass.
template <class Tile, bool kBf16>
void replay_all_passes(const Conv2dShape& s, uint64_t seed, int splits) {
  std::mt19937_64 rng(seed);
  const auto x = random_vec(s.N * s.C * s.H * s.W, rng);
  const auto w = random_vec(s.K * s.C * s.R * s.S, rng);
  const auto dy = random_vec(s.N * s.K * s.P * s.Q, rng);
  std::vector<double> partial;
  const char* kind = kBf16 ? "bf16" : "tf32";

  std::vector<double> y(dy.size(), NAN);
  auto fp = make_fwd_problem<double>(s, x.data(), w.data(), y.data());
  partial.assign(static_cast<size_t>(splits) * fp.M * fp.Ng, NAN);
  replay_mma_gemm<Tile, kBf16, Walk::Rows, Walk::K>(fp, 1, splits, &partial);
  EXPECT_LT(rel_err(y, gan::test::ref_conv_forward(s, x, w)), 1e-12) << kind << " forward, splits " << splits;

  std::vector<double> dw(w.size(), NAN);
  auto wp = make_bwd_weight_problem<double>(s, x.data(), dy.data(), dw.data());
  partial.assign(static_cast<size_t>(splits) * wp.M * wp.Ng, NAN);
  replay_mma_gemm<Tile, kBf16, Walk::K, Walk::K>(wp, 1, splits, &partial);
  EXPECT_LT(rel_err(dw, gan::test::ref_conv_backward_weight(s, x, dy)), 1e-12)
      << kind << " backward-weight, splits " << splits;

  const auto dx_ref = gan::test::ref_conv_backward_data(s, dy, w);
  std::vector<double> dx(x.size(), NAN);
  auto dp = make_bwd_data_problem<double>(s, dy.data(), w.data(), dx.data());
  replay_mma_gemm<Tile, kBf16, Walk::Rows, Walk::K>(dp, dp.phases, 1, nullptr);
  EXPECT_LT(rel_err(dx, dx_ref), 1e-12) << kind << " backward-data by phases";
  if (s.P == 1 && s.Q == 1) {
    std::vector<double> dx1(x.size(), NAN);
    auto op = make_bwd_data_1x1_problem<double>(s, dy.data(), w.data(), dx1.data());
    replay_mma_gemm<Tile, kBf16, Walk::K, Walk::Rows>(op, 1, 1, nullptr);
    EXPECT_LT(rel_err(dx1, dx_ref), 1e-12) << kind << " backward-data from 1x1";
  }
}

// Ragged in every GEMM dimension: M and Ng not multiples of any tile, reductions of several steps
// with a partial last one; a strided transposed-convolution shape; a 1x1 input.
const Conv2dShape kShapes[] = {
    shape(3, 5, 9, 9, 70, 3, 3, 1, 1),   // fwd M 243, Ng 70, Kg 45
    shape(2, 67, 8, 8, 9, 4, 4, 2, 1),   // bwd-data: 4 phases of M 32, Ng 67, Kg 36
    shape(5, 33, 4, 4, 20, 4, 4, 1, 0),  // 1x1 dy: M 5, Ng 528, Kg 20
};

}  // namespace

TEST(CudaMmaLayout, ReplayedTf32KernelComputesEveryPass) {
  uint64_t seed = 11;
  for (const auto& s : kShapes) {
    replay_all_passes<Tf32Tile128x128, false>(s, seed++, 1);
    replay_all_passes<Tf32Tile128x64, false>(s, seed++, 3);
    replay_all_passes<Tf32Tile64x64, false>(s, seed++, 2);
  }
}

TEST(CudaMmaLayout, ReplayedBf16KernelComputesEveryPass) {
  uint64_t seed = 21;
  for (const auto& s : kShapes) {
    replay_all_passes<Bf16Tile128x128, true>(s, seed++, 1);
    replay_all_passes<Bf16Tile128x64, true>(s, seed++, 3);
    replay_all_passes<Bf16Tile64x64, true>(s, seed++, 2);
  }
}
