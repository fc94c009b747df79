// Embedding, its scatter-add gradient embedding_backward, and one_hot: values against hand-written
// cases and index loops, gradients and second derivatives (a projection critic under WGAN-GP)
// against finite differences, bad ids (errors on the CPU, NaN rows from the primitives), errors.
#include <cmath>
#include <random>
#include <string>

#include "engine/backend/embedding.h"
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

namespace {

// `n` random ids in [0, k) (each class may repeat), as a float tensor of `dtype`.
Tensor random_ids(int64_t n, int64_t k, uint64_t seed, DType dtype = DType::Float32) {
  std::mt19937_64 r(seed);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = static_cast<double>(r() % static_cast<uint64_t>(k));
  return Tensor::from_vector(v, {n}).to(dtype);
}

Tensor ids_of(std::vector<double> v, DType dtype = DType::Float32) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector(v, {n}).to(dtype);
}

// Index-loop references over plain vectors.
std::vector<double> ref_gather(const std::vector<double>& w, int64_t e, const std::vector<double>& ids) {
  std::vector<double> out;
  for (double id : ids)
    for (int64_t c = 0; c < e; ++c) out.push_back(w[static_cast<size_t>(static_cast<int64_t>(id) * e + c)]);
  return out;
}

std::vector<double> ref_scatter(const std::vector<double>& g, int64_t e, const std::vector<double>& ids, int64_t k) {
  std::vector<double> out(static_cast<size_t>(k * e), 0.0);
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t c = 0; c < e; ++c) out[static_cast<size_t>(static_cast<int64_t>(ids[i]) * e + c)] += g[i * e + c];
  return out;
}

bool row_is_nan(const std::vector<double>& v, int64_t row, int64_t e) {
  for (int64_t c = 0; c < e; ++c)
    if (!std::isnan(v[static_cast<size_t>(row * e + c)])) return false;
  return true;
}

}  // namespace

TEST(Embedding, HandWrittenCase) {
  // weight rows: [0 1 2], [10 11 12], [20 21 22], [30 31 32]; ids 2, 0, 2, 3.
  std::vector<double> w;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) w.push_back(10.0 * r + c);
  for (DType dt : both_dtypes()) {
    Tensor weight = Tensor::from_vector(w, {4, 3}).to(dt);
    Tensor y = embedding(weight, ids_of({2, 0, 2, 3}));
    EXPECT_EQ(y.shape(), (Shape{4, 3}));
    EXPECT_EQ(y.dtype(), dt);
    expect_matches(y, {20, 21, 22, 0, 1, 2, 20, 21, 22, 30, 31, 32}, 0, 0, "embedding");
    // The gradient: row 2 receives two rows of g, row 1 none.
    Tensor g = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 3}).to(dt);
    Tensor gw = embedding_backward(g, ids_of({2, 0, 2, 3}), 4);
    EXPECT_EQ(gw.shape(), (Shape{4, 3}));
    expect_matches(gw, {4, 5, 6, 0, 0, 0, 8, 10, 12, 10, 11, 12}, 0, 0, "embedding_backward");
  }
}

TEST(Embedding, MatchesIndexLoopsOnRandomShapes) {
  std::mt19937_64 r(5);
  uint64_t seed = 100;
  for (DType dt : both_dtypes())
    for (DType id_dt : both_dtypes())
      for (int rep = 0; rep < 4; ++rep) {
        const int64_t k = 1 + static_cast<int64_t>(r() % 13), e = 1 + static_cast<int64_t>(r() % 9);
        const int64_t n = 1 + static_cast<int64_t>(r() % 40);
        Tensor w = uniform({k, e}, dt, seed++), ids = random_ids(n, k, seed++, id_dt);
        Tensor g = uniform({n, e}, dt, seed++);
        const std::string at = "K " + std::to_string(k) + " E " + std::to_string(e) + " N " + std::to_string(n) +
                               " " + dtype_name(dt) + " ids " + dtype_name(id_dt);
        expect_matches(embedding(w, ids), ref_gather(w.to_double_vector(), e, ids.to_double_vector()), 0, 0, at);
        expect_matches(embedding_backward(g, ids, k), ref_scatter(g.to_double_vector(), e, ids.to_double_vector(), k),
                       at);
      }
}

