// The communicator and batch_norm_across on every process of the world they are started in: under
// `mpirun -np 2` (ctest: Distributed.Collectives) and alone (Distributed.CollectivesAlone, a world
// of one). Every rank runs every test, in the same order: the collectives pair up.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd/autograd.h"
#include "engine/dist/communicator.h"
#include "engine/dist/reducer.h"
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

// A started all-reduce gives what the blocking one gives, bit for bit (the same buffer, the same
// sum), while the caller goes on; its inputs stay as they were.
TEST(Collectives, StartedAllReduceEqualsTheBlockingOne) {
  auto w = dist::world();
  Generator g(4);  // the same draw on every rank
  std::vector<Tensor> mine = ranked({Tensor::randn({7}, &g), Tensor::randn({3, 5}, &g)}, w->rank());
  std::vector<Tensor> blocking = mine;
  w->all_reduce(blocking, dist::ReduceOp::Average);
  const std::vector<double> before = mine[1].to_double_vector();
  std::unique_ptr<dist::PendingReduce> p = w->start_all_reduce(mine, dist::ReduceOp::Average);
  Tensor busy = sum(square(Tensor::randn({256, 256}, &g)));  // work while it travels
  (void)busy.item();
  p->test();
  const std::vector<Tensor> got = p->wait();
  ASSERT_EQ(got.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(got[i].shape(), mine[i].shape()) << i;
    EXPECT_EQ(got[i].to_double_vector(), blocking[i].to_double_vector()) << i;
  }
  EXPECT_EQ(mine[1].to_double_vector(), before);
  // Tensors of two dtypes do not make one buffer.
  EXPECT_THROW(w->start_all_reduce({Tensor::zeros({2}), Tensor::zeros({2}, DType::Float64)}, dist::ReduceOp::Sum), Error);
}

// The reducer (dist::Reducer): five parameters of 16, 16, 8, 8 and 4 floats in buckets of at most 100 bytes, gradients set
// as a backward pass would and reported in the pass's order (last parameter first). Each bucket
// starts once all of its gradients are in and the buckets before it have started: reporting the
// first bucket's gradients last holds every bucket back until then. After finish() every gradient
// is the mean over the ranks, exactly; a parameter that got no gradient keeps none.
TEST(Collectives, ReducerAveragesEveryGradientBucketByBucketInOrder) {
  auto w = dist::world();
  const int N = w->size();
  std::vector<Tensor> params;
  for (int64_t n : {16, 16, 8, 8, 4}) params.push_back(Tensor::zeros({n}).requires_grad_());
  auto set_grads = [&](bool skip_last) {
    for (size_t k = 0; k < params.size(); ++k) {
      if (skip_last && k + 1 == params.size()) {
        params[k].set_grad(Tensor());
        continue;
      }
      params[k].set_grad(Tensor::full(params[k].shape(), (w->rank() + 1.0) * (k + 1)));
    }
  };
  const double mean_rank = (N + 1) / 2.0;  // the mean over r of r + 1
  {
    set_grads(false);
    dist::Reducer r(*w, params, 100);
    EXPECT_EQ(r.buckets(), 3u);  // {p4, p3, p2} (80 bytes), {p1}, {p0} (64 each)
    for (size_t k = params.size(); k-- > 0;) r.ready(params[k]);
    EXPECT_EQ(r.started_early(), 3u);
    r.finish();
    for (size_t k = 0; k < params.size(); ++k)
      for (double v : params[k].grad().to_double_vector()) EXPECT_EQ(v, mean_rank * (k + 1)) << k;
  }
  {
    set_grads(true);  // p4 gets no gradient and is never reported
    dist::Reducer r(*w, params, 100);
    r.ready(params[3]);
    r.ready(params[2]);
    r.ready(params[1]);
    r.ready(params[0]);
    EXPECT_EQ(r.started_early(), 0u);  // the first bucket (p4's) is incomplete: nothing may start
    r.finish();
    EXPECT_FALSE(params[4].grad().defined());
    for (size_t k = 0; k + 1 < params.size(); ++k)
      for (double v : params[k].grad().to_double_vector()) EXPECT_EQ(v, mean_rank * (k + 1)) << k;
  }
  {
    set_grads(false);
    dist::Reducer r(*w, params, 100);
    r.ready(params[0]);  // the last bucket's gradient first: it waits for the two before it
    EXPECT_EQ(r.started_early(), 0u);
    for (size_t k = params.size(); k-- > 1;) r.ready(params[k]);
    EXPECT_EQ(r.started_early(), 3u);
    EXPECT_THROW(r.ready(params[4]), Error);  // reported twice
    r.finish();
    for (size_t k = 0; k < params.size(); ++k)
      for (double v : params[k].grad().to_double_vector()) EXPECT_EQ(v, mean_rank * (k + 1)) << k;
  }
}

