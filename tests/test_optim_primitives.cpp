// CPU optimizer and gradient-penalty primitives against independent references: the update rules as
// torch.optim documents them, written element by element in double, and naive loops.
#include <random>

#include "engine/backend/optim.h"
#include "engine/backend/penalty.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

// Parameter shapes of odd sizes, one of a single element.
const std::vector<Shape> kShapes = {{7, 5}, {13}, {1}, {3, 2, 3}};

std::vector<Tensor> randn_list(uint64_t seed, double scale = 1.0) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < kShapes.size(); ++i) out.push_back(randn64(kShapes[i], seed + 17 * i, false) * scale);
  return out;
}

std::vector<Tensor> zeros_list() {
  std::vector<Tensor> out;
  for (const auto& s : kShapes) out.push_back(Tensor::zeros(s, DType::Float64));
  return out;
}

std::vector<Tensor> cast_list(const std::vector<Tensor>& ts, DType dt) {
  std::vector<Tensor> out;
  for (const auto& t : ts) out.push_back(t.detach().to(dt).clone());
  return out;
}

std::vector<std::vector<double>> values(const std::vector<Tensor>& ts) {
  std::vector<std::vector<double>> v;
  for (const auto& t : ts) v.push_back(t.to_double_vector());
  return v;
}

void expect_lists_near(const std::vector<Tensor>& got, const std::vector<std::vector<double>>& want, double rtol,
                       const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t t = 0; t < got.size(); ++t) {
    auto g = got[t].to_double_vector();
    ASSERT_EQ(g.size(), want[t].size());
    for (size_t i = 0; i < g.size(); ++i)
      EXPECT_NEAR(g[i], want[t][i], rtol * (1.0 + std::abs(want[t][i]))) << what << " tensor " << t << " element " << i;
  }
}

}  // namespace

// torch.optim.Adam, documented algorithm (amsgrad = False, maximize = False):
//   g += wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
TEST(OptimPrimitives, AdamMatchesTorchFormulaOverSeveralSteps) {
  for (double wd : {0.0, 0.05}) {
    AdamHyper h{2e-3, 0.5, 0.999, 1e-8, wd, 0};
    auto p = randn_list(1), m = zeros_list(), v = zeros_list();
    auto rp = values(p), rm = values(m), rv = values(v);
    for (int64_t t = 1; t <= 4; ++t) {
      auto g = randn_list(100 + t, 0.3);
      h.step = t;
      cpu::adam_step(p, g, m, v, h);
      auto gv = values(g);
      for (size_t k = 0; k < rp.size(); ++k)
        for (size_t i = 0; i < rp[k].size(); ++i) {
          double gi = gv[k][i] + wd * rp[k][i];
          rm[k][i] = h.beta1 * rm[k][i] + (1 - h.beta1) * gi;
          rv[k][i] = h.beta2 * rv[k][i] + (1 - h.beta2) * gi * gi;
          double mhat = rm[k][i] / (1 - std::pow(h.beta1, double(t)));
          double vhat = rv[k][i] / (1 - std::pow(h.beta2, double(t)));
          rp[k][i] -= h.lr * mhat / (std::sqrt(vhat) + h.eps);
        }
    }
    expect_lists_near(p, rp, 1e-12, "adam param");
    expect_lists_near(m, rm, 1e-12, "adam exp_avg");
    expect_lists_near(v, rv, 1e-12, "adam exp_avg_sq");
  }
}

TEST(OptimPrimitives, AdamInFloat32StaysCloseToDoubleFormula) {
  AdamHyper h{1e-2, 0.9, 0.99, 1e-8, 0.01, 0};
  auto p64 = randn_list(3), m64 = zeros_list(), v64 = zeros_list();
  auto p32 = cast_list(p64, DType::Float32), m32 = cast_list(m64, DType::Float32), v32 = cast_list(v64, DType::Float32);
  for (int64_t t = 1; t <= 3; ++t) {
    auto g = randn_list(200 + t);
    h.step = t;
    cpu::adam_step(p64, g, m64, v64, h);
    cpu::adam_step(p32, cast_list(g, DType::Float32), m32, v32, h);
  }
  for (size_t k = 0; k < p64.size(); ++k) EXPECT_LT(rel_error(p32[k], p64[k]), 1e-6) << "tensor " << k;
}

