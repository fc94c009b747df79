// Spectral normalisation: the op against a power iteration written here in float64 loops, the
// normalised weight's largest singular value (Eigen's SVD) reaching 1, first and second derivatives
// against finite differences, PyTorch's names and dims on the layers, eval leaving u and v alone,
// and the sngan32 model training, checkpointing and resuming exactly.
#include <Eigen/Dense>
#include <cmath>

#include "engine/autograd/gradcheck.h"
#include "engine/io/safetensors.h"
#include "engine/nn/layers.h"
#include "engine/ops/ops.h"
#include "models/model.h"
#include "models/trainer.h"
#include "tests/resume_check.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

// Wm [rows, cols] row-major from `w`, with `dim` (0 or 1) as the rows.
std::vector<double> as_matrix(const Tensor& w, int64_t dim, int64_t& rows, int64_t& cols) {
  std::vector<double> x = w.to(DType::Float64).to_double_vector();
  rows = w.size(dim);
  cols = w.numel() / rows;
  if (dim == 0) return x;
  const int64_t a = w.size(0), b = w.size(1), rest = w.numel() / (a * b);
  std::vector<double> m(x.size());
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t r = 0; r < rest; ++r) m[(j * a + i) * rest + r] = x[(i * b + j) * rest + r];
  return m;
}

double largest_singular_value(const std::vector<double>& m, int64_t rows, int64_t cols) {
  Eigen::MatrixXd e(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) e(i, j) = m[i * cols + j];
  return Eigen::JacobiSVD<Eigen::MatrixXd>(e).singularValues()(0);
}

void normalise(std::vector<double>& x) {
  double n = 0;
  for (double v : x) n += v * v;
  n = std::max(std::sqrt(n), 1e-12);
  for (double& v : x) v /= n;
}

}  // namespace

TEST(SpectralNorm, OneStepMatchesAPowerIterationByHand) {
  Generator gen(1);
  for (int64_t dim : {0, 1}) {
    Tensor w = Tensor::randn({5, 4, 3, 2}, &gen, DType::Float64);
    int64_t rows, cols;
    std::vector<double> m = as_matrix(w, dim, rows, cols);
    Tensor u = Tensor::randn({rows}, &gen, DType::Float64), v = Tensor::randn({cols}, &gen, DType::Float64);
    std::vector<double> hu = u.to_double_vector(), hv(static_cast<size_t>(cols));
    for (int it = 0; it < 2; ++it) {  // v = n(Wm^T u), u = n(Wm v)
      for (int64_t j = 0; j < cols; ++j) {
        hv[j] = 0;
        for (int64_t i = 0; i < rows; ++i) hv[j] += m[i * cols + j] * hu[i];
      }
      normalise(hv);
      for (int64_t i = 0; i < rows; ++i) {
        hu[i] = 0;
        for (int64_t j = 0; j < cols; ++j) hu[i] += m[i * cols + j] * hv[j];
      }
      normalise(hu);
    }
    double sigma = 0;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) sigma += hu[i] * m[i * cols + j] * hv[j];
    Tensor out = spectral_normalize(w, u, v, dim, 2, 1e-12, true);
    expect_close(u, hu, 1e-12);
    expect_close(v, hv, 1e-12);
    std::vector<double> expected = w.to_double_vector();
    for (double& x : expected) x /= sigma;
    expect_close(out, expected, 1e-12);
  }
}

