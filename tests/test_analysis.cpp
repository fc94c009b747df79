// The measurements and pictures of `gan analyze` against independent references: PCA on data whose
// covariance is known exactly, t-SNE's calibration (entropy of each row computed here) and its
// keeping of separated clusters, gradient norms logged during training against norms computed
// here from the same step's gradients, gradients.csv across a resume against the uninterrupted run,
// saliency against finite differences, latent sensitivity against a linear generator's column
// norms, the critic's penultimate features against its layers run one by one, and the plot
// primitives' pixels.
#include <Eigen/Dense>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/io/file_util.h"
#include "engine/io/plot.h"
#include "models/dcgan.h"
#include "models/eval/analyze.h"
#include "models/eval/diagnostics.h"
#include "models/eval/feature_net.h"
#include "models/eval/gradient_log.h"
#include "models/eval/pca.h"
#include "models/eval/tsne.h"
#include "models/run.h"
#include "models/trainer.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::models::eval;
namespace fs = std::filesystem;

namespace {

// A random orthonormal basis of R^d (columns), from the QR decomposition of a Gaussian matrix.
Eigen::MatrixXd random_basis(int64_t d, uint64_t seed) {
  Generator g(seed);
  Eigen::MatrixXd a(d, d);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) a(i, j) = g.uniform() - 0.5;
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  return qr.householderQ() * Eigen::MatrixXd::Identity(d, d);
}

// Points +-s_k u_k: mean zero and sample covariance sum_k 2 s_k^2 u_k u_k^T / (N - 1), exactly.
Tensor plus_minus_points(const Eigen::MatrixXd& axes, const std::vector<double>& s) {
  const int64_t d = axes.rows(), k = static_cast<int64_t>(s.size());
  std::vector<double> v;
  for (int64_t i = 0; i < k; ++i)
    for (double sign : {1.0, -1.0})
      for (int64_t j = 0; j < d; ++j) v.push_back(sign * s[static_cast<size_t>(i)] * axes(j, i));
  return Tensor::from_vector(v, {2 * k, d});
}

void check_pca_recovers(int64_t d, uint64_t seed) {
  const std::vector<double> s{5, 3, 2, 1, 0.5};
  Eigen::MatrixXd axes = random_basis(d, seed);
  Tensor x = plus_minus_points(axes, s);
  const double n1 = static_cast<double>(x.size(0) - 1);
  Pca p = fit_pca(x, 3);
  double total = 0;
  for (double v : s) total += 2 * v * v / n1;
  EXPECT_NEAR(p.total_variance, total, 1e-9 * total);
  for (int64_t k = 0; k < 3; ++k) {
    EXPECT_NEAR(p.variances[static_cast<size_t>(k)], 2 * s[static_cast<size_t>(k)] * s[static_cast<size_t>(k)] / n1, 1e-9)
        << "axis " << k;
    double dot = 0;
    for (int64_t j = 0; j < d; ++j) dot += p.components[static_cast<size_t>(k * d + j)] * axes(j, k);
    EXPECT_NEAR(std::abs(dot), 1.0, 1e-9) << "axis " << k << " is not the constructed one";
  }
  // +s_0 u_0 lies at +-s_0 on the first axis and at 0 on the others.
  std::vector<double> c = p.transform(slice(x, 0, 0, 1)).to_double_vector();
  EXPECT_NEAR(std::abs(c[0]), s[0], 1e-9);
  EXPECT_NEAR(c[1], 0, 1e-9);
  EXPECT_NEAR(c[2], 0, 1e-9);
}

