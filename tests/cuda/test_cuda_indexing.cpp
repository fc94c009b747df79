// Host-side checks of the CUDA convolution and batch-norm kernels' index arithmetic; they need
// no GPU.
//
// The implicit-GEMM kernel is replayed on the CPU block by block and thread by thread, with the
// same tile geometry (GemmTile, TileLoad), the same problem objects (conv_problem.cuh) and the
// same split-K slicing, and its output is compared with naive float64 convolutions. What the
// replay cannot check (barriers, the double buffer, vector loads) is left to the GPU tests.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "kernels/batchnorm_walk.cuh"
#include "kernels/conv_problem.cuh"
#include "kernels/divmod.cuh"
#include "kernels/implicit_gemm.cuh"
#include "tests/cuda/conv_reference.h"
#include "tests/cuda/gemm_replay.h"

using namespace gan::kernels;
using gan::test::conv_out;
using gan::test::random_vec;
using gan::test::rel_err;

namespace {

TEST(CudaConvIndexing, FastDivmodMatchesDivision) {
  std::mt19937_64 rng(7);
  std::vector<uint32_t> divisors = {1, 2, 3, 5, 7, 16, 25, 49, 100, 255, 256, 1000, 4096, 65535, 65536, 1u << 20,
                                    (1u << 30) + 3, (1u << 31) - 1};
  for (int i = 0; i < 200; ++i) divisors.push_back(1 + static_cast<uint32_t>(rng() % ((1u << 31) - 1)));
  for (uint32_t d : divisors) {
    FastDivmod f(d);
    std::vector<uint32_t> ns = {0, 1, d - 1, d, d + 1, (1u << 31) - 1, (1u << 31) - 2};
    for (int i = 0; i < 2000; ++i) ns.push_back(static_cast<uint32_t>(rng() % (1u << 31)));
    for (uint32_t m = 1; m < 5; ++m) {
      const uint64_t v = static_cast<uint64_t>(d) * m;
      if (v < (1u << 31)) ns.push_back(static_cast<uint32_t>(v)), ns.push_back(static_cast<uint32_t>(v - 1));
    }
    for (uint32_t n : ns) {
      if (n >= (1u << 31)) continue;
      uint32_t q, r;
      f.divmod(n, q, r);
      ASSERT_EQ(q, n / d) << n << " / " << d;
      ASSERT_EQ(r, n % d) << n << " % " << d;
    }
  }
}

// Every element of a block tile is computed by exactly one thread, and loaded by exactly one.
template <class Tile>
void check_tile_cover() {
  std::vector<int> hits(Tile::BM * Tile::BN, 0);
  for (int tid = 0; tid < Tile::THREADS; ++tid) {
    const int ms = Tile::m_start(tid), ns = Tile::n_start(tid);
    ASSERT_EQ(ms % Tile::TM, 0);
    for (int i = 0; i < Tile::TM; ++i)
      for (int j = 0; j < Tile::TN; ++j) {
        ASSERT_LT(ms + i, Tile::BM);
        ASSERT_LT(ns + j, Tile::BN);
        ++hits[(ms + i) * Tile::BN + ns + j];
      }
  }
  for (int h : hits) ASSERT_EQ(h, 1);
}

template <int ROWS, int KS, int NT, Walk W>
void check_load_cover() {
  using L = TileLoad<ROWS, KS, NT, W>;
  std::vector<int> hits(ROWS * KS, 0);
  for (int tid = 0; tid < NT; ++tid)
    for (int i = 0; i < L::LOADS; ++i) {
      if (!L::valid(tid, i)) continue;
      const int r = L::row(tid, i), k = L::kcol(tid, i);
      ASSERT_LT(r, ROWS);
      ASSERT_LT(k, KS);
      ++hits[r * KS + k];
      if (L::kOneRow) {
        ASSERT_EQ(r, L::row(tid, 0));
      }
      if (L::kOneK) {
        ASSERT_EQ(k, L::kcol(tid, 0));
      }
    }
  for (int h : hits) ASSERT_EQ(h, 1);
}

template <class Tile>
void check_loads_for_tile() {
  constexpr int NT = Tile::THREADS;
  check_load_cover<Tile::BM, Tile::BK, NT, Walk::Rows>();
  check_load_cover<Tile::BM, Tile::BK, NT, Walk::K>();
  check_load_cover<Tile::BN, Tile::BK, NT, Walk::Rows>();
  check_load_cover<Tile::BN, Tile::BK, NT, Walk::K>();
}

TEST(CudaConvIndexing, TilesCoverEachElementOnce) {
  check_tile_cover<Tile128x128>();
  check_tile_cover<Tile128x64>();
  check_tile_cover<Tile64x64>();
  check_tile_cover<Tile128x16>();
  check_tile_cover<Tile128x4>();
  check_loads_for_tile<Tile128x128>();
  check_loads_for_tile<Tile128x64>();
  check_loads_for_tile<Tile64x64>();
  check_loads_for_tile<Tile128x16>();
  check_loads_for_tile<Tile128x4>();
}

// The kernel's data flow on the host: per block, per reduction step, every thread's loads into a
// shared tile, then every thread's micro-tile update, then its epilogue.
template <class Tile, Walk AW, Walk BW, class Prob>
void replay_gemm(const Prob& prob, int phases, int splits, std::vector<double>* partial) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN, NT = Tile::THREADS;
  int maxM = 0, Ng = 0;
  for (int ph = 0; ph < phases; ++ph) maxM = std::max(maxM, prob.phase(ph).M), Ng = prob.phase(ph).Ng;
  const int grid_m = (maxM + BM - 1) / BM, grid_n = (Ng + BN - 1) / BN;
  std::vector<double> As(BK * BM), Bs(BK * BN);
  for (int z = 0; z < phases * splits; ++z) {
    const int phase = z / splits, split = z % splits;
    const auto& sub = prob.phase(phase);
    for (int bx = 0; bx < grid_m; ++bx)
      for (int by = 0; by < grid_n; ++by) {
        const int M = sub.M, Kg = sub.Kg, m0 = bx * BM, n0 = by * BN;
        if (m0 >= M || n0 >= sub.Ng) continue;
        int kt0, kt1;
        gan::test::split_steps(Kg, BK, split, splits, kt0, kt1);
        std::vector<double> acc(static_cast<size_t>(NT) * TM * TN, 0.0);
        for (int kt = kt0; kt < kt1; ++kt) {
          gan::test::stage_tiles<BM, BN, BK, NT, AW, BW>(sub, m0, n0, kt, As, BM, Bs, BN);
          for (int tid = 0; tid < NT; ++tid) {
            const int ms = Tile::m_start(tid), ns = Tile::n_start(tid);
            for (int kk = 0; kk < BK; ++kk)
              for (int i = 0; i < TM; ++i)
                for (int j = 0; j < TN; ++j)
                  acc[(static_cast<size_t>(tid) * TM + i) * TN + j] += As[kk * BM + ms + i] * Bs[kk * BN + ns + j];
          }
        }
        for (int tid = 0; tid < NT; ++tid) {
          const int ms = Tile::m_start(tid), ns = Tile::n_start(tid);
          for (int i = 0; i < TM; ++i) {
            const int m = m0 + ms + i;
            if (m >= M) continue;
            for (int j = 0; j < TN; ++j) {
              const int n = n0 + ns + j;
              if (n >= sub.Ng) continue;
              const double v = acc[(static_cast<size_t>(tid) * TM + i) * TN + j];
              if (splits == 1) sub.out()[sub.out_row(m) + sub.out_col(n)] = v;
              else (*partial)[(static_cast<size_t>(split) * M + m) * sub.Ng + n] = v;
            }
          }
        }
      }
  }
  if (splits > 1) gan::test::sum_splits(prob, splits, *partial);
}

