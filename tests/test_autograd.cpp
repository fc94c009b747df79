// The autograd engine itself: accumulation, grad(), create_graph, no-grad, detach, errors.
#include "engine/autograd/autograd.h"
#include "engine/autograd/node.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

TEST(Autograd, ScalarChainRuleByHand) {
  // y = (x * w + b)^2 at x=3, w=2, b=1: dy/dw = 2 (xw+b) x = 42, dy/db = 2 (xw+b) = 14.
  Tensor x = Tensor::scalar(3.0, DType::Float64);
  Tensor w = Tensor::scalar(2.0, DType::Float64).requires_grad_();
  Tensor b = Tensor::scalar(1.0, DType::Float64).requires_grad_();
  Tensor y = square(x * w + b);
  y.backward();
  EXPECT_DOUBLE_EQ(y.item(), 49.0);
  EXPECT_DOUBLE_EQ(w.grad().item(), 42.0);
  EXPECT_DOUBLE_EQ(b.grad().item(), 14.0);
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  // Two separate backward() calls add into the same .grad (which is why an optimizer's zero_grad
  // must come before each step's backward). Not the trainer's real + fake case: there both passes
  // feed one loss and meet inside a single backward (LaterPassRunsFirstAndLeafGetsOneSum).
  Tensor w = Tensor::from_vector(std::vector<double>{1.0, -2.0}, {2}).requires_grad_();
  sum(w * 3.0).backward();
  sum(square(w)).backward();
  expect_close(w.grad(), {3.0 + 2.0, 3.0 - 4.0});
}

TEST(Autograd, DiamondSumsBothPaths) {
  Tensor x = Tensor::scalar(0.5, DType::Float64).requires_grad_();
  Tensor a = exp(x);
  Tensor y = a * a + a;  // dy/dx = (2 e^x + 1) e^x
  y.backward();
  double e = std::exp(0.5);
  EXPECT_NEAR(x.grad().item(), (2 * e + 1) * e, 1e-12);
}

// The discriminator step's shape: one weight used by a "real" pass, then by a "fake" pass recorded
// after it, both summed into one loss. Each pass is two logging ops; every rule notes its name and
// whether the weight's .grad exists yet. The engine runs the most recently recorded ready node
// first, so the whole fake pass runs before the real one, and the weight's accumulator waits for
// both deliveries: .grad is still unset while the real pass runs and ends up as one sum.
TEST(Autograd, LaterPassRunsFirstAndLeafGetsOneSum) {
  Tensor w = Tensor::from_vector(std::vector<double>{0.5, -1.5, 2.0}, {3}).requires_grad_();
  std::vector<std::string> log;
  // y = k x, recorded by hand so the rule can log.
  auto scaled = [&](const Tensor& x, double k, std::string name) {
    Tensor y = mul(x.detach(), k);
    autograd::record("scaled", {x}, {&y},
                     [&log, w, k, name](autograd::FunctionNode&, const std::vector<Tensor>& g) -> std::vector<Tensor> {
                       log.push_back(name + (w.grad().defined() ? " (grad set)" : ""));
                       return {mul(g[0], k)};
                     });
    return y;
  };
  auto pass = [&](const std::string& name, double k0, double k1) {
    return sum(scaled(scaled(w, k0, name + ".0"), k1, name + ".1"));
  };
  Tensor real = pass("real", 3.0, -0.5);
  Tensor fake = pass("fake", 2.0, 0.35);
  add(real, fake).backward();
  EXPECT_EQ(log, (std::vector<std::string>{"fake.1", "fake.0", "real.1", "real.0"}));
  // d/dw = 3 * -0.5 + 2 * 0.35 = -0.8 per element: the real pass alone gives -1.5, the fake 0.7.
  expect_close(w.grad(), {-0.8, -0.8, -0.8});
}