// The fraction of points whose k nearest neighbours (Euclidean, in `y`) mostly share their label.
double knn_agreement(const Tensor& y, const std::vector<int>& labels, int64_t k) {
  const std::vector<double> d = squared_distances(y);
  const int64_t n = y.size(0);
  int64_t good = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> idx;
    for (int64_t j = 0; j < n; ++j)
      if (j != i) idx.push_back(j);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int64_t a, int64_t b) { return d[static_cast<size_t>(i * n + a)] < d[static_cast<size_t>(i * n + b)]; });
    int64_t same = 0;
    for (int64_t m = 0; m < k; ++m) same += labels[static_cast<size_t>(idx[static_cast<size_t>(m)])] == labels[static_cast<size_t>(i)];
    good += 2 * same > k;
  }
  return static_cast<double>(good) / static_cast<double>(n);
}

// Clusters of `per` points around `centres` far apart in `d` dimensions, unit spread.
Tensor clusters(int64_t centres, int64_t per, int64_t d, std::vector<int>* labels) {
  Generator g(11);
  std::vector<double> v;
  for (int64_t c = 0; c < centres; ++c)
    for (int64_t i = 0; i < per; ++i) {
      labels->push_back(static_cast<int>(c));
      for (int64_t j = 0; j < d; ++j) {
        const double u1 = std::max(g.uniform(), 1e-12), u2 = g.uniform();
        v.push_back((j == c ? 25.0 : 0.0) + std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2));
      }
    }
  return Tensor::from_vector(v, {centres * per, d});
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& name) {
    dir = fs::temp_directory_path() / ("gan_analysis_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string operator/(const std::string& n) const { return (dir / n).string(); }
};

// A small 2-D toy run: fast, and every part of the trainer's step (several critic steps here).
models::TrainConfig toy_config(int64_t steps, int n_critic) {
  models::TrainConfig c;
  c.data = "gaussians8";
  c.model.arch = "toy";
  models::apply_defaults(c, {});
  c.model.g_hidden = c.model.d_hidden = {16, 16};
  c.batch = 32;
  c.n_critic = n_critic;
  c.steps = steps;
  c.log_every = 5;
  c.sample_every = 0;
  c.checkpoint_every = 10;
  c.seed = 5;
  return c;
}

}  // namespace

// ---------------- PCA ----------------

TEST(Pca, RecoversConstructedAxesAndVariances) {
  check_pca_recovers(5, 1);   // D <= N: the covariance matrix's eigenproblem
  check_pca_recovers(20, 2);  // D > N: the Gram matrix's
}

TEST(Pca, GaussianSampleMatchesItsCovariance) {
  // Anisotropic Gaussian rotated by a known basis: the sample variances along the found axes are
  // those of the generating scales within sampling error (2000 points: a few percent).
  const int64_t d = 6, n = 2000;
  Eigen::MatrixXd axes = random_basis(d, 7);
  const std::vector<double> scale{4, 2, 1, 0.5, 0.25, 0.1};
  Generator g(3);
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) {
    Eigen::VectorXd p = Eigen::VectorXd::Zero(d);
    for (int64_t k = 0; k < d; ++k) {
      const double u1 = std::max(g.uniform(), 1e-12), u2 = g.uniform();
      p += scale[static_cast<size_t>(k)] * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2) * axes.col(k);
    }
    for (int64_t j = 0; j < d; ++j) v.push_back(p(j) + 3.0);  // off-centre: the mean must come out
  }
  Pca p = fit_pca(Tensor::from_vector(v, {n, d}), 2);
  for (int64_t k = 0; k < 2; ++k) {
    EXPECT_NEAR(p.variances[static_cast<size_t>(k)], scale[static_cast<size_t>(k)] * scale[static_cast<size_t>(k)],
                0.1 * scale[static_cast<size_t>(k)] * scale[static_cast<size_t>(k)]);
    double dot = 0;
    for (int64_t j = 0; j < d; ++j) dot += p.components[static_cast<size_t>(k * d + j)] * axes(j, k);
    EXPECT_GT(std::abs(dot), 0.99);
  }
  for (double m : p.mean) EXPECT_NEAR(m, 3.0, 0.2);
  EXPECT_THROW(fit_pca(Tensor::from_vector(v, {n, d}), 7), Error);
}

