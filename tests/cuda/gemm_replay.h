// What the host replays of the implicit-GEMM kernels share (test_cuda_indexing.cpp for the FP32
// kernel, test_cuda_mma_layout.cpp for the tensor-core one): one reduction step's operand tiles
// loaded as the block's threads load them, the split-K sum, random operands.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/implicit_gemm.cuh"

namespace gan::test {

// Every thread's share of step kt's BK x BM and BK x BN tiles (TileLoad, the kernels' geometry),
// stored [k][row] with row strides lda and ldb. Words no thread writes stay NaN, so a product
// that reads one is NaN.
template <int BM, int BN, int BK, int NT, kernels::Walk AW, kernels::Walk BW, class Sub>
void stage_tiles(const Sub& sub, int m0, int n0, int kt, std::vector<double>& As, int lda, std::vector<double>& Bs,
                 int ldb) {
  using LA = kernels::TileLoad<BM, BK, NT, AW>;
  using LB = kernels::TileLoad<BN, BK, NT, BW>;
  std::fill(As.begin(), As.end(), NAN);
  std::fill(Bs.begin(), Bs.end(), NAN);
  for (int tid = 0; tid < NT; ++tid) {
    for (int i = 0; i < LA::LOADS; ++i) {
      const auto ra = sub.row_a(m0 + LA::row(tid, LA::kOneRow ? 0 : i));
      const auto ka = sub.k_a(kt * BK + LA::kcol(tid, LA::kOneK ? 0 : i));
      const double v = sub.load_a(ra, ka);
      if (LA::valid(tid, i)) As[LA::kcol(tid, i) * lda + LA::row(tid, i)] = v;
    }
    for (int i = 0; i < LB::LOADS; ++i) {
      const auto cb = sub.col_b(n0 + LB::row(tid, LB::kOneRow ? 0 : i));
      const auto kb = sub.k_b(kt * BK + LB::kcol(tid, LB::kOneK ? 0 : i));
      const double v = sub.load_b(cb, kb);
      if (LB::valid(tid, i)) Bs[LB::kcol(tid, i) * ldb + LB::row(tid, i)] = v;
    }
  }
}

// The reduction steps [kt0, kt1) of split `split` out of `splits` (the kernels' split_range).
inline void split_steps(int Kg, int BK, int split, int splits, int& kt0, int& kt1) {
  const int ktiles = (Kg + BK - 1) / BK;
  kt0 = static_cast<int>(static_cast<int64_t>(ktiles) * split / splits);
  kt1 = static_cast<int>(static_cast<int64_t>(ktiles) * (split + 1) / splits);
}

// implicit_gemm_splitk_reduce: the partial products summed in split order into the output.
template <class Prob>
void sum_splits(const Prob& prob, int splits, const std::vector<double>& partial) {
  const auto& sub = prob.phase(0);
  const int64_t MN = static_cast<int64_t>(sub.M) * sub.Ng;
  for (int64_t idx = 0; idx < MN; ++idx) {
    double s = partial[idx];
    for (int sp = 1; sp < splits; ++sp) s += partial[sp * MN + idx];
    sub.out()[sub.out_row(static_cast<int>(idx / sub.Ng)) + sub.out_col(static_cast<int>(idx % sub.Ng))] = s;
  }
}

inline std::vector<double> random_vec(int64_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& e : v) e = d(rng);
  return v;
}

}  // namespace gan::test