int64_t numel(std::initializer_list<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

template <class Tile>
void replay_all_passes(const Conv2dShape& s, uint64_t seed, int splits) {
  std::mt19937_64 rng(seed);
  const auto x = random_vec(numel({s.N, s.C, s.H, s.W}), rng);
  const auto w = random_vec(numel({s.K, s.C, s.R, s.S}), rng);
  const auto dy = random_vec(numel({s.N, s.K, s.P, s.Q}), rng);
  std::vector<double> partial;

  std::vector<double> y(dy.size(), NAN);
  auto fp = make_fwd_problem<double>(s, x.data(), w.data(), y.data());
  partial.assign(static_cast<size_t>(splits) * fp.M * fp.Ng, NAN);
  replay_gemm<Tile, Walk::Rows, Walk::K>(fp, 1, splits, &partial);
  EXPECT_LT(rel_err(y, gan::test::ref_conv_forward(s, x, w)), 1e-12) << "forward, splits " << splits;

  std::vector<double> dw(w.size(), NAN);
  auto wp = make_bwd_weight_problem<double>(s, x.data(), dy.data(), dw.data());
  partial.assign(static_cast<size_t>(splits) * wp.M * wp.Ng, NAN);
  replay_gemm<Tile, Walk::K, Walk::K>(wp, 1, splits, &partial);
  EXPECT_LT(rel_err(dw, gan::test::ref_conv_backward_weight(s, x, dy)), 1e-12) << "backward-weight, splits " << splits;

  const auto dx_ref = gan::test::ref_conv_backward_data(s, dy, w);
  std::vector<double> dx(x.size(), NAN);
  auto dp = make_bwd_data_problem<double>(s, dy.data(), w.data(), dx.data());
  replay_gemm<Tile, Walk::Rows, Walk::K>(dp, dp.phases, 1, nullptr);
  EXPECT_LT(rel_err(dx, dx_ref), 1e-12) << "backward-data by phases";
  if (s.P == 1 && s.Q == 1) {
    std::vector<double> dx1(x.size(), NAN);
    auto op = make_bwd_data_1x1_problem<double>(s, dy.data(), w.data(), dx1.data());
    replay_gemm<Tile, Walk::K, Walk::Rows>(op, 1, 1, nullptr);
    EXPECT_LT(rel_err(dx1, dx_ref), 1e-12) << "backward-data from 1x1";
  }
}

Conv2dShape make_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t sh,
                       int64_t sw, int64_t ph, int64_t pw, int64_t extra_h = 0, int64_t extra_w = 0) {
  Conv2dShape s;
  s.N = N, s.C = C, s.H = H, s.W = W, s.K = K, s.R = R, s.S = S;
  s.stride_h = sh, s.stride_w = sw, s.pad_h = ph, s.pad_w = pw;
  s.P = conv_out(H, R, sh, ph), s.Q = conv_out(W, S, sw, pw);
  // A transposed convolution's output_padding: rows of x that no output pixel reads.
  s.H += extra_h, s.W += extra_w;
  return s;
}