TEST(Embedding, LargeScatterSplitsColumnsAcrossThreadsInOrder) {
  // Enough columns for several threads; every id repeats many times. The sums are taken in index
  // order whatever the thread count, so the result equals the serial float32 loop bit for bit.
  const int64_t k = 7, e = 3001, n = 50;
  Tensor g = uniform({n, e}, DType::Float32, 7), ids = random_ids(n, k, 8);
  auto gv = g.to_float_vector();
  auto iv = ids.to_double_vector();
  std::vector<float> ref(static_cast<size_t>(k * e), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < e; ++c) ref[static_cast<size_t>(static_cast<int64_t>(iv[i]) * e + c)] += gv[i * e + c];
  EXPECT_EQ(embedding_backward(g, ids, k).to_float_vector(), ref);
}

TEST(Embedding, EmptyBatchAndUnusedRows) {
  Tensor w = uniform({5, 3}, DType::Float64, 9);
  Tensor none = Tensor::empty({0}, DType::Float32);
  EXPECT_EQ(embedding(w, none).shape(), (Shape{0, 3}));
  Tensor z = embedding_backward(Tensor::empty({0, 3}, DType::Float64), none, 5);
  expect_matches(z, std::vector<double>(15, 0.0), 0, 0, "no ids: zero gradient");
}

TEST(Embedding, IndicesGetNoGradient) {
  Tensor w = randn64({6, 4}, 10);
  Tensor ids = ids_of({1, 5, 1}, DType::Float64).requires_grad_();
  Tensor y = embedding(w, ids);
  auto g = grad({sum(y)}, {w, ids}, {}, false, /*allow_unused=*/true);
  EXPECT_TRUE(g[0].defined());
  EXPECT_FALSE(g[1].defined());
  EXPECT_EQ(y.grad_fn()->name, "embedding");
  EXPECT_EQ(y.grad_fn()->next.size(), 1u);  // only the table is an input of the node
}

TEST(Embedding, BackwardRecordsTheScatterAndItsGather) {
  Tensor w = randn64({6, 4}, 11), h = randn64({3, 4}, 12);
  Tensor ids = ids_of({1, 5, 1}, DType::Float64);
  Tensor gw = grad({sum(mul(embedding(w, ids), h))}, {w}, {}, /*create_graph=*/true)[0];
  auto ops = recorded_ops(gw);
  EXPECT_EQ(ops.count("embedding_backward"), 1u);
  // d/dh of <u, embedding_backward(h, ids)> is embedding(u, ids): the gather again.
  Tensor u = randn64({6, 4}, 13, false);
  Tensor gh = grad({sum(mul(gw, u))}, {h})[0];
  expect_matches(gh, ref_gather(u.to_double_vector(), 4, ids.to_double_vector()), 1e-14, 1e-14, "d/dh");
}

// ---- gradients ----

TEST(EmbeddingGrad, TableAndScatter) {
  Tensor w = randn64({5, 3}, 20), g = randn64({7, 3}, 21);
  Tensor ids = random_ids(7, 5, 22, DType::Float64);
  EXPECT_GRADCHECK([ids](const std::vector<Tensor>& in) { return embedding(in[0], ids); }, inputs({w}));
  EXPECT_GRADCHECK([ids](const std::vector<Tensor>& in) { return embedding_backward(in[0], ids, 5); }, inputs({g}));
  // float32 ids with a float64 table (labels usually come as float32).
  Tensor ids32 = ids.to(DType::Float32);
  EXPECT_GRADCHECK([ids32](const std::vector<Tensor>& in) { return square(embedding(in[0], ids32)); }, inputs({w}));
}

TEST(EmbeddingGradGrad, ProjectionProduct) {
  // sum(embedding(W, y) * h(x)) as a projection critic's class term, differentiated twice in W and x.
  Tensor w = randn64({4, 3}, 30), x = randn64({6, 3}, 31);
  Tensor ids = random_ids(6, 4, 32, DType::Float64);
  EXPECT_GRADGRADCHECK(
      [ids](const std::vector<Tensor>& in) { return sum(mul(embedding(in[0], ids), tanh(in[1]))); },
      inputs({w, x}));
  // And the scatter on its own, through a nonlinearity (its second derivative is the gather).
  Tensor g = randn64({6, 3}, 33);
  EXPECT_GRADGRADCHECK(
      [ids](const std::vector<Tensor>& in) { return square(embedding_backward(in[0], ids, 4)); }, inputs({g}));
}

