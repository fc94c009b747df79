// FID, KID, IS and precision/recall (models/eval/scores.h) against independent references: cases
// with closed-form answers, and fixed feature sets whose scores tests/data/eval/make_fixtures.py
// computed with numpy/scipy (pytorch-fid's sqrtm formula, the KID and IS formulas, brute-force
// k-NN radii).
#include <Eigen/Dense>
#include <cmath>
#include <filesystem>
#include <random>

#include "engine/io/npz.h"
#include "models/eval/scores.h"
#include "tests/eval_helpers.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::models::eval;

namespace {

Eigen::MatrixXd gaussian(int64_t n, int64_t d, uint64_t seed, double shift = 0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  Eigen::MatrixXd x(n, d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) x(i, j) = nd(rng) + shift;
  return x;
}

double scalar(const io::NpzFile& f, const char* key) { return f.get(key).item(); }

io::NpzFile reference() { return io::load_npz(std::string(GAN_SOURCE_DIR) + "/tests/data/eval/reference.npz"); }

}  // namespace

TEST(EvalStats, MeanAndCovarianceAsNumpyCov) {
  io::NpzFile f = reference();
  Stats s = feature_stats(f.get("real"));
  Eigen::MatrixXd mu = to_matrix(f.get("mu_real").reshape({1, -1})), sigma = to_matrix(f.get("sigma_real"));
  EXPECT_EQ(s.count, 200);
  EXPECT_LT((s.mu - mu.row(0).transpose()).norm(), 1e-12);
  EXPECT_LT((s.sigma - sigma).norm(), 1e-12);  // numpy.cov divides by N - 1
}

TEST(EvalFid, IdenticalStatisticsGiveZero) {
  Stats s = feature_stats(gaussian(300, 12, 1));
  EXPECT_NEAR(fid(s, s), 0.0, 1e-9);
  // Rank-deficient covariances (fewer samples than dimensions), where a general matrix square
  // root struggles: still 0, up to the sqrt(rounding) that a square root near a zero eigenvalue
  // turns an eps-sized error into (7 null directions x sqrt(1e-16 x scale^2)).
  Stats low = feature_stats(gaussian(5, 12, 2));
  EXPECT_NEAR(fid(low, low), 0.0, 1e-7 * low.sigma.trace());
}

TEST(EvalFid, ClosedFormForGaussians) {
  const int d = 6;
  Eigen::VectorXd mu1 = Eigen::VectorXd::LinSpaced(d, -1, 1), mu2 = Eigen::VectorXd::Constant(d, 0.25);
  Eigen::VectorXd a(d), b(d);
  a << 1.0, 4.0, 0.25, 2.0, 9.0, 0.0;  // the last variance is 0: a singular covariance
  b << 4.0, 1.0, 0.25, 0.5, 1.0, 3.0;
  // Diagonal (commuting) covariances: ||mu1 - mu2||^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
  double expected = (mu1 - mu2).squaredNorm();
  for (int i = 0; i < d; ++i) expected += std::pow(std::sqrt(a(i)) - std::sqrt(b(i)), 2);
  EXPECT_NEAR(frechet_distance(mu1, a.asDiagonal().toDenseMatrix(), mu2, b.asDiagonal().toDenseMatrix()), expected, 1e-9);
  // c I against a rotated diagonal covariance: tr((c S)^(1/2)) = sqrt(c) sum sqrt(b_i).
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(gaussian(d, d, 3));
  Eigen::MatrixXd q = qr.householderQ();
  Eigen::MatrixXd s2 = q * b.asDiagonal() * q.transpose();
  const double c = 2.5;
  double tr_sqrt = 0;
  for (int i = 0; i < d; ++i) tr_sqrt += std::sqrt(c * b(i));
  EXPECT_NEAR(frechet_distance(mu1, c * Eigen::MatrixXd::Identity(d, d), mu1, s2), c * d + b.sum() - 2 * tr_sqrt, 1e-9);
}

TEST(EvalFid, MatchesPytorchFidFormula) {
  io::NpzFile f = reference();
  EXPECT_NEAR(fid(feature_stats(f.get("real")), feature_stats(f.get("fake"))), scalar(f, "fid"), 1e-8);
  EXPECT_THROW_MSG(fid(feature_stats(gaussian(10, 3, 1)), feature_stats(gaussian(10, 4, 1))), {"3", "4"});
}

TEST(EvalKid, MatchesTheUnbiasedEstimate) {
  io::NpzFile f = reference();
  Eigen::MatrixXd real = to_matrix(f.get("real")).topRows(150), fake = to_matrix(f.get("fake"));
  // Subsets as large as the sets: each holds every sample, so no random draw changes the value.
  KidOptions o;
  o.subsets = 3;
  o.subset_size = 100000;
  MeanStd k = kid(real, fake, o);
  EXPECT_NEAR(k.mean, scalar(f, "kid"), 1e-9 * std::abs(scalar(f, "kid")));
  EXPECT_NEAR(k.std, 0.0, 1e-12);
  // Identical finite sets: the unbiased estimate is slightly negative (1'K1 <= m tr K).
  MeanStd same = kid(real, real, o);
  EXPECT_LT(same.mean, 0.0);
  EXPECT_GT(same.mean, -0.1 * k.mean);
}