TEST(CudaConvIndexing, ReplayedKernelMatchesNaiveConvolution) {
  std::vector<Conv2dShape> shapes = {
      make_shape(2, 3, 9, 7, 5, 3, 3, 1, 1, 1, 1),     // odd sizes, same padding
      make_shape(3, 5, 16, 16, 6, 4, 4, 2, 2, 1, 1),   // DCGAN k4 s2 p1
      make_shape(4, 7, 1, 1, 6, 4, 4, 1, 1, 3, 3),     // k4 s1 p3 on a 1x1 input: 4x4 output
      make_shape(4, 6, 4, 4, 3, 4, 4, 1, 1, 0, 0),     // k4 s1 p0 to 1x1: critic exit; its backward-data
                                                       // is the generator's entry (1x1 -> 4x4)
      make_shape(2, 3, 2, 2, 4, 3, 3, 2, 2, 1, 1),     // 1x1 output with padding (taps r = h + 1)
      make_shape(2, 4, 11, 13, 3, 3, 2, 3, 2, 2, 0),   // stride 3x2, asymmetric kernel
      make_shape(2, 3, 10, 9, 4, 2, 5, 3, 4, 0, 2),    // stride above kernel: phases without taps
      make_shape(2, 5, 7, 8, 3, 4, 4, 2, 2, 1, 1, 1, 1),  // output_padding rows / columns
  };
  uint64_t seed = 1;
  for (const auto& s : shapes) {
    SCOPED_TRACE(::testing::Message() << "x[" << s.N << "," << s.C << "," << s.H << "," << s.W << "] w[" << s.K << ","
                                      << s.C << "," << s.R << "," << s.S << "] y[" << s.P << "," << s.Q << "] stride "
                                      << s.stride_h << "x" << s.stride_w << " pad " << s.pad_h << "x" << s.pad_w);
    replay_all_passes<Tile64x64>(s, seed++, 1);
    replay_all_passes<Tile128x16>(s, seed++, 1);
    replay_all_passes<Tile128x4>(s, seed++, 3);
    replay_all_passes<Tile128x64>(s, seed++, 2);
  }
  // One shape large enough for several blocks of the biggest tile in each direction.
  replay_all_passes<Tile128x128>(make_shape(3, 9, 12, 12, 130, 3, 3, 1, 1, 1, 1), 99, 1);
  replay_all_passes<Tile128x128>(make_shape(2, 130, 5, 5, 7, 4, 4, 2, 2, 1, 1), 98, 4);
}

