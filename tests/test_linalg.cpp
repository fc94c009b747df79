// Matrix products: matmul with every transpose combination and linear, against a naive triple
// loop; gradients and second derivatives (the WGAN-GP penalty differentiates through Linear).
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

// C[m, n] = sum_k op(A)[m, k] op(B)[k, n], indices written out by hand.
std::vector<double> ref_matmul(const Tensor& a, bool ta, const Tensor& b, bool tb) {
  auto av = a.to_double_vector(), bv = b.to_double_vector();
  int64_t ar = a.shape()[0], ac = a.shape()[1], br = b.shape()[0], bc = b.shape()[1];
  int64_t m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        double x = ta ? av[p * ac + i] : av[i * ac + p];
        double y = tb ? bv[j * bc + p] : bv[p * bc + j];
        acc += x * y;
      }
      c[i * n + j] = acc;
    }
  return c;
}

Shape stored(int64_t rows, int64_t cols, bool trans) { return trans ? Shape{cols, rows} : Shape{rows, cols}; }

// float32 GEMMs accumulate in float32: allow an error that grows with the inner size.
double gemm_tol(DType dt, int64_t k) { return dt == DType::Float32 ? 2e-6 * std::sqrt(double(k) + 1) : 1e-13; }

}  // namespace

TEST(Linalg, MatmulAllTransposeFlags) {
  std::mt19937_64 r(9);
  uint64_t seed = 10;
  for (DType dt : both_dtypes())
    for (int trial = 0; trial < 4; ++trial) {
      Shape mkn = random_shape(r, 3, 1, 37);
      int64_t m = mkn[0], k = mkn[1], n = mkn[2];
      for (int flags = 0; flags < 4; ++flags) {
        bool ta = flags & 1, tb = flags & 2;
        Tensor a = uniform(stored(m, k, ta), dt, seed++);
        Tensor b = uniform(stored(k, n, tb), dt, seed++);
        Tensor c = matmul(a, b, ta, tb);
        ASSERT_EQ(c.shape(), (Shape{m, n}));
        std::string what = "matmul " + shape_str(a.shape()) + (ta ? "^T" : "") + " @ " + shape_str(b.shape()) +
                           (tb ? "^T " : " ") + dtype_name(dt);
        Tensor ref = Tensor::from_vector(ref_matmul(a, ta, b, tb), {m, n});
        EXPECT_LT(rel_error(c, ref), gemm_tol(dt, k)) << what;
      }
    }
}

TEST(Linalg, MatmulLargerThanCacheBlocks) {
  // Odd sizes larger than Eigen's register/cache blocking, to cover its edge paths.
  for (DType dt : both_dtypes()) {
    Tensor a = uniform({131, 257}, dt, 20), b = uniform({67, 257}, dt, 21);
    Tensor c = matmul(a, b, false, true);
    Tensor ref = Tensor::from_vector(ref_matmul(a, false, b, true), {131, 67});
    EXPECT_LT(rel_error(c, ref), gemm_tol(dt, 257));
  }
}

TEST(Linalg, MatmulWithEmptyInnerDimIsZero) {
  Tensor a = Tensor::zeros({3, 0}), b = Tensor::zeros({0, 4});
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{3, 4}));
  expect_close(c, std::vector<double>(12, 0.0), 0);
}

TEST(Linalg, LinearWithAndWithoutBias) {
  for (DType dt : both_dtypes()) {
    Tensor x = uniform({7, 13}, dt, 30), w = uniform({5, 13}, dt, 31), bias = uniform({5}, dt, 32);
    auto xw = ref_matmul(x, false, w, true);
    EXPECT_LT(rel_error(linear(x, w), Tensor::from_vector(xw, {7, 5})), gemm_tol(dt, 13));
    auto bv = bias.to_double_vector();
    for (int64_t i = 0; i < 7; ++i)
      for (int64_t j = 0; j < 5; ++j) xw[i * 5 + j] += bv[j];
    EXPECT_LT(rel_error(linear(x, w, bias), Tensor::from_vector(xw, {7, 5})), gemm_tol(dt, 13));
  }
}

TEST(Linalg, ErrorsNameOpAndShapes) {
  Tensor a = Tensor::zeros({3, 4}), b = Tensor::zeros({5, 6});
  expect_error_naming([&] { matmul(a, b); }, {"matmul", "[3, 4]", "[5, 6]"});
  expect_error_naming([&] { matmul(a, b, true, false); }, {"matmul", "[3, 4]^T", "[5, 6]"});
  expect_error_naming([&] { matmul(a, Tensor::zeros({4})); }, {"matmul", "2-D", "[4]"});
  expect_error_naming([&] { matmul(a, Tensor::zeros({4, 2}, DType::Float64)); }, {"matmul", "float64"});
  Tensor x = Tensor::zeros({2, 4}), w = Tensor::zeros({3, 5});
  expect_error_naming([&] { linear(x, w); }, {"linear", "[2, 4]", "[3, 5]"});
  expect_error_naming([&] { linear(Tensor::zeros({4}), w); }, {"linear", "[4]"});
  expect_error_naming([&] { linear(x, Tensor::zeros({3, 4}), Tensor::zeros({4})); }, {"linear", "bias", "[4]", "[3, 4]"});
}

// ---- gradients ----

TEST(LinalgGrad, MatmulAllTransposeFlags) {
  for (int flags = 0; flags < 4; ++flags) {
    bool ta = flags & 1, tb = flags & 2;
    Tensor a = randn64(stored(3, 4, ta), 40 + flags), b = randn64(stored(4, 5, tb), 50 + flags);
    auto gc = gradcheck([&](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); }, {a, b});
    EXPECT_TRUE(gc.ok) << "ta=" << ta << " tb=" << tb << "\n" << gc.report;
  }
}

TEST(LinalgGrad, Linear) {
  Tensor x = randn64({4, 3}, 60), w = randn64({5, 3}, 61), bias = randn64({5}, 62);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, inputs({x, w, bias}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, inputs({x, w}));
  // Only the weight requires grad (a generator step through a frozen input).
  Tensor xc = randn64({4, 3}, 63, false);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, inputs({xc, w, bias}));
}

TEST(LinalgGradGrad, MatmulAllTransposeFlags) {
  for (int flags = 0; flags < 4; ++flags) {
    bool ta = flags & 1, tb = flags & 2;
    Tensor a = randn64(stored(3, 4, ta), 70 + flags), b = randn64(stored(4, 2, tb), 80 + flags);
    // Bilinear: the second derivative is all cross terms (d/dB of dL/dA).
    auto gg = gradgradcheck([&](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); }, {a, b});
    EXPECT_TRUE(gg.ok) << "ta=" << ta << " tb=" << tb << "\n" << gg.report;
    auto gs = gradgradcheck([&](const std::vector<Tensor>& in) { return square(matmul(in[0], in[1], ta, tb)); }, {a, b});
    EXPECT_TRUE(gs.ok) << "squared, ta=" << ta << " tb=" << tb << "\n" << gs.report;
  }
}

TEST(LinalgGradGrad, LinearAsInACritic) {
  // A two-layer critic's input gradient, the quantity WGAN-GP differentiates again.
  Tensor x = randn64({3, 4}, 90), w1 = randn64({5, 4}, 91), b1 = randn64({5}, 92), w2 = randn64({1, 5}, 93);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, inputs({x, w1, b1}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return linear(tanh(linear(in[0], in[1], in[2])), in[3]); },
                       inputs({x, w1, b1, w2}));
}