// A generator's chain, in float64: transposed conv -> batch norm -> ReLU -> transposed conv -> batch
// norm -> tanh, each rank on its share of the batch with --sync-bn's batch_norm_across, against the
// whole batch through the fused batch norm on one process. The loss is each rank's mean, as in
// training, and the weight gradients are averaged as the trainer's reducer does. In float64 the two
// agree to 1e-10: what remains between a float32 --sync-bn run and one process is float rounding
// (which a GAN's steps amplify, docs/distributed.md), not a different computation.
TEST(Collectives, SyncBatchNormChainMatchesTheWholeBatchInFloat64) {
  auto w = dist::world();
  const int N = w->size(), r = w->rank();
  const int64_t B = 4 * N, n = B / N;
  Generator g(7);
  const DType f64 = DType::Float64;
  Tensor z = Tensor::randn({B, 5, 2, 2}, &g, f64);
  Tensor w1 = Tensor::randn({5, 6, 4, 4}, &g, f64) * 0.3, w2 = Tensor::randn({6, 3, 4, 4}, &g, f64) * 0.3;
  Tensor g1 = Tensor::randn({6}, &g, f64) + 1.0, b1 = Tensor::randn({6}, &g, f64);
  Tensor g2 = Tensor::randn({3}, &g, f64) + 1.0, b2 = Tensor::randn({3}, &g, f64);
  Tensor up = Tensor::randn({B, 3, 8, 8}, &g, f64);
  const Conv2dParams p = Conv2dParams::make(2, 1);
  auto leaves = [](std::vector<Tensor> ts) {
    for (Tensor& t : ts) t = t.clone().requires_grad_();
    return ts;
  };
  auto chain = [&](const std::vector<Tensor>& v, const Tensor& in, const Tensor& u, bool across) {
    auto bn = [&](const Tensor& x, const Tensor& gamma, const Tensor& beta) {
      if (!across) return batch_norm(x, gamma, beta, Tensor(), Tensor(), true);
      return batch_norm_across(x, gamma, beta, Tensor(), Tensor(),
                               [w](std::vector<Tensor>& t) { w->all_reduce(t, dist::ReduceOp::Sum); });
    };
    Tensor h = relu(bn(conv_transpose2d(in, v[0], Tensor(), p), v[2], v[3]));
    Tensor y = tanh(bn(conv_transpose2d(h, v[1], Tensor(), p), v[4], v[5]));
    return mean(y * u);
  };
  std::vector<Tensor> whole = leaves({w1, w2, g1, b1, g2, b2});
  chain(whole, z, up, false).backward();
  std::vector<Tensor> part = leaves({w1, w2, g1, b1, g2, b2});
  chain(part, slice(z, 0, r * n, (r + 1) * n), slice(up, 0, r * n, (r + 1) * n), true).backward();
  std::vector<Tensor> grads;
  for (const Tensor& t : part) grads.push_back(t.grad());
  w->all_reduce(grads, dist::ReduceOp::Average);
  for (size_t i = 0; i < grads.size(); ++i) EXPECT_LT(rel(grads[i], whole[i].grad()), 1e-10) << i;
  if (N == 1) return;
  // Each rank's own statistics instead: a different computation, far outside that bound.
  std::vector<Tensor> own = leaves({w1, w2, g1, b1, g2, b2});
  chain(own, slice(z, 0, r * n, (r + 1) * n), slice(up, 0, r * n, (r + 1) * n), false).backward();
  std::vector<Tensor> own_grads;
  for (const Tensor& t : own) own_grads.push_back(t.grad());
  w->all_reduce(own_grads, dist::ReduceOp::Average);
  EXPECT_GT(rel(own_grads[0], whole[0].grad()), 1e-3);
}
