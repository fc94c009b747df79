// The engine's AVX-512 product (engine/cpu/packed_gemm.h) against a float64 triple loop: every
// transpose pair, beta 0, 1 and another value, shapes with partial tiles on every edge, K slices of
// more than one block, whole 16 x 16 transposed blocks and their leftovers; and its promise that
// the thread count does not change a single bit.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include <omp.h>

#include "engine/cpu/packed_gemm.h"

namespace {

using gan::cpu::packed_sgemm;
using gan::cpu::packed_sgemm_batch;

struct Case {
  bool ta, tb;
  int64_t M, N, K;
};

// C = op(A) op(B) + beta C0 in float64, indices written out by hand.
std::vector<double> reference(const Case& c, const std::vector<float>& A, const std::vector<float>& B, float beta,
                              const std::vector<float>& C0) {
  std::vector<double> out(static_cast<size_t>(c.M * c.N));
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double a = c.ta ? A[k * c.M + i] : A[i * c.K + k];
        const double b = c.tb ? B[j * c.K + k] : B[k * c.N + j];
        s += a * b;
      }
      out[i * c.N + j] = s + (beta == 0.f ? 0.0 : double(beta) * C0[i * c.N + j]);
    }
  return out;
}

std::vector<float> normal(int64_t n, std::mt19937& g) {
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(g);
  return v;
}

class PackedGemm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!gan::cpu::packed_sgemm_available()) GTEST_SKIP() << "this CPU has no AVX-512F: the kernel is not used here";
  }
};

TEST_F(PackedGemm, MatchesFloat64ReferenceOnEveryTransposeAndEdge) {
  std::mt19937 g(7);
  int checked = 0;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t M : {1, 2, 12, 13, 50})
        for (int64_t N : {2, 31, 32, 33, 70})
          for (int64_t K : {1, 7, 16, 300, 520}) {
            const Case c{ta, tb, M, N, K};
            const std::vector<float> A = normal(M * K, g), B = normal(K * N, g), C0 = normal(M * N, g);
            for (float beta : {0.f, 1.f, -0.5f}) {
              std::vector<float> C = C0;
              if (beta == 0.f) std::fill(C.begin(), C.end(), std::nanf(""));  // beta 0 must not read C
              packed_sgemm(ta, tb, M, N, K, A.data(), B.data(), beta, C.data());
              const std::vector<double> r = reference(c, A, B, beta, C0);
              const double tol = 1e-5 * std::sqrt(double(K)) * 4 + 1e-6;
              for (size_t i = 0; i < r.size(); ++i)
                ASSERT_NEAR(C[i], r[i], tol * (1 + std::fabs(r[i])))
                    << "ta " << ta << " tb " << tb << " M " << M << " N " << N << " K " << K << " beta " << beta
                    << " at " << i;
              ++checked;
            }
          }
  EXPECT_EQ(checked, 2 * 2 * 5 * 5 * 5 * 3);
}

TEST_F(PackedGemm, ZeroDepthScalesC) {
  std::vector<float> C = {1, 2, 3, 4}, A(1), B(1);
  packed_sgemm(false, false, 2, 2, 0, A.data(), B.data(), 0.5f, C.data());
  EXPECT_EQ(C, (std::vector<float>{0.5f, 1, 1.5f, 2}));
  packed_sgemm(false, false, 2, 2, 0, A.data(), B.data(), 0.f, C.data());
  EXPECT_EQ(C, (std::vector<float>(4, 0.f)));
}

// A call outside a parallel region splits C over the threads, by rows or by columns; each element's
// sum stays on one thread, so 1 and 3 threads give the same bits.
TEST_F(PackedGemm, ThreadCountChangesNoBit) {
  std::mt19937 g(3);
  for (const Case c : {Case{false, false, 200, 96, 700}, Case{true, true, 24, 900, 300}, Case{false, true, 64, 1100, 784}}) {
    const std::vector<float> A = normal(c.M * c.K, g), B = normal(c.K * c.N, g);
    std::vector<float> one(static_cast<size_t>(c.M * c.N)), three(one.size());
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    packed_sgemm(c.ta, c.tb, c.M, c.N, c.K, A.data(), B.data(), 0.f, one.data());
    omp_set_num_threads(3);
    packed_sgemm(c.ta, c.tb, c.M, c.N, c.K, A.data(), B.data(), 0.f, three.data());
    omp_set_num_threads(before);
    EXPECT_EQ(one, three) << c.M << " x " << c.N << " x " << c.K;
  }
}

// A batch of products with gaps between them (strides past each matrix's end): each product
// against the float64 loops, the gaps untouched, and 1, 2 and 3 threads giving the same bits. The
// shapes include a C of three row tiles shared by two threads (a weight gradient's) and products
// whose tiles a thread's run starts or ends inside.
TEST_F(PackedGemm, BatchMatchesEachProductAndIgnoresThreadCount) {
  std::mt19937 g(11);
  for (const Case c : {Case{false, true, 32, 64, 900}, Case{true, false, 24, 530, 48}, Case{false, false, 13, 33, 7},
                       Case{true, true, 50, 70, 300}}) {
    for (int64_t count : {1, 2, 9}) {
      const int64_t sa = c.M * c.K + 5, sb = c.K * c.N + 3, sc = c.M * c.N + 17;
      const std::vector<float> A = normal(count * sa, g), B = normal(count * sb, g), C0 = normal(count * sc, g);
      for (float beta : {0.f, 1.f}) {
        std::vector<std::vector<float>> results;
        const int before = omp_get_max_threads();
        for (int threads : {1, 2, 3}) {
          omp_set_num_threads(threads);
          std::vector<float> C = C0;
          packed_sgemm_batch(count, c.ta, c.tb, c.M, c.N, c.K, A.data(), sa, B.data(), sb, beta, C.data(), sc);
          results.push_back(C);
        }
        omp_set_num_threads(before);
        EXPECT_EQ(results[0], results[1]) << c.M << " x " << c.N << " x " << c.K << " count " << count;
        EXPECT_EQ(results[0], results[2]) << c.M << " x " << c.N << " x " << c.K << " count " << count;
        const std::vector<float>& C = results[0];
        const double tol = 1e-5 * std::sqrt(double(c.K)) * 4 + 1e-6;
        for (int64_t p = 0; p < count; ++p) {
          const std::vector<float> a(A.begin() + p * sa, A.begin() + p * sa + c.M * c.K),
              b(B.begin() + p * sb, B.begin() + p * sb + c.K * c.N),
              c0(C0.begin() + p * sc, C0.begin() + p * sc + c.M * c.N);
          const std::vector<double> r = reference(c, a, b, beta, c0);
          for (int64_t i = 0; i < c.M * c.N; ++i)
            ASSERT_NEAR(C[p * sc + i], r[i], tol * (1 + std::fabs(r[i]))) << "product " << p << " at " << i;
          for (int64_t i = c.M * c.N; i < sc && p * sc + i < count * sc; ++i)
            ASSERT_EQ(C[p * sc + i], C0[p * sc + i]) << "product " << p << " wrote into the gap at " << i;
        }
      }
    }
  }
}

}  // namespace