// ---------------- t-SNE ----------------

TEST(Tsne, CalibrationHitsThePerplexity) {
  std::vector<int> labels;
  Tensor x = clusters(3, 30, 5, &labels);
  const int64_t n = x.size(0);
  const std::vector<double> d = squared_distances(x);
  for (double perp : {5.0, 20.0}) {
    Affinities a = conditional_affinities(d, n, perp);
    for (int64_t i = 0; i < n; ++i) {
      // Entropy and normalisation computed here from the returned row, and the row itself from
      // the returned beta.
      double h = 0, total = 0, z = 0, dmin = INFINITY;
      for (int64_t j = 0; j < n; ++j)
        if (j != i) dmin = std::min(dmin, d[static_cast<size_t>(i * n + j)]);
      for (int64_t j = 0; j < n; ++j)
        if (j != i) z += std::exp(-a.beta[static_cast<size_t>(i)] * (d[static_cast<size_t>(i * n + j)] - dmin));
      for (int64_t j = 0; j < n; ++j) {
        const double p = a.p[static_cast<size_t>(i * n + j)];
        total += p;
        if (p > 0) h -= p * std::log(p);
        if (j != i) {
          const double expect = std::exp(-a.beta[static_cast<size_t>(i)] * (d[static_cast<size_t>(i * n + j)] - dmin)) / z;
          EXPECT_NEAR(p, expect, 1e-9);
        }
      }
      EXPECT_EQ(a.p[static_cast<size_t>(i * n + i)], 0.0);
      EXPECT_NEAR(total, 1.0, 1e-9);
      EXPECT_NEAR(std::exp(h), perp, 1e-4 * perp) << "row " << i;
    }
  }
  EXPECT_THROW(conditional_affinities(d, n, static_cast<double>(n)), Error);
}

TEST(Tsne, KeepsSeparatedClustersApart) {
  std::vector<int> labels;
  Tensor x = clusters(4, 40, 10, &labels);
  TsneOptions o;
  o.perplexity = 20;
  o.iterations = 400;
  o.seed = 2;
  TsneResult r = tsne(x, o);
  ASSERT_EQ(r.embedding.shape(), (Shape{160, 2}));
  EXPECT_GE(knn_agreement(r.embedding, labels, 5), 0.98);
  // Random labels give about chance agreement: the check can fail.
  std::vector<int> shuffled = labels;
  Generator g(1);
  for (size_t i = shuffled.size(); i > 1; --i) std::swap(shuffled[i - 1], shuffled[g.below(i)]);
  EXPECT_LT(knn_agreement(r.embedding, shuffled, 5), 0.6);
  // Seeded: the same map again.
  EXPECT_EQ(tsne(x, o).embedding.to_double_vector(), r.embedding.to_double_vector());
  EXPECT_TRUE(std::isfinite(r.kl) && r.kl > 0);
}

// ---------------- gradients logged during training ----------------