TEST(SpectralNorm, LayersReachUnitSpectralNormWithTorchNamesAndDims) {
  Generator gen(2);
  nn::Linear lin(7, 5, true, &gen);
  nn::Conv2d conv(3, 6, 3, 1, 1, true, &gen);
  nn::ConvTranspose2d convt(6, 4, 4, 2, 1, 0, false, &gen);
  for (nn::WeightLayer* l : std::vector<nn::WeightLayer*>{&lin, &conv, &convt}) {
    l->enable_spectral_norm(gen);
    std::vector<std::string> names;
    for (auto& [n, v] : l->state_dict()) names.push_back(n);
    EXPECT_EQ(std::count(names.begin(), names.end(), "weight_orig"), 1) << l->type_name();
    EXPECT_EQ(std::count(names.begin(), names.end(), "weight_u"), 1);
    EXPECT_EQ(std::count(names.begin(), names.end(), "weight_v"), 1);
    EXPECT_EQ(std::count(names.begin(), names.end(), "weight"), 0);
    // One power iteration per forward: after enough of them sigma is the top singular value.
    for (int i = 0; i < 200; ++i) l->effective_weight();
    int64_t rows, cols;
    const int64_t dim = l == &convt ? 1 : 0;  // torch: dim=1 for ConvTranspose2d
    std::vector<double> m = as_matrix(l->effective_weight(), dim, rows, cols);
    EXPECT_EQ(rows, l->weight.size(dim));
    EXPECT_NEAR(largest_singular_value(m, rows, cols), 1.0, 1e-3) << l->type_name();
    std::vector<double> raw = as_matrix(l->weight, dim, rows, cols);
    EXPECT_GT(std::abs(largest_singular_value(raw, rows, cols) - 1.0), 1e-2);  // the raw weight is not normalised
  }
  // Eval uses u and v as they are; training refines them (a fresh layer: far from converged).
  nn::Conv2d fresh(3, 6, 3, 1, 1, true, &gen);
  fresh.enable_spectral_norm(gen);
  auto u_of = [&] {
    for (auto& [n, v] : fresh.state_dict())
      if (n == "weight_u") return v.tensor.to_double_vector();
    return std::vector<double>{};
  };
  std::vector<double> u0 = u_of();
  fresh.eval();
  fresh.forward(Tensor::randn({2, 3, 5, 5}, &gen));
  EXPECT_EQ(u_of(), u0);
  fresh.train();
  fresh.forward(Tensor::randn({2, 3, 5, 5}, &gen));
  EXPECT_NE(u_of(), u0);
}

TEST(SpectralNorm, FirstAndSecondDerivativesMatchFiniteDifferences) {
  Generator gen(3);
  for (int64_t dim : {0, 1}) {
    Tensor w = Tensor::randn({4, 3, 2, 2}, &gen, DType::Float64).requires_grad_();
    const int64_t rows = w.size(dim), cols = w.numel() / rows;
    Tensor u = Tensor::randn({rows}, &gen, DType::Float64), v = Tensor::randn({cols}, &gen, DType::Float64);
    spectral_normalize(w.detach(), u, v, dim, 5, 1e-12, true);  // a converged-ish u, v, then held fixed
    auto f = [&](const std::vector<Tensor>& in) {
      Tensor uu = u, vv = v;
      return tanh(spectral_normalize(in[0], uu, vv, dim, 1, 1e-12, false));
    };
    GradcheckResult r = gradcheck(f, {w});
    EXPECT_TRUE(r.ok) << r.report;
    GradcheckResult r2 = gradgradcheck(f, {w});
    EXPECT_TRUE(r2.ok) << r2.report;
  }
}

TEST(SpectralNorm, Sngan32TrainsAndResumesExactlyWithSpectralNormOnBoth) {
  io::ImageDataset ds = random_images(8, 3, 32, 5);
  models::TrainConfig c;
  c.model.arch = "sngan32";
  c.model.channels = 3;
  c.model.image_size = 32;
  c.model.ngf = c.model.ndf = 4;
  c.model.nz = 8;
  c.model.spectral_norm = "both";
  c.loss = "hinge";
  c.batch = 2;
  c.steps = 4;
  c.seed = 9;
  models::Trainer straight(c, ds, Device::cpu());
  auto ck = straight.checkpoint();
  auto ends = [](const std::string& n, const std::string& tail) {
    return n.size() >= tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0;
  };
  int g_orig = 0, d_orig = 0, plain = 0;
  for (auto& [n, t] : ck.tensors) {
    if (n.rfind("optim.", 0) == 0) continue;
    g_orig += n.rfind("generator.", 0) == 0 && ends(n, ".weight_orig");
    d_orig += n.rfind("discriminator.", 0) == 0 && ends(n, ".weight_orig");
    plain += ends(n, ".weight") && !ck.has(n + "_orig") && ck.has(n.substr(0, n.size() - 7) + ".running_mean") == false;
  }
  EXPECT_EQ(g_orig, 5);  // Linear, 3 ConvTranspose2d, Conv2d
  EXPECT_EQ(d_orig, 8);  // 7 Conv2d, Linear
  EXPECT_EQ(plain, 0);   // only batch norm keeps a plain weight
  ASSERT_TRUE(ck.has("discriminator.main.0.weight_u"));
  expect_exact_resume(c, ds, 4, 2);  // u and v travel in the checkpoint
  auto* first_conv = dynamic_cast<nn::WeightLayer*>(&dynamic_cast<nn::Sequential&>(
      *straight.network("discriminator").children().at(0).second)[0]);
  ASSERT_TRUE(first_conv && first_conv->spectrally_normalised());
}