// backward's grad-ready hook (data parallel starts a bucket's all-reduce from it): each leaf the
// pass reaches is reported once, after every path has delivered (its .grad at that moment is the
// final one), a leaf used late in the forward pass before one used early, and an unreached leaf
// (c) never; the ops recorded after the hook fired for w1 (the rules of the first layer) still run.
TEST(Autograd, GradReadyHookReportsEachReachedLeafOnceWithItsFinalGradient) {
  Tensor w1 = Tensor::from_vector(std::vector<double>{0.5, -1.0}, {2}).requires_grad_();
  Tensor w2 = Tensor::from_vector(std::vector<double>{2.0, 3.0}, {2}).requires_grad_();
  Tensor c = Tensor::from_vector(std::vector<double>{1.0, 1.0}, {2}).requires_grad_();
  Tensor x = Tensor::from_vector(std::vector<double>{1.5, -0.5}, {2});
  Tensor h = tanh(x * w1);
  Tensor y = sum(square(h * w2)) + sum(h * w2);  // w2 reached over two paths
  (void)(c * 2.0);                               // recorded, but not part of y
  std::vector<std::pair<std::string, std::vector<double>>> seen;
  backward({y}, [&](const Tensor& leaf) {
    const std::string name = leaf.impl_ptr() == w1.impl_ptr() ? "w1" : leaf.impl_ptr() == w2.impl_ptr() ? "w2" : "other";
    seen.push_back({name, leaf.grad().to_double_vector()});
  });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, "w2");
  EXPECT_EQ(seen[1].first, "w1");
  EXPECT_EQ(seen[0].second, w2.grad().to_double_vector());
  EXPECT_EQ(seen[1].second, w1.grad().to_double_vector());
  // dy/dw2 = (2 h w2 + 1) h, by hand.
  const std::vector<double> hv = h.to_double_vector(), g2 = w2.grad().to_double_vector();
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(g2[i], (2 * hv[i] * (i ? 3.0 : 2.0) + 1) * hv[i], 1e-12);
  EXPECT_FALSE(c.grad().defined());
}

TEST(Autograd, GradDoesNotTouchLeafGrads) {
  Tensor x = randn64({3}, 1);
  Tensor w = randn64({3}, 2);
  Tensor y = sum(x * w);
  auto g = grad({y}, {x});
  EXPECT_EQ(rel_error(g[0], w.detach()), 0.0);
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(Autograd, GradOfNonLeafInput) {
  Tensor x = randn64({4}, 3);
  Tensor h = x * 2.0;
  Tensor y = sum(square(h));
  auto g = grad({y}, {h});  // dy/dh = 2h
  EXPECT_LT(rel_error(g[0], (h * 2.0).detach()), 1e-15);
}

TEST(Autograd, CreateGraphGivesSecondDerivative) {
  // y = x^3: dy/dx = 3x^2, d2y/dx2 = 6x.
  Tensor x = Tensor::scalar(1.5, DType::Float64).requires_grad_();
  Tensor y = pow(x, 3.0);
  Tensor dy = grad({y}, {x}, {}, /*create_graph=*/true)[0];
  EXPECT_NEAR(dy.item(), 3 * 1.5 * 1.5, 1e-12);
  ASSERT_TRUE(dy.requires_grad());
  dy.backward();
  EXPECT_NEAR(x.grad().item(), 6 * 1.5, 1e-12);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = randn64({3}, 4);
  Tensor y;
  {
    NoGradGuard guard;
    y = x * 2.0;
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THROW(sum(y).backward(), Error);
}

TEST(Autograd, DetachStopsGradientButSharesStorage) {
  Tensor x = randn64({3}, 5);
  Tensor d = x.detach();
  EXPECT_EQ(d.raw_data(), x.raw_data());
  EXPECT_FALSE(d.requires_grad());
  Tensor y = sum(x * d);  // d/dx = d (not 2x)
  y.backward();
  EXPECT_EQ(rel_error(x.grad(), d), 0.0);
}

TEST(Autograd, UnusedInputIsAnErrorUnlessAllowed) {
  Tensor x = randn64({2}, 6), z = randn64({2}, 7);
  Tensor y = sum(x);
  EXPECT_THROW(grad({y}, {x, z}), Error);
  auto g = grad({y}, {x, z}, {}, false, /*allow_unused=*/true);
  EXPECT_TRUE(g[0].defined());
  EXPECT_FALSE(g[1].defined());
}

TEST(Autograd, NonScalarBackwardNeedsGradient) {
  Tensor x = randn64({2}, 8);
  Tensor y = x * 3.0;
  EXPECT_THROW(y.backward(), Error);
  y.backward(Tensor::from_vector(std::vector<double>{1.0, 2.0}, {2}));
  expect_close(x.grad(), {3.0, 6.0});
}

TEST(Autograd, ReshapeIsAViewAndDifferentiable) {
  Tensor x = randn64({2, 3}, 9);
  Tensor r = x.reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.raw_data(), x.raw_data());
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return in[0].reshape({6}) * 2.0; }, std::vector<Tensor>{x});
  EXPECT_THROW(x.reshape({4, 2}), Error);
}