TEST(GradientLog, NormsAreTheStepsOwnGradientNorms) {
  TempDir tmp("norms");
  models::TrainConfig c = toy_config(10, 2);  // two critic steps: D's row must be the last one's
  c.grad_hist_steps = {5};
  models::Trainer t(c, Device::cpu());
  GradientLog log(t, tmp.dir.string());
  log.start();
  // Norms computed here, in float64 from the gradients' values, at the same hook.
  std::map<std::string, double> expected, first_critic;
  std::map<std::string, std::vector<double>> hist_values;
  models::StepHooks hooks;
  hooks.before_optimizer_step = [&](const models::StepPoint& at, const Tensor& loss) {
    log.hooks().before_optimizer_step(at, loss);
    if (t.step() + 1 != 5) return;
    for (auto& [net, m] : t.recipe().networks())
      for (auto& [name, p] : m->named_parameters()) {
        if (!p.grad().defined() || (at.phase == models::Phase::Generator) != (net == "generator")) continue;
        double s = 0;
        for (double v : p.grad().to_double_vector()) s += v * v;
        if (at.phase == models::Phase::Critic && at.critic_index == 0) first_critic[net + "," + name] = std::sqrt(s);
        if (at.phase == models::Phase::Critic && at.critic_index == 0) continue;
        expected[net + "," + name] = std::sqrt(s);
        hist_values[net + "," + name] = p.grad().to_double_vector();
      }
  };
  for (int i = 0; i < 10; ++i) t.train_step(&hooks);
  GradientNorms g = read_gradient_norms(log.norms_path());
  ASSERT_EQ(g.networks, (std::vector<std::string>{"generator", "discriminator"}));
  size_t checked = 0;
  bool differs_from_first = false;
  for (auto& [key, want] : expected) {
    const std::string net = key.substr(0, key.find(',')), par = key.substr(key.find(',') + 1);
    const auto& [steps, norms] = g.series.at(net).at(par);
    ASSERT_EQ(steps, (std::vector<double>{5, 10})) << key;
    EXPECT_NEAR(norms[0], want, 1e-5 * want + 1e-12) << key;
    if (first_critic.count(key) && std::abs(first_critic[key] - want) > 1e-3 * want) differs_from_first = true;
    ++checked;
  }
  EXPECT_EQ(checked, t.network("generator").named_parameters().size() + t.network("discriminator").named_parameters().size());
  EXPECT_TRUE(differs_from_first) << "the two critic steps' gradients should differ, or the test shows nothing";
  // Histograms of step 5: every value counted once, in the bin its value falls in.
  std::vector<RecordedHistogram> hs = read_gradient_histograms(log.histograms_path());
  ASSERT_EQ(hs.size(), expected.size());
  for (const auto& h : hs) {
    EXPECT_EQ(h.step, 5);
    const auto& vals = hist_values.at(h.network + "," + h.parameter);
    ASSERT_EQ(h.hist.counts.size(), static_cast<size_t>(kGradientHistogramBins));
    double m = 0;
    for (double v : vals) m = std::max(m, std::abs(v));
    EXPECT_NEAR(h.hist.edges.front(), -m, 1e-6 * m);
    EXPECT_NEAR(h.hist.edges.back(), m, 1e-6 * m);
    std::vector<double> counts(h.hist.counts.size(), 0);
    for (double v : vals) {
      const double w = 2 * m / kGradientHistogramBins;
      counts[static_cast<size_t>(std::min<int64_t>(kGradientHistogramBins - 1, static_cast<int64_t>((v + m) / w)))] += 1;
    }
    EXPECT_EQ(h.hist.counts, counts) << h.network << "." << h.parameter;
  }
}

TEST(GradientLog, HistogramStepsOutsideTheRunAreRefused) {
  TempDir tmp("range");
  models::TrainConfig c = toy_config(10, 1);
  c.grad_hist_steps = {11};
  models::Trainer t(c, Device::cpu());
  try {
    GradientLog log(t, tmp.dir.string());
    FAIL() << "step 11 of a 10-step run was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--grad-hist-steps 11"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1..10"), std::string::npos) << e.what();
  }
  c.grad_hist_steps = {0};
  EXPECT_THROW(c.validate(), Error);
}

