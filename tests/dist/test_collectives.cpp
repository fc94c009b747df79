// The communicator and batch_norm_across on every process of the world they are started in: under
// `mpirun -np 2` (ctest: Distributed.Collectives) and alone (Distributed.CollectivesAlone, a world
// of one). Every rank runs every test, in the same order: the collectives pair up.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd/autograd.h"
#include "engine/dist/communicator.h"
#include "engine/ops/norm.h"
#include "engine/ops/ops.h"

using namespace gan;

namespace {

double rel(const Tensor& a, const Tensor& b) {
  const auto x = a.to_double_vector(), y = b.to_double_vector();
  double d = 0, n = 0;
  for (size_t i = 0; i < x.size(); ++i) d += (x[i] - y[i]) * (x[i] - y[i]), n += y[i] * y[i];
  return std::sqrt(d / n);
}

// Tensors of several shapes and both float dtypes, on this rank scaled by rank + 1.
std::vector<Tensor> ranked(const std::vector<Tensor>& base, int rank) {
  std::vector<Tensor> out;
  for (const Tensor& b : base) out.push_back(b * static_cast<double>(rank + 1));
  return out;
}

std::vector<Tensor> bases() {
  Generator g(3);
  return {Tensor::randn({7}, &g), Tensor::randn({3, 5}, &g, DType::Float64), Tensor::randn({}, &g),
          Tensor::randn({2, 3, 4, 5}, &g)};
}

}  // namespace

TEST(Collectives, AllReduceSumsAndAveragesEveryTensorWithoutWritingItsInputs) {
  auto w = dist::world();
  const int N = w->size();
  const std::vector<Tensor> base = bases();
  for (dist::ReduceOp op : {dist::ReduceOp::Sum, dist::ReduceOp::Average}) {
    std::vector<Tensor> mine = ranked(base, w->rank());
    const std::vector<Tensor> inputs = mine;
    const std::vector<double> before = inputs[0].to_double_vector();
    w->all_reduce(mine, op);
    // sum over r of (r + 1) = N (N + 1) / 2
    const double factor = op == dist::ReduceOp::Sum ? N * (N + 1) / 2.0 : (N + 1) / 2.0;
    for (size_t i = 0; i < base.size(); ++i) {
      EXPECT_EQ(mine[i].shape(), base[i].shape()) << i;
      EXPECT_EQ(mine[i].dtype(), base[i].dtype()) << i;
      EXPECT_LT(rel(mine[i], base[i] * factor), 1e-6) << i;
    }
    EXPECT_EQ(inputs[0].to_double_vector(), before);
  }
}

// More than one 25 MiB bucket: three 12 MB tensors.
TEST(Collectives, AllReduceSplitsLargeListsIntoBuckets) {
  auto w = dist::world();
  std::vector<Tensor> big;
  for (int i = 0; i < 3; ++i) big.push_back(Tensor::full({3 << 20}, (w->rank() + 1) * (i + 1.0)));
  w->all_reduce(big, dist::ReduceOp::Sum);
  const double ranks = w->size() * (w->size() + 1) / 2.0;
  for (int i = 0; i < 3; ++i) {
    const auto v = big[static_cast<size_t>(i)].to_double_vector();
    EXPECT_EQ(v.front(), ranks * (i + 1)) << i;
    EXPECT_EQ(v.back(), ranks * (i + 1)) << i;
  }
}

TEST(Collectives, BroadcastCopiesTheRootsTensorsInPlace) {
  auto w = dist::world();
  const int root = w->size() - 1;
  std::vector<Tensor> mine = ranked(bases(), w->rank());
  const std::vector<Tensor> same = mine;  // the same storage: written in place
  w->broadcast(mine, root);
  const std::vector<Tensor> expected = ranked(bases(), root);
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(same[i].to_double_vector(), expected[i].to_double_vector()) << i;
  }
}

TEST(Collectives, AllGatherReturnsEveryRanksBytesByRank) {
  auto w = dist::world();
  const std::vector<std::string> all = w->all_gather(std::string(static_cast<size_t>(w->rank()), 'x') + "r" +
                                                     std::to_string(w->rank()));
  ASSERT_EQ(static_cast<int>(all.size()), w->size());
  for (int r = 0; r < w->size(); ++r) EXPECT_EQ(all[static_cast<size_t>(r)], std::string(static_cast<size_t>(r), 'x') + "r" + std::to_string(r));
  w->barrier();
}

// Each rank's share of a batch through batch_norm_across equals its rows of batch_norm over the
// whole batch: output, input gradient, running statistics; the ranks' weight and bias gradients
// add up to the whole batch's. Float rounding only (the sums run in another order).
TEST(Collectives, BatchNormAcrossEqualsBatchNormOnTheWholeBatch) {
  auto w = dist::world();
  const int N = w->size(), r = w->rank();
  Generator g(1);
  const int64_t B = 4 * N;
  Tensor x0 = Tensor::randn({B, 3, 5, 4}, &g) * 2.0 + 1.0;  // mean far from 0: the two passes matter
  Tensor w0 = Tensor::randn({3}, &g), b0 = Tensor::randn({3}, &g), up = Tensor::randn({B, 3, 5, 4}, &g);
  Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3}), rm_r = Tensor::zeros({3}), rv_r = Tensor::ones({3});
  Tensor x = x0.clone().requires_grad_(), wt = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
  sum(batch_norm(x, wt, b, rm, rv, true) * up).backward();

  const int64_t n = B / N;
  Tensor xs = slice(x0, 0, r * n, (r + 1) * n).requires_grad_();
  Tensor ws = w0.clone().requires_grad_(), bs = b0.clone().requires_grad_();
  Tensor ys = batch_norm_across(xs, ws, bs, rm_r, rv_r,
                                [w](std::vector<Tensor>& t) { w->all_reduce(t, dist::ReduceOp::Sum); });
  Tensor y;
  {
    NoGradGuard ng;
    y = batch_norm(x0, w0, b0, Tensor(), Tensor(), true);
  }
  EXPECT_LT(rel(ys, slice(y, 0, r * n, (r + 1) * n)), 1e-6);
  sum(ys * slice(up, 0, r * n, (r + 1) * n)).backward();
  EXPECT_LT(rel(xs.grad(), slice(x.grad(), 0, r * n, (r + 1) * n)), 1e-6);
  std::vector<Tensor> param_grads{ws.grad(), bs.grad()};
  w->all_reduce(param_grads, dist::ReduceOp::Sum);
  EXPECT_LT(rel(param_grads[0], wt.grad()), 1e-6);
  EXPECT_LT(rel(param_grads[1], b.grad()), 1e-6);
  EXPECT_LT(rel(rm_r, rm), 1e-6);
  EXPECT_LT(rel(rv_r, rv), 1e-6);
  // No second derivative: said, not silently wrong.
  Tensor xs2 = slice(x0, 0, r * n, (r + 1) * n).requires_grad_();
  Tensor y2 = batch_norm_across(xs2, ws, bs, Tensor(), Tensor(),
                                [w](std::vector<Tensor>& t) { w->all_reduce(t, dist::ReduceOp::Sum); });
  try {
    grad({sum(y2 * y2)}, {xs2}, {}, /*create_graph=*/true);
    ADD_FAILURE() << "a second-order backward through batch_norm_across was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no second derivative"), std::string::npos) << e.what();
  }
}
