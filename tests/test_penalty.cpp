// WGAN-GP pieces: per-sample interpolation and the gradient penalty, against naive references,
// finite differences, and the exact Gulrajani et al. definition on a tiny critic.
#include "engine/autograd/node.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

TEST(Penalty, InterpolationUsesOneEpsilonPerSample) {
  Tensor real = randn64({3, 2, 2, 5}, 1, false), fake = randn64({3, 2, 2, 5}, 2, false);
  Tensor eps = Tensor::from_vector(std::vector<double>{0.0, 0.25, 1.0}, {3});
  auto out = interpolate_per_sample(real, fake, eps).to_double_vector();
  auto r = real.to_double_vector(), f = fake.to_double_vector();
  const double e[3] = {0.0, 0.25, 1.0};
  for (size_t i = 0; i < out.size(); ++i) {
    size_t n = i / 20;  // every element of sample n uses eps[n]: a per-pixel eps would fail here
    EXPECT_NEAR(out[i], e[n] * r[i] + (1 - e[n]) * f[i], 1e-15) << i;
  }
}

TEST(Penalty, InterpolationGradients) {
  Tensor real = randn64({4, 3, 3}, 3), fake = randn64({4, 3, 3}, 4), eps = rand64({4}, 5, 0, 1);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return interpolate_per_sample(in[0], in[1], in[2]); },
                   (std::vector<Tensor>{real, fake, eps}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return interpolate_per_sample(in[0], in[1], in[2]); },
                       (std::vector<Tensor>{real, fake, eps}));
  Tensor bad = randn64({3}, 6);
  EXPECT_THROW(interpolate_per_sample(real, fake, bad), Error);
}

TEST(Penalty, ValueIsPerSampleNormOverAllElements) {
  Tensor g = randn64({5, 2, 3, 3}, 7, false);
  double lambda = 10.0;
  auto v = g.to_double_vector();
  double expected = 0;
  for (int n = 0; n < 5; ++n) {
    double s = 0;
    for (int i = 0; i < 18; ++i) s += v[n * 18 + i] * v[n * 18 + i];
    expected += (std::sqrt(s) - 1) * (std::sqrt(s) - 1);
  }
  expected *= lambda / 5;
  EXPECT_NEAR(gradient_penalty(g, lambda).item(), expected, 1e-12);
  // A per-pixel norm (|g_i| instead of ||g_n||) gives a different number on the same data.
  double per_pixel = 0;
  for (double x : v) per_pixel += (std::abs(x) - 1) * (std::abs(x) - 1);
  EXPECT_GT(std::abs(per_pixel * lambda / v.size() - expected), 1e-3);
}

TEST(Penalty, GradientMatchesFiniteDifferencesBothPaths) {
  Tensor g = randn64({4, 7}, 8);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return gradient_penalty(in[0], 3.0); }, std::vector<Tensor>{g});
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return gradient_penalty(in[0], 3.0); },
                       std::vector<Tensor>{g});
}

TEST(Penalty, FusedBackwardMatchesReference) {
  for (DType dt : {DType::Float64, DType::Float32}) {
    Tensor g = randn64({6, 3, 2, 2}, 15, false).to(dt);
    Tensor gp = Tensor::scalar(0.7, dt);
    const double tol = dt == DType::Float64 ? 1e-13 : 1e-6;
    Tensor ref = gradient_penalty_backward_reference(g, gp, 10.0);
    EXPECT_LT(rel_error(gradient_penalty_backward(g, gp, 10.0), ref), tol) << dtype_name(dt);
    // Through the penalty's own backward, which passes the norms its forward computed.
    Tensor gr = g.detach().requires_grad_();
    Tensor via_penalty = grad({gradient_penalty(gr, 10.0)}, {gr}, {gp})[0];
    EXPECT_LT(rel_error(via_penalty, ref), tol) << dtype_name(dt);
  }
  // The reference itself, element by element: lambda/N * 2 (||g_n|| - 1) / ||g_n|| * g * gp.
  Tensor g = randn64({3, 4}, 16, false);
  auto gv = g.to_double_vector(), got = gradient_penalty_backward_reference(g, Tensor::scalar(0.7, DType::Float64), 2.0)
                                            .to_double_vector();
  for (int n = 0; n < 3; ++n) {
    double nrm = 0;
    for (int i = 0; i < 4; ++i) nrm += gv[n * 4 + i] * gv[n * 4 + i];
    nrm = std::sqrt(nrm);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[n * 4 + i], 2.0 / 3 * 2 * (nrm - 1) / nrm * gv[n * 4 + i] * 0.7, 1e-14);
  }
}

TEST(Penalty, BackwardOpErrorsNameTheOp) {
  Tensor g = randn64({4, 5}, 19, false);
  try {
    gradient_penalty_backward(g, randn64({2}, 20, false), 1.0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gradient_penalty_backward"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gradient_penalty_backward(g, Tensor::scalar(1.0, DType::Float64), 1.0, randn64({3}, 21, false)), Error);
}

TEST(Penalty, BackwardOpGradchecksAndStaysFusedUnderCreateGraph) {
  Tensor g = randn64({4, 5}, 17), gp = rand64({}, 18, 0.5, 1.5);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return gradient_penalty_backward(in[0], in[1], 3.0); },
                   (std::vector<Tensor>{g, gp}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return gradient_penalty_backward(in[0], in[1], 3.0); },
                       (std::vector<Tensor>{g, gp}));
  Tensor d = grad({gradient_penalty(g, 3.0)}, {g}, {}, /*create_graph=*/true)[0];
  ASSERT_TRUE(d.grad_fn());
  EXPECT_EQ(d.grad_fn()->name, "gradient_penalty_backward");
}

// The whole penalty on a tiny critic D(x) = w2 . leaky_relu(W1 x + b1): the gradient of the
// penalty with respect to W1 goes through d D / d x, i.e. a double backward.
TEST(Penalty, CriticParameterGradientThroughDoubleBackward) {
  Tensor real = randn64({3, 4}, 9, false), fake = randn64({3, 4}, 10, false);
  Tensor eps = rand64({3}, 11, 0, 1, false);
  Tensor w1 = randn64({5, 4}, 12), b1 = randn64({5}, 13), w2 = randn64({1, 5}, 14);
  auto penalty_of = [&](const std::vector<Tensor>& p) {
    GradModeGuard on(true);
    Tensor xhat = interpolate_per_sample(real, fake, eps).detach().requires_grad_();
    Tensor d = linear(leaky_relu(linear(xhat, p[0], p[1]), 0.2), p[2]);
    Tensor g = grad({sum(d)}, {xhat}, {}, /*create_graph=*/true)[0];
    return gradient_penalty(g, 10.0);
  };
  EXPECT_GRADCHECK(penalty_of, (std::vector<Tensor>{w1, b1, w2}));
}