// torch.optim.SGD (dampening 0, nesterov False): g += wd p; b = first ? g : mu b + g; p -= lr b.
TEST(OptimPrimitives, SgdWithMomentumAndWeightDecayMatchesTorchFormula) {
  for (double mu : {0.0, 0.9}) {
    SgdHyper h{0.05, mu, 0.01, true};
    auto p = randn_list(5);
    std::vector<Tensor> buf = mu != 0 ? zeros_list() : std::vector<Tensor>(kShapes.size());
    auto rp = values(p);
    auto rb = values(zeros_list());
    for (int t = 1; t <= 4; ++t) {
      auto g = randn_list(300 + t);
      h.first_step = t == 1;
      cpu::sgd_step(p, g, buf, h);
      auto gv = values(g);
      for (size_t k = 0; k < rp.size(); ++k)
        for (size_t i = 0; i < rp[k].size(); ++i) {
          double gi = gv[k][i] + h.weight_decay * rp[k][i];
          if (mu != 0) {
            rb[k][i] = t == 1 ? gi : mu * rb[k][i] + gi;
            gi = rb[k][i];
          }
          rp[k][i] -= h.lr * gi;
        }
    }
    expect_lists_near(p, rp, 1e-13, "sgd param");
    if (mu != 0) expect_lists_near(buf, rb, 1e-13, "sgd momentum buffer");
  }
}

// torch.optim.RMSprop (centered False): g += wd p; v = a v + (1 - a) g^2;
// momentum: b = mu b + g / (sqrt(v) + eps), p -= lr b; else p -= lr g / (sqrt(v) + eps).
TEST(OptimPrimitives, RmspropMatchesTorchFormulaWithAndWithoutMomentum) {
  for (double mu : {0.0, 0.5}) {
    RmspropHyper h{5e-3, 0.99, 1e-8, 0.02, mu};
    auto p = randn_list(7), sq = zeros_list();
    std::vector<Tensor> buf = mu > 0 ? zeros_list() : std::vector<Tensor>(kShapes.size());
    auto rp = values(p), rs = values(sq), rb = values(zeros_list());
    for (int t = 1; t <= 4; ++t) {
      auto g = randn_list(400 + t);
      cpu::rmsprop_step(p, g, sq, buf, h);
      auto gv = values(g);
      for (size_t k = 0; k < rp.size(); ++k)
        for (size_t i = 0; i < rp[k].size(); ++i) {
          double gi = gv[k][i] + h.weight_decay * rp[k][i];
          rs[k][i] = h.alpha * rs[k][i] + (1 - h.alpha) * gi * gi;
          double avg = std::sqrt(rs[k][i]) + h.eps;
          if (mu > 0) {
            rb[k][i] = mu * rb[k][i] + gi / avg;
            rp[k][i] -= h.lr * rb[k][i];
          } else {
            rp[k][i] -= h.lr * gi / avg;
          }
        }
    }
    expect_lists_near(p, rp, 1e-12, "rmsprop param");
    expect_lists_near(sq, rs, 1e-12, "rmsprop square_avg");
    if (mu > 0) expect_lists_near(buf, rb, 1e-12, "rmsprop momentum buffer");
  }
}

TEST(OptimPrimitives, ClampParamsClipsEveryTensor) {
  auto p = randn_list(9, 0.05);
  auto before = values(p);
  cpu::clamp_params(p, 0.03);
  std::vector<std::vector<double>> want = before;
  int clipped = 0;
  for (auto& t : want)
    for (double& x : t) {
      if (std::abs(x) > 0.03) ++clipped;
      x = std::min(std::max(x, -0.03), 0.03);
    }
  EXPECT_GT(clipped, 0);  // the data does exercise the clip
  expect_lists_near(p, want, 0.0, "clamped param");
  EXPECT_THROW(cpu::clamp_params(p, -1.0), Error);
}

TEST(OptimPrimitives, MismatchedListsAreAnError) {
  auto p = randn_list(11), g = randn_list(12);
  g.pop_back();
  auto m = zeros_list(), v = zeros_list();
  EXPECT_THROW(cpu::adam_step(p, g, m, v, AdamHyper{1e-3, 0.9, 0.999, 1e-8, 0, 1}), Error);
}

// ---- gradient penalty ----