TEST(GradientLog, ResumeKeepsTheFilesOfTheUninterruptedRun) {
  TempDir a("resume_a"), b("resume_b");
  models::TrainConfig c = toy_config(20, 1);
  c.grad_hist_steps = {3, 12, 20};
  models::RunEvents quiet;
  models::run_training(c, a.dir.string(), quiet);
  // B: the same run, then its last checkpoint rolled back to step 10 (as if it had crashed after
  // step 20 with only the step-10 checkpoint on disk) and resumed: the rows of steps 11..20 are
  // dropped and written again.
  models::run_training(c, b.dir.string(), quiet);
  fs::copy_file(b / "checkpoints/step-000010.safetensors", b / "checkpoints/last.safetensors",
                fs::copy_options::overwrite_existing);
  const std::string before = slurp(b / "gradients.csv");
  models::resume_training(b.dir.string(), {}, quiet);
  const std::string norms = slurp(a / "gradients.csv"), hist = slurp(a / "gradients-hist.csv");
  EXPECT_NE(norms.find("\n20,discriminator,"), std::string::npos);
  EXPECT_NE(hist.find("\n12,generator,"), std::string::npos);
  EXPECT_EQ(slurp(b / "gradients.csv"), norms);
  EXPECT_EQ(slurp(b / "gradients-hist.csv"), hist);
  EXPECT_EQ(before, norms);  // the first pass of B wrote what A wrote (CPU runs are deterministic)
}

// ---------------- saliency, latent sensitivity, critic features ----------------

namespace {

// A tiny float64 critic on [N, 1, 3, 3] images: sum_k tanh(w_k . x_n); with `mix`, plus a term
// coupling the images of a batch (as BatchNorm in training mode does).
struct TinyCritic {
  Tensor w = test::randn64({9, 4}, 21, false);
  bool mix = false;
  Tensor operator()(const Tensor& x) const {
    const int64_t n = x.size(0);
    Tensor h = sum(tanh(matmul(x.reshape({n, 9}), w)), {1});
    if (!mix) return h;
    Tensor m = mean(x.reshape({n, 9}));
    return add(h, mul(square(m), 3.0));
  }
};

// d critic(x)_n / d x_n by central differences.
std::vector<double> finite_difference_rows(const TinyCritic& f, const Tensor& x) {
  std::vector<double> v = x.to_double_vector(), out(v.size());
  const int64_t n = x.size(0), per = static_cast<int64_t>(v.size()) / n;
  const double h = 1e-6;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < per; ++j) {
      std::vector<double> p = v, m = v;
      p[static_cast<size_t>(i * per + j)] += h;
      m[static_cast<size_t>(i * per + j)] -= h;
      const double fp = f(Tensor::from_vector(p, x.shape())).to_double_vector()[static_cast<size_t>(i)];
      const double fm = f(Tensor::from_vector(m, x.shape())).to_double_vector()[static_cast<size_t>(i)];
      out[static_cast<size_t>(i * per + j)] = (fp - fm) / (2 * h);
    }
  return out;
}

}  // namespace

TEST(Saliency, EqualsFiniteDifferencesOfTheCritic) {
  Tensor x = test::randn64({5, 1, 3, 3}, 4, false);
  TinyCritic f;
  Tensor g = input_gradient([&](const Tensor& t) { return f(t); }, x);
  std::vector<double> fd = finite_difference_rows(f, x), got = g.to_double_vector();
  ASSERT_EQ(got.size(), fd.size());
  for (size_t i = 0; i < fd.size(); ++i) EXPECT_NEAR(got[i], fd[i], 1e-7) << i;
  // A critic that mixes the batch: the summed gradient is no longer per image, the separate rows are.
  f.mix = true;
  fd = finite_difference_rows(f, x);
  got = input_gradient([&](const Tensor& t) { return f(t); }, x, 5).to_double_vector();
  for (size_t i = 0; i < fd.size(); ++i) EXPECT_NEAR(got[i], fd[i], 1e-7) << i;
  std::vector<double> summed = input_gradient([&](const Tensor& t) { return f(t); }, x).to_double_vector();
  double gap = 0;
  for (size_t i = 0; i < fd.size(); ++i) gap = std::max(gap, std::abs(summed[i] - fd[i]));
  EXPECT_GT(gap, 1e-3);
  // The map: max over channels of |g|.
  Tensor two = Tensor::from_vector(std::vector<double>{1, -3, 2, 0.5, -4, 1, 0, 2}, {1, 2, 2, 2});
  test::expect_close(saliency_maps(two), {4, 3, 2, 2});
}