TEST(EmbeddingGradGrad, ProjectionCriticUnderGradientPenalty) {
  // D(x, y) = linear(h) + sum(embedding(E, y) * h, 1),  h = leaky_relu(linear(x, W1, b1)), and the
  // WGAN-GP penalty mean((||dD/dx|| - 1)^2): its gradient with respect to E, W1 and w2 is a second
  // derivative through the embedding. Checked against finite differences of the penalty.
  Tensor e = randn64({3, 5}, 40), w1 = randn64({5, 4}, 41), b1 = randn64({5}, 42), w2 = randn64({1, 5}, 43);
  Tensor x0 = randn64({6, 4}, 44, false);
  Tensor ids = random_ids(6, 3, 45, DType::Float64);
  auto penalty = [x0, ids](const std::vector<Tensor>& in) {
    GradModeGuard on(true);  // the finite-difference probes run under no-grad; the penalty needs dD/dx
    Tensor x = x0.detach().requires_grad_();
    Tensor h = leaky_relu(linear(x, in[1], in[2]), 0.2);
    Tensor d = add(linear(h, in[3]).reshape({6}), sum(mul(embedding(in[0], ids), h), {1}));
    Tensor gx = grad({sum(d)}, {x}, {}, /*create_graph=*/true)[0];
    return mean(square(per_sample_norm(gx) - 1.0));
  };
  EXPECT_GRADCHECK(penalty, inputs({e, w1, b1, w2}));
}

// ---- bad ids ----

TEST(Embedding, BadIdsOnTheCpuThrowNamingPositionAndValue) {
  Tensor w = Tensor::zeros({5, 3});
  expect_error_naming([&] { embedding(w, ids_of({1, 2.5, 3})); }, {"embedding", "indices[1]", "2.5", "[0, 5)"});
  expect_error_naming([&] { embedding(w, ids_of({1, 0, 5})); }, {"embedding", "indices[2]", "5", "[0, 5)", "[5, 3]"});
  expect_error_naming([&] { embedding(w, ids_of({-1})); }, {"embedding", "indices[0]", "-1"});
  expect_error_naming([&] { embedding(w, ids_of({0, NAN})); }, {"embedding", "indices[1]", "nan"});
  expect_error_naming([&] { embedding_backward(Tensor::zeros({2, 3}), ids_of({0, 7}), 5); },
                      {"embedding_backward", "indices[1]", "7", "[0, 5)"});
  expect_error_naming([&] { one_hot(ids_of({0, 3}), 3); }, {"one_hot", "indices[1]", "3", "[0, 3)"});
}

TEST(Embedding, PrimitivesWriteNaNWhereABadIdsValuesWouldGo) {
  // The ops throw first on the CPU; the primitives themselves behave as the CUDA kernels do, so a
  // bad id that reaches one is never silently read as another row.
  const int64_t k = 4, e = 3;
  Tensor w = uniform({k, e}, DType::Float32, 50);
  Tensor ids = ids_of({1, -1, 2.5, 4, NAN, 3});
  Tensor out = Tensor::empty({6, e});
  cpu::embedding_gather(w, ids, out);
  auto v = out.to_double_vector(), wv = w.to_double_vector();
  for (int64_t row : {1, 2, 3, 4}) EXPECT_TRUE(row_is_nan(v, row, e)) << "row " << row;
  for (int64_t c = 0; c < e; ++c) {
    EXPECT_EQ(v[static_cast<size_t>(c)], wv[static_cast<size_t>(e + c)]);
    EXPECT_EQ(v[static_cast<size_t>(5 * e + c)], wv[static_cast<size_t>(3 * e + c)]);
  }
  // Scatter: -1 and NaN land in row 0, 2.5 in row 2, 4 in row 3 (clamped); row 1 only gets g's row 0.
  Tensor g = uniform({6, e}, DType::Float32, 51), gw = Tensor::empty({k, e});
  cpu::embedding_scatter_add(g, ids, gw);
  auto gv = gw.to_double_vector(), g0 = g.to_double_vector();
  for (int64_t row : {0, 2, 3}) EXPECT_TRUE(row_is_nan(gv, row, e)) << "row " << row;
  for (int64_t c = 0; c < e; ++c) EXPECT_EQ(gv[static_cast<size_t>(e + c)], g0[static_cast<size_t>(c)]);
  // Only an out-of-range id past the end: rows 0-2 stay finite.
  cpu::embedding_scatter_add(g.reshape({6, e}), ids_of({0, 1, 2, 9, 0, 1}), gw);
  gv = gw.to_double_vector();
  EXPECT_TRUE(row_is_nan(gv, 3, e));
  for (int64_t row = 0; row < 3; ++row) EXPECT_FALSE(std::isnan(gv[static_cast<size_t>(row * e)])) << row;
  Tensor oh = Tensor::empty({6, k});
  cpu::one_hot(ids, oh);
  auto ov = oh.to_double_vector();
  for (int64_t row : {1, 2, 3, 4}) EXPECT_TRUE(row_is_nan(ov, row, k)) << "row " << row;
  EXPECT_EQ(ov[1], 1.0);                                 // row 0: id 1
  EXPECT_EQ(ov[static_cast<size_t>(5 * k + 3)], 1.0);    // row 5: id 3
}