TEST(PenaltyPrimitives, InterpolatePerSampleMatchesLoop) {
  Tensor real = randn64({5, 3, 2, 3}, 21, false), fake = randn64({5, 3, 2, 3}, 22, false);
  Tensor eps = rand64({5}, 23, 0, 1, false);
  Tensor out = Tensor::full({5, 3, 2, 3}, NAN, DType::Float64);
  cpu::interpolate_per_sample(real, fake, eps, out);
  auto r = real.to_double_vector(), f = fake.to_double_vector(), e = eps.to_double_vector(), o = out.to_double_vector();
  for (size_t i = 0; i < o.size(); ++i) {
    double a = e[i / 18];
    EXPECT_NEAR(o[i], a * r[i] + (1 - a) * f[i], 1e-15) << i;
  }
}

TEST(PenaltyPrimitives, ForwardMatchesLoop) {
  const int64_t N = 6, M = 11;
  Tensor g = randn64({N, M}, 31, false) * 0.4;
  Tensor norms = Tensor::full({N}, NAN, DType::Float64), pen = Tensor::full({}, NAN, DType::Float64);
  cpu::gradient_penalty_forward(g, 10.0, norms, pen);
  auto gv = g.to_double_vector(), nv = norms.to_double_vector();
  double total = 0;
  for (int64_t n = 0; n < N; ++n) {
    double s = 0;
    for (int64_t i = 0; i < M; ++i) s += gv[n * M + i] * gv[n * M + i];
    EXPECT_NEAR(nv[n], std::sqrt(s), 1e-14);
    total += (std::sqrt(s) - 1) * (std::sqrt(s) - 1);
  }
  EXPECT_NEAR(pen.item(), 10.0 * total / N, 1e-13);
}

TEST(PenaltyPrimitives, BackwardMatchesFiniteDifferencesOfForward) {
  const int64_t N = 4, M = 7;
  const double lambda = 3.0, upstream = 0.7;
  Tensor g = randn64({N, M}, 41, false) * 0.5;
  auto penalty_of = [&](const Tensor& x) {
    Tensor norms = Tensor::empty({N}, DType::Float64), pen = Tensor::empty({}, DType::Float64);
    cpu::gradient_penalty_forward(x, lambda, norms, pen);
    return pen.item();
  };
  Tensor norms = Tensor::empty({N}, DType::Float64), pen = Tensor::empty({}, DType::Float64);
  cpu::gradient_penalty_forward(g, lambda, norms, pen);
  Tensor dg = Tensor::full({N, M}, NAN, DType::Float64);
  cpu::gradient_penalty_backward(g, norms, Tensor::scalar(upstream, DType::Float64), lambda, dg);
  auto gv = g.to_double_vector(), dv = dg.to_double_vector();
  const double h = 1e-6;
  for (size_t i = 0; i < gv.size(); ++i) {
    auto plus = gv, minus = gv;
    plus[i] += h;
    minus[i] -= h;
    double fd = (penalty_of(Tensor::from_vector(plus, {N, M})) - penalty_of(Tensor::from_vector(minus, {N, M}))) / (2 * h);
    EXPECT_NEAR(dv[i], upstream * fd, 1e-7) << "element " << i;
  }
}

TEST(PenaltyPrimitives, BackwardOfZeroGradientSampleIsZero) {
  // A sample whose gradient is exactly 0 has no direction; its contribution is 0, not NaN.
  std::vector<double> gv = {0, 0, 0, 0.3, -0.4, 1.2};
  Tensor g = Tensor::from_vector(gv, {2, 3});
  Tensor norms = Tensor::empty({2}, DType::Float64), pen = Tensor::empty({}, DType::Float64);
  cpu::gradient_penalty_forward(g, 10.0, norms, pen);
  EXPECT_NEAR(pen.item(), 10.0 * (1.0 + std::pow(std::sqrt(0.09 + 0.16 + 1.44) - 1, 2)) / 2, 1e-13);
  Tensor dg = Tensor::full({2, 3}, NAN, DType::Float64);
  cpu::gradient_penalty_backward(g, norms, Tensor::scalar(1.0, DType::Float64), 10.0, dg);
  auto d = dg.to_double_vector();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(d[i], 0.0);
  const double nrm = std::sqrt(1.69);
  for (int i = 3; i < 6; ++i) EXPECT_NEAR(d[i], 10.0 * 2 * (nrm - 1) / (2 * nrm) * gv[i], 1e-13);
}