TEST(LatentSensitivity, IgnoredDimensionIsZeroAndLinearColumnsAreTheirNorms) {
  // G(z) = tanh(z W) with W's row 2 zero: dimension 2 moves nothing.
  std::vector<double> w(5 * 7);
  Generator g(9);
  for (auto& v : w) v = g.uniform() - 0.5;
  for (int64_t j = 0; j < 7; ++j) w[static_cast<size_t>(2 * 7 + j)] = 0;
  Tensor W = Tensor::from_vector(w, {5, 7});
  Tensor z = Tensor::randn({6, 5}, &g);
  auto nonlinear = [&](const Tensor& zz) { return tanh(matmul(zz.to(DType::Float64), W)); };
  std::vector<double> s = latent_sensitivity(nonlinear, z, 0.1, 7);  // small batches: the chunking too
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[2], 0.0);
  for (int64_t i : {0, 1, 3, 4}) EXPECT_GT(s[static_cast<size_t>(i)], 1e-3);
  // Linear G(z) = z W: the central difference is exact, |W_i| (row i of W) for every sample.
  auto linear = [&](const Tensor& zz) { return matmul(zz.to(DType::Float64), W); };
  s = latent_sensitivity(linear, z, 0.5);
  for (int64_t i = 0; i < 5; ++i) {
    double r = 0;
    for (int64_t j = 0; j < 7; ++j) r += w[static_cast<size_t>(i * 7 + j)] * w[static_cast<size_t>(i * 7 + j)];
    EXPECT_NEAR(s[static_cast<size_t>(i)], std::sqrt(r), 1e-5) << i;
  }
  // DCGAN-shaped latents [N, nz, 1, 1] are accepted; the rows passed name the sample perturbed.
  Tensor z4 = z.reshape({6, 5, 1, 1});
  std::vector<double> seen(6, 0);
  latent_sensitivity(
      [&](const Tensor& zz, const std::vector<int64_t>& rows) {
        EXPECT_EQ(zz.size(0), static_cast<int64_t>(rows.size()));
        const std::vector<float> base = z.to_float_vector(), got = zz.to_float_vector();
        for (size_t r = 0; r < rows.size(); ++r) {
          int differ = 0;
          for (int64_t k = 0; k < 5; ++k) differ += got[r * 5 + static_cast<size_t>(k)] != base[static_cast<size_t>(rows[r] * 5 + k)];
          EXPECT_EQ(differ, 1);
          seen[static_cast<size_t>(rows[r])] += 1;
        }
        return matmul(zz.reshape({zz.size(0), 5}).to(DType::Float64), W);
      },
      z4, 0.5, 8);
  for (double v : seen) EXPECT_EQ(v, 2 * 5);  // every sample, each dimension, plus and minus
}

TEST(CriticFeatures, AreThePenultimateLayersOutput) {
  models::ModelConfig mc;
  mc.arch = "dcgan32";
  mc.ndf = 4;
  mc.channels = 1;
  mc.image_size = 32;
  Generator init(2);
  models::Dcgan32Discriminator d(mc, init);
  Tensor x = Tensor::randn({5, 1, 32, 32}, &init);
  Tensor f = critic_features(d, x, nullptr, 2);  // batches of 2: the pieces joined in order
  // The same by running D's layers one by one up to the last one's input.
  NoGradGuard no_grad;
  Tensor h = x;
  for (size_t i = 0; i + 1 < d.main->size(); ++i) h = (*d.main)[i](h);
  // Training-mode BatchNorm normalises per batch: compare batch by batch.
  std::vector<Tensor> parts;
  for (int64_t s = 0; s < 5; s += 2) {
    Tensor hb = slice(x, 0, s, std::min<int64_t>(5, s + 2));
    for (size_t i = 0; i + 1 < d.main->size(); ++i) hb = (*d.main)[i](hb);
    parts.push_back(hb.reshape({hb.size(0), -1}));
  }
  Tensor want = cat(parts, 0);
  ASSERT_EQ(f.shape(), (Shape{5, 4 * 8 * 4 * 4}));
  EXPECT_LT(test::rel_error(f, want), 1e-6);
  EXPECT_EQ(h.size(1), 32);  // ndf * 8 channels at 4 x 4
}