TEST(EvalKid, SubsetsAreSeededAndSpread) {
  Eigen::MatrixXd a = gaussian(400, 6, 11), b = gaussian(400, 6, 12, 0.5);
  KidOptions o;
  o.subsets = 20;
  o.subset_size = 100;
  MeanStd k1 = kid(a, b, o), k2 = kid(a, b, o);
  EXPECT_EQ(k1.mean, k2.mean);  // the same seed draws the same subsets
  EXPECT_GT(k1.std, 0.0);       // different subsets give different estimates
  o.seed = 1;
  MeanStd k3 = kid(a, b, o);
  EXPECT_NE(k3.mean, k1.mean);
  // The subset estimates average to about the whole-set one (unbiased): within 3 standard errors.
  o.subset_size = 400;
  o.subsets = 1;
  const double whole = kid(a, b, o).mean;
  EXPECT_NEAR(k1.mean, whole, 3 * k1.std / std::sqrt(20.0) + 1e-3);
  // Far apart sets score far higher than matching ones.
  EXPECT_GT(kid(a, b, o).mean, 20 * std::abs(kid(a, gaussian(400, 6, 13), o).mean));
}

TEST(EvalInceptionScore, UniformAndOneHotPredictions) {
  Eigen::MatrixXd uniform = Eigen::MatrixXd::Constant(100, 10, 0.1);
  MeanStd u = inception_score(uniform);
  EXPECT_NEAR(u.mean, 1.0, 1e-12);
  EXPECT_NEAR(u.std, 0.0, 1e-12);
  // K = 7 classes each used equally within every split, one-hot: exp(log K) = K.
  const int k = 7;
  Eigen::MatrixXd onehot = Eigen::MatrixXd::Zero(10 * 14, k);
  for (int i = 0; i < 10 * 14; ++i) onehot(i, i % k) = 1.0;
  MeanStd o = inception_score(onehot);
  EXPECT_NEAR(o.mean, 7.0, 1e-9);
  EXPECT_NEAR(o.std, 0.0, 1e-9);
  EXPECT_THROW_MSG(inception_score(Eigen::MatrixXd::Constant(5, 3, 1.0 / 3)), {"5 samples", "10 splits"});
}

TEST(EvalInceptionScore, MatchesTheOriginalFormula) {
  io::NpzFile f = reference();
  MeanStd s = inception_score(to_matrix(f.get("probs")), 10);
  EXPECT_NEAR(s.mean, scalar(f, "is_mean"), 1e-10);
  EXPECT_NEAR(s.std, scalar(f, "is_std"), 1e-10);
}

TEST(EvalPrecisionRecall, IdenticalAndDisjointSets) {
  Eigen::MatrixXd a = gaussian(300, 5, 21);
  PrecisionRecall same = precision_recall(a, a);
  EXPECT_EQ(same.precision, 1.0);
  EXPECT_EQ(same.recall, 1.0);
  PrecisionRecall far = precision_recall(a, gaussian(300, 5, 22, 100.0));
  EXPECT_EQ(far.precision, 0.0);
  EXPECT_EQ(far.recall, 0.0);
  EXPECT_THROW_MSG(precision_recall(a.topRows(3), a), {"k = 3"});
}

TEST(EvalPrecisionRecall, MatchesBruteForceReference) {
  io::NpzFile f = reference();
  PrecisionRecall pr = precision_recall(to_matrix(f.get("real")), to_matrix(f.get("fake")), 3);
  EXPECT_DOUBLE_EQ(pr.precision, scalar(f, "precision"));
  EXPECT_DOUBLE_EQ(pr.recall, scalar(f, "recall"));
}

TEST(EvalStats, FileRoundTripAndWrongDimension) {
  Stats s = feature_stats(gaussian(50, 4, 31));
  s.feature_net = "digits";
  const std::string path = (std::filesystem::temp_directory_path() / "gan_eval_stats_test.npz").string();
  save_stats(path, s);
  Stats t = load_stats(path, 4);
  EXPECT_EQ(t.mu, s.mu);
  EXPECT_EQ(t.sigma, s.sigma);
  EXPECT_EQ(t.count, 50);
  EXPECT_EQ(t.feature_net, "digits");
  // The keys pytorch-fid reads, in float64.
  io::NpzFile f = io::load_npz(path);
  EXPECT_EQ(f.get("mu").dtype(), DType::Float64);
  EXPECT_EQ(f.get("sigma").shape(), (Shape{4, 4}));
  EXPECT_THROW_MSG(load_stats(path, 128), {path, "dimension 4", "128"});
  std::filesystem::remove(path);
}