TEST(Autograd, MismatchedShapesNameTheOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  try {
    add(a, b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("add"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4]"), std::string::npos) << m;
  }
}

TEST(Autograd, MixedDtypesAreRejected) {
  Tensor a = Tensor::zeros({2}, DType::Float32), b = Tensor::zeros({2}, DType::Float64);
  EXPECT_THROW(mul(a, b), Error);
}

// A rule may hand back the gradient of a broadcast input at the output's shape; the engine sums
// it down to the input's shape (here the rule is the identity on a [3] input seen as [2, 3]).
TEST(Autograd, EngineSumsBroadcastGradientsToTheInputShape) {
  Tensor b = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}).requires_grad_();
  Tensor out = Tensor::zeros({2, 3}, DType::Float64);
  autograd::record("broadcast_by_hand", {b}, {&out},
                   [](autograd::FunctionNode&, const std::vector<Tensor>& g) -> std::vector<Tensor> { return {g[0]}; });
  Tensor up = Tensor::from_vector(std::vector<double>{1, 10, 100, 2, 20, 200}, {2, 3});
  Tensor gb = grad({out}, {b}, {up})[0];
  EXPECT_EQ(gb.shape(), Shape({3}));
  expect_close(gb, {3, 30, 300}, 0);
  // Binary ops rely on it: a per-channel bias gets the sum over the other dims.
  Tensor x = Tensor::zeros({2, 3, 2}, DType::Float64).requires_grad_();
  Tensor c = Tensor::zeros({3, 1}, DType::Float64).requires_grad_();
  auto g = grad({sum(mul(add(x, c), 2.0))}, {x, c});
  expect_close(g[1], {8, 8, 8}, 0);
}

TEST(Autograd, GradientOfAShapeThatIsNoBroadcastIsAnErrorNamingTheOp) {
  Tensor a = Tensor::zeros({2, 3}, DType::Float64).requires_grad_();
  Tensor out = Tensor::zeros({2, 3}, DType::Float64);
  autograd::record("bad_rule", {a}, {&out},
                   [](autograd::FunctionNode&, const std::vector<Tensor>&) -> std::vector<Tensor> {
                     return {Tensor::zeros({4}, DType::Float64)};
                   });
  try {
    grad({sum(out)}, {a});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bad_rule"), std::string::npos) << m;
    EXPECT_NE(m.find("[4]"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  }
}

// reference_vjp differentiates a formula in its inputs, one input at a time (a partial
// derivative), even when one input is itself a function of another.
TEST(Autograd, ReferenceVjpGivesPartialDerivatives) {
  Tensor x = Tensor::from_vector(std::vector<double>{0.5, -1.5}, {2}).requires_grad_();
  Tensor g = square(x);  // depends on x
  Tensor G = Tensor::from_vector(std::vector<double>{1, 2}, {2});
  auto ref = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{mul(in[0], in[1])}; };
  std::vector<Tensor> d;
  {
    NoGradGuard plain;  // as in a backward without create_graph
    d = reference_vjp(ref, {g, x}, {G}, {true, true});
  }
  expect_close(d[0], {0.5 * 1, -1.5 * 2}, 1e-15);    // d(g x)/dg = x, not x + g dx/dg
  expect_close(d[1], {0.25 * 1, 2.25 * 2}, 1e-15);   // d(g x)/dx = g, not g + x dg/dx
  EXPECT_FALSE(d[0].requires_grad());
  auto none = reference_vjp(ref, {g, x}, {G}, {false, true});
  EXPECT_FALSE(none[0].defined());
  // Under grad mode (a create_graph backward) the result stays connected to the real inputs.
  GradModeGuard on(true);
  Tensor dx = reference_vjp(ref, {g, x}, {G}, {false, true})[1];  // = g G = x^2 G
  ASSERT_TRUE(dx.requires_grad());
  expect_close(grad({sum(dx)}, {x})[0], {2 * 0.5 * 1, 2 * -1.5 * 2}, 1e-15);
}

// A node that no gradient reaches (every path to it carries none, as into the input of a
// piecewise-constant mask) is not run on zeros: its inputs get nothing, and a leaf reached only that
// way keeps no gradient (PyTorch leaves it None). A WGAN-GP critic step used to run the whole
// penalty pass's backward on zeros this way (three extra convolutions per critic step).
TEST(Autograd, NodesNoGradientReachesAreSkipped) {
  Tensor x = randn64({3, 4}, 71, false), g = randn64({3, 4}, 72, false);
  Tensor w = randn64({3, 4}, 73);
  Tensor dead = sum(leaky_relu_backward(g, mul(x, w), 0.2));  // d/dw is 0 through the mask only
  EXPECT_TRUE(dead.requires_grad());
  dead.backward();
  EXPECT_FALSE(w.grad().defined());
  Tensor both = add(sum(leaky_relu_backward(g, mul(x, w), 0.2)), sum(mul(w, 3.0)));
  both.backward();
  ASSERT_TRUE(w.grad().defined());
  for (double v : w.grad().to_double_vector()) EXPECT_EQ(v, 3.0);
  // grad() still reports zeros for an input the outputs reach without a gradient.
  Tensor again = sum(leaky_relu_backward(g, mul(x, w), 0.2));
  Tensor gw = grad({again}, {w})[0];
  ASSERT_TRUE(gw.defined());
  for (double v : gw.to_double_vector()) EXPECT_EQ(v, 0.0);
}