// ---------------- plot primitives ----------------

TEST(Plot, ColourMapEndsAndHeatMapPixels) {
  // viridis' published end colours
  EXPECT_EQ(io::colour_map(0), (io::Rgb{68, 1, 84}));
  EXPECT_EQ(io::colour_map(1), (io::Rgb{253, 231, 37}));
  EXPECT_EQ(io::colour_map(-5), io::colour_map(0));
  io::Image h = io::heat_map({0, 1, 2, 3}, 2, 2, 0, 3, 2);
  ASSERT_EQ(h.width, 4);
  EXPECT_EQ(h.at(0, 0, 0), 68);
  EXPECT_EQ(h.at(3, 3, 1), 231);  // the last value's 2 x 2 block
  EXPECT_EQ(h.at(2, 3, 2), 37);
  io::Image bar = io::colour_bar(0, 1, 200, "v");
  EXPECT_EQ(bar.height, 200);
}

TEST(Plot, HistogramCountsAndScatterPlacesCategories) {
  io::Histogram h = io::make_histogram({-1, -0.5, 0, 0.1, 0.99, 1, 5, NAN}, 4, -1, 1);
  // [-1, -0.5) [-0.5, 0) [0, 0.5) [0.5, 1]: 1 and 5 go to the last bin, NaN nowhere
  EXPECT_EQ(h.counts, (std::vector<double>{1, 1, 2, 3}));
  EXPECT_EQ(h.edges.size(), 5u);
  io::Image grid = io::histogram_grid({{"a", h, {10, 20, 30}, "note"}, {"b", h, {10, 20, 30}, ""}}, {"t", 2, 150, 100, false});
  EXPECT_EQ(grid.width, 300);
  // Scatter: category 2 at the lower left, category 5 at the upper right (their colours' centroids).
  io::ScatterOptions o;
  o.categories = {"0", "1", "2", "3", "4", "5"};
  o.styles = {"real", "generated"};
  io::Image img = io::scatter_plot({{0, 0, 2, 0}, {10, 10, 5, 1}, {5, 5, -1, 0}}, o);
  auto centroid = [&](io::Rgb c) {
    double sx = 0, sy = 0, n = 0;
    for (int64_t y = 30; y < img.height - 36; ++y)
      for (int64_t x = 60; x < img.width - 120; ++x)
        if (img.at(y, x, 0) == c[0] && img.at(y, x, 1) == c[1] && img.at(y, x, 2) == c[2]) sx += x, sy += y, n += 1;
    return std::array<double, 3>{sx / std::max(n, 1.0), sy / std::max(n, 1.0), n};
  };
  auto a = centroid(io::category_colour(2)), b = centroid(io::category_colour(5));
  ASSERT_GT(a[2], 5);
  ASSERT_GT(b[2], 5);
  EXPECT_LT(a[0], b[0]);
  EXPECT_GT(a[1], b[1]);  // image rows grow downwards
  EXPECT_GT(a[2], b[2]);  // a filled disc has more pixels than a ring
  // Bars: the taller value covers more pixels of its colour.
  io::Image bars = io::bar_chart({{"x", 1, {200, 0, 0}}, {"y", 3, {0, 0, 200}}}, {});
  int64_t red = 0, blue = 0;
  for (int64_t i = 0; i < bars.width * bars.height; ++i) {
    red += bars.pixels[static_cast<size_t>(3 * i)] == 200 && bars.pixels[static_cast<size_t>(3 * i + 2)] == 0;
    blue += bars.pixels[static_cast<size_t>(3 * i)] == 0 && bars.pixels[static_cast<size_t>(3 * i + 2)] == 200;
  }
  EXPECT_NEAR(static_cast<double>(blue) / static_cast<double>(red), 3.0, 0.15);
}