TEST(CudaConvIndexing, PhasesPartitionTheOutput) {
  // Each output row belongs to exactly one phase, and every tap of every phase is real.
  for (int64_t sh = 1; sh <= 4; ++sh)
    for (int64_t ph = 0; ph <= 3; ++ph)
      for (int64_t R = 1; R <= 6; ++R)
        for (int64_t H = 1; H <= 13; ++H) {
          Conv2dShape s = make_shape(1, 1, H, 1, 1, R, 1, sh, 1, ph, 0);
          if (s.P < 1) continue;
          std::vector<int> owner(H, 0);
          for (int a = 0; a < sh; ++a) {
            ConvBwdDataPhase f = make_bwd_data_phase(s, a, 0);
            const int64_t Hp = f.M / s.N, Ta = f.Kg / s.K;
            for (int64_t i = 0; i < Hp; ++i) {
              const int64_t h = f.h0 + sh * i;
              ASSERT_LT(h, H);
              ASSERT_EQ((h + ph) % sh, a);
              ++owner[h];
              for (int64_t t = 0; t < Ta; ++t) {
                const int64_t r = a + sh * t, p = f.pbase + i - t;
                ASSERT_LT(r, R);
                ASSERT_EQ(p * sh - ph + r, h);  // the pairing really is a tap of the convolution
              }
            }
          }
          for (int64_t h = 0; h < H; ++h) ASSERT_EQ(owner[h], 1) << "H " << H << " R " << R << " s " << sh << " p " << ph;
        }
}

TEST(CudaBatchNormIndexing, SlicesAndPacksVisitEachValueOfTheirChannelOnce) {
  const int64_t shapes[][3] = {{1, 1, 1}, {5, 3, 1}, {4, 6, 16}, {3, 5, 49}, {7, 2, 12}, {2, 9, 100}};
  for (const auto& sh : shapes) {
    const int64_t N = sh[0], C = sh[1], S = sh[2];
    for (int V : {1, 2, 4}) {
      if (S % V) continue;
      for (int G : {1, 2, 3, 7, 40}) {
        ChannelWalk cw(N, C, S, V);
        ASSERT_EQ(cw.Mv, N * S / V);
        std::vector<int> hits(static_cast<size_t>(N * C * S), 0);
        for (int block = 0; block < C * G; ++block) {
          const ChannelSlice sl = channel_slice(block, G, cw.Mv);
          ASSERT_LT(sl.c, C);
          ASSERT_LE(sl.e0, sl.e1);
          for (int e = sl.e0; e < sl.e1; ++e)
            for (int k = 0; k < V; ++k) {
              const int64_t idx = cw.offset(sl.c, e) * V + k;
              ASSERT_LT(idx, N * C * S);
              ASSERT_EQ((idx / S) % C, sl.c) << "value of another channel";
              ++hits[idx];
            }
        }
        for (int h : hits) ASSERT_EQ(h, 1) << "N " << N << " C " << C << " S " << S << " V " << V << " G " << G;
      }
    }
  }
}

}  // namespace