TEST(Embedding, ShapeErrorsNameTheOpAndShapes) {
  Tensor w = Tensor::zeros({5, 3});
  expect_error_naming([&] { embedding(Tensor::zeros({5}), ids_of({0})); }, {"embedding", "weight", "[5]", "[K, E]"});
  expect_error_naming([&] { embedding(w, Tensor::zeros({2, 1})); }, {"embedding", "indices", "[2, 1]", "1-D"});
  expect_error_naming([&] { embedding(Tensor::zeros({0, 3}), ids_of({0})); }, {"embedding", "0 classes"});
  expect_error_naming([&] { embedding_backward(Tensor::zeros({3, 2}), ids_of({0, 1}), 5); },
                      {"embedding_backward", "[3, 2]", "[2]"});
  expect_error_naming([&] { embedding_backward(Tensor::zeros({2}), ids_of({0, 1}), 5); },
                      {"embedding_backward", "[N, E]"});
  expect_error_naming([&] { embedding_backward(Tensor::zeros({2, 2}), ids_of({0, 1}), -3); },
                      {"embedding_backward", "-3"});
  expect_error_naming([&] { one_hot(ids_of({0}), -1); }, {"one_hot", "-1"});
  expect_error_naming([&] { one_hot(Tensor::zeros({1, 1}), 4); }, {"one_hot", "[1, 1]"});
}

// ---- one_hot ----

TEST(OneHot, ValuesDtypeAndNoHistory) {
  for (DType dt : both_dtypes()) {
    Tensor ids = ids_of({2, 0, 3, 2}, dt).requires_grad_();
    Tensor oh = one_hot(ids, 4);
    EXPECT_EQ(oh.shape(), (Shape{4, 4}));
    EXPECT_EQ(oh.dtype(), dt);
    EXPECT_FALSE(oh.requires_grad());
    expect_matches(oh, {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0}, 0, 0, "one_hot");
  }
  // Random ids: exactly one 1 per row, at the id.
  Tensor ids = random_ids(301, 17, 60);
  auto v = one_hot(ids, 17).to_double_vector(), iv = ids.to_double_vector();
  for (int64_t i = 0; i < 301; ++i)
    for (int64_t c = 0; c < 17; ++c)
      ASSERT_EQ(v[static_cast<size_t>(i * 17 + c)], c == static_cast<int64_t>(iv[i]) ? 1.0 : 0.0) << i << "," << c;
  EXPECT_EQ(one_hot(Tensor::empty({0}), 3).shape(), (Shape{0, 3}));
}

TEST(OneHot, EqualsEmbeddingOfTheIdentity) {
  const int64_t k = 6;
  std::vector<double> eye(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i) eye[static_cast<size_t>(i * k + i)] = 1.0;
  Tensor ids = random_ids(20, k, 61, DType::Float64);
  EXPECT_EQ(one_hot(ids, k).to_double_vector(), embedding(Tensor::from_vector(eye, {k, k}), ids).to_double_vector());
}