// ---------------- analyze with a feature network ----------------

namespace {

// A stand-in feature network for the analysis (the real ones live in models/eval/feature_net.cpp):
// features are the mean brightness of each image quadrant, "class" is the brightest quadrant.
class QuadrantNet : public FeatureNet {
 public:
  std::string name() const override { return "quadrants"; }
  int64_t feature_dim() const override { return 4; }
  int64_t classes() const override { return 4; }
  int64_t channels() const override { return 1; }
  Features compute(const Tensor& images) override {
    ++calls;
    const int64_t n = images.size(0), s = images.size(2);
    const std::vector<double> v = images.to_double_vector();
    std::vector<double> f(static_cast<size_t>(n * 4), 0.0), p(static_cast<size_t>(n * 4), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t y = 0; y < s; ++y)
        for (int64_t x = 0; x < s; ++x)
          f[static_cast<size_t>(i * 4 + (y >= s / 2) * 2 + (x >= s / 2))] += v[static_cast<size_t>((i * s + y) * s + x)];
      const int64_t best = std::max_element(f.begin() + i * 4, f.begin() + i * 4 + 4) - (f.begin() + i * 4);
      p[static_cast<size_t>(i * 4 + best)] = 1;
    }
    return {Tensor::from_vector(f, {n, 4}), Tensor::from_vector(p, {n, 4})};
  }
  int calls = 0;
};

}  // namespace

TEST(Analyze, FeatureNetViewAndItsClassesForGeneratedImages) {
  TempDir tmp("features");
  models::TrainConfig c;
  c.data = "mnist";
  c.model.arch = "dcgan32";
  c.model.ngf = c.model.ndf = 4;
  c.model.nz = 8;
  c.batch = 8;
  c.steps = 2;
  c.log_every = 1;
  c.sample_every = 0;
  models::run_training(c, tmp.dir.string(), {});
  AnalyzeRequest req;
  req.run_dir = tmp.dir.string();
  auto net = std::make_shared<QuadrantNet>();
  req.features = net;
  req.n = 24;
  req.tsne.iterations = 50;
  req.sensitivity_samples = 2;
  req.saliency_images = 2;
  AnalyzeOutputs out = analyze(req);
  EXPECT_GE(net->calls, 2);
  std::set<std::string> names;
  for (auto& [what, p] : out.files) names.insert(fs::path(p).filename().string());
  for (const char* f : {"embedding-quadrants-pca.png", "embedding-quadrants-tsne.png", "embedding-quadrants.csv",
                        "embedding-discriminator-pca.png", "gradient-flow.png", "gradient-histograms.png",
                        "latent-sensitivity.png", "latent-sweeps.png", "saliency.png"})
    EXPECT_TRUE(names.count(f) && fs::exists(tmp / (std::string("analysis/") + f))) << f;
  // Generated images take the feature network's class: the CSV's generated rows carry classes 0..3
  // equal to the brightest quadrant of the generated images.
  const std::string csv = slurp(tmp / "analysis/embedding-quadrants.csv");
  std::stringstream ss(csv);
  std::string line;
  int generated = 0;
  std::getline(ss, line);
  while (std::getline(ss, line))
    if (line.find(",generated,") != std::string::npos) {
      ++generated;
      const std::string cls = line.substr(line.find(",generated,") + 11, 1);
      EXPECT_TRUE(cls >= "0" && cls <= "3") << line;
    }
  EXPECT_EQ(generated, 24);
  EXPECT_NE(slurp(tmp / "analysis/embedding-quadrants.json").find("quadrants network's most probable class"), std::string::npos);
}
