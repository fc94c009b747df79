#include "models/eval/scores.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/core/error.h"
#include "engine/io/npz.h"

namespace gan::models::eval {

namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Eigen's symmetric solver on (A + A^T) / 2: covariances are symmetric up to rounding.
Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> symmetric_eigen(const Eigen::MatrixXd& a) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (a + a.transpose()));
  GAN_CHECK(es.info() == Eigen::Success, "FID: the eigendecomposition of a covariance did not converge");
  return es;
}

// `count` distinct indices of [0, n), a partial Fisher-Yates shuffle driven by a fixed generator:
// the same seed draws the same subsets on every platform.
std::vector<int64_t> draw_subset(int64_t n, int64_t count, std::mt19937_64& rng) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng() % static_cast<uint64_t>(n - i));
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(j)]);
  }
  idx.resize(static_cast<size_t>(count));
  return idx;
}

Eigen::MatrixXd rows(const Eigen::MatrixXd& x, const std::vector<int64_t>& idx) {
  Eigen::MatrixXd out(static_cast<Eigen::Index>(idx.size()), x.cols());
  for (size_t i = 0; i < idx.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = x.row(idx[i]);
  return out;
}

// For each row of `x`, the squared distance to its k-th nearest other row (the row itself, at
// distance 0, is the 0-th), computed in blocks of rows so that memory stays O(block x N).
Eigen::VectorXd knn_radii2(const Eigen::MatrixXd& x, int64_t k) {
  const Eigen::Index n = x.rows();
  const Eigen::VectorXd sq = x.rowwise().squaredNorm();
  Eigen::VectorXd radii(n);
  constexpr Eigen::Index kBlock = 512;
  for (Eigen::Index start = 0; start < n; start += kBlock) {
    const Eigen::Index b = std::min(kBlock, n - start);
    Eigen::MatrixXd d2 = (-2.0 * x.middleRows(start, b) * x.transpose()).rowwise() + sq.transpose();
    d2.colwise() += sq.segment(start, b);
    for (Eigen::Index i = 0; i < b; ++i) {
      std::vector<double> row(static_cast<size_t>(n));
      for (Eigen::Index j = 0; j < n; ++j) row[static_cast<size_t>(j)] = std::max(0.0, d2(i, j));
      row[static_cast<size_t>(start + i)] = 0;  // itself, exactly
      std::nth_element(row.begin(), row.begin() + k, row.end());
      radii(start + i) = row[static_cast<size_t>(k)];
    }
  }
  return radii;
}

// The share of rows of `query` within the radius of some row of `ref`: ||q - r||^2 <= radius_r^2.
double share_inside(const Eigen::MatrixXd& ref, const Eigen::VectorXd& radii2, const Eigen::MatrixXd& query) {
  const Eigen::VectorXd sq_ref = ref.rowwise().squaredNorm(), sq_q = query.rowwise().squaredNorm();
  int64_t inside = 0;
  constexpr Eigen::Index kBlock = 512;
  for (Eigen::Index start = 0; start < query.rows(); start += kBlock) {
    const Eigen::Index b = std::min(kBlock, query.rows() - start);
    Eigen::MatrixXd d2 = (-2.0 * query.middleRows(start, b) * ref.transpose()).rowwise() + sq_ref.transpose();
    d2.colwise() += sq_q.segment(start, b);
    for (Eigen::Index i = 0; i < b; ++i)
      inside += ((d2.row(i).transpose().array().max(0.0)) <= radii2.array()).any() ? 1 : 0;
  }
  return static_cast<double>(inside) / static_cast<double>(query.rows());
}

}  // namespace

Eigen::MatrixXd to_matrix(const Tensor& features) {
  GAN_CHECK(features.defined() && features.dim() == 2,
            "features: expected a [N, d] tensor, got " << (features.defined() ? features.str() : "none"));
  Tensor h = features.detach().cpu().to(DType::Float64);
  return Eigen::Map<const RowMajor>(static_cast<const double*>(h.raw_data()), h.size(0), h.size(1));
}

Stats feature_stats(const Tensor& features) { return feature_stats(to_matrix(features)); }

Stats feature_stats(const Eigen::MatrixXd& x) {
  GAN_CHECK(x.rows() >= 2, "statistics: need at least 2 feature vectors, got " << x.rows());
  Stats s;
  s.count = x.rows();
  s.mu = x.colwise().mean().transpose();
  const Eigen::MatrixXd centred = x.rowwise() - s.mu.transpose();
  s.sigma = centred.transpose() * centred / static_cast<double>(x.rows() - 1);
  return s;
}

double frechet_distance(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& mu2,
                        const Eigen::MatrixXd& s2) {
  GAN_CHECK(mu1.size() == mu2.size() && s1.rows() == mu1.size() && s1.cols() == mu1.size() &&
                s2.rows() == mu2.size() && s2.cols() == mu2.size(),
            "FID: statistics of different dimensions (" << mu1.size() << " and " << mu2.size() << ")");
  // tr((S1 S2)^(1/2)) = tr((S1^(1/2) S2 S1^(1/2))^(1/2)): S1 S2 and S1^(1/2) S2 S1^(1/2) have the
  // same eigenvalues, and the second matrix is symmetric positive semi-definite, so two symmetric
  // eigendecompositions give the trace without the general (Schur) square root that pytorch-fid's
  // scipy sqrtm takes, which can turn complex or singular for rank-deficient covariances (its eps
  // fallback). Rounding leaves eigenvalues of PSD matrices slightly negative (around -1e-12 x the
  // largest); those are clamped to 0 before the square roots, which changes the result by less
  // than rounding does.
  auto e1 = symmetric_eigen(s1);
  const Eigen::VectorXd r1 = e1.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  const Eigen::MatrixXd sqrt1 = e1.eigenvectors() * r1.asDiagonal() * e1.eigenvectors().transpose();
  auto em = symmetric_eigen(sqrt1 * s2 * sqrt1);
  const double tr_covmean = em.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  return (mu1 - mu2).squaredNorm() + s1.trace() + s2.trace() - 2.0 * tr_covmean;
}

MeanStd kid(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, const KidOptions& o) {
  GAN_CHECK(real.cols() == fake.cols(), "KID: features of different dimensions (" << real.cols() << " and "
                                                                                << fake.cols() << ")");
  GAN_CHECK(o.subsets >= 1, "KID: the number of subsets must be positive, got " << o.subsets);
  const int64_t m = std::min<int64_t>({o.subset_size, real.rows(), fake.rows()});
  GAN_CHECK(m >= 2, "KID: needs at least 2 samples in each set, got " << real.rows() << " and " << fake.rows());
  const double d = static_cast<double>(real.cols()), md = static_cast<double>(m);
  auto kernel = [d](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) -> Eigen::MatrixXd {
    return ((a * b.transpose()).array() / d + 1.0).cube().matrix();
  };
  // The subsets are drawn first, in order, so that the estimates do not depend on how the loop
  // below is shared out; each subset's small products then run on one thread (Eigen does not
  // split a product inside a parallel region), the subsets side by side.
  std::mt19937_64 rng(o.seed);
  std::vector<std::vector<int64_t>> xs, ys;
  for (int64_t s = 0; s < o.subsets; ++s) {
    xs.push_back(draw_subset(real.rows(), m, rng));
    ys.push_back(draw_subset(fake.rows(), m, rng));
  }
  std::vector<double> est(static_cast<size_t>(o.subsets));
#pragma omp parallel for schedule(dynamic)
  for (int64_t s = 0; s < o.subsets; ++s) {
    const Eigen::MatrixXd x = rows(real, xs[static_cast<size_t>(s)]), y = rows(fake, ys[static_cast<size_t>(s)]);
    const Eigen::MatrixXd kxx = kernel(x, x), kyy = kernel(y, y), kxy = kernel(x, y);
    // Unbiased: the diagonals k(x_i, x_i) are left out of the within-set means.
    est[static_cast<size_t>(s)] = (kxx.sum() - kxx.trace()) / (md * (md - 1)) +
                                  (kyy.sum() - kyy.trace()) / (md * (md - 1)) - 2.0 * kxy.sum() / (md * md);
  }
  MeanStd r;
  for (double v : est) r.mean += v;
  r.mean /= static_cast<double>(est.size());
  for (double v : est) r.std += (v - r.mean) * (v - r.mean);
  r.std = std::sqrt(r.std / static_cast<double>(est.size()));
  return r;
}

MeanStd inception_score(const Eigen::MatrixXd& p, int64_t splits) {
  GAN_CHECK(splits >= 1, "IS: the number of splits must be positive, got " << splits);
  GAN_CHECK(p.rows() >= splits, "IS: " << p.rows() << " samples cannot make " << splits << " splits");
  const int64_t per = p.rows() / splits;
  std::vector<double> scores;
  for (int64_t s = 0; s < splits; ++s) {
    const Eigen::MatrixXd part = p.middleRows(s * per, per);
    const Eigen::VectorXd py = part.colwise().mean().transpose();
    double kl = 0;
    for (Eigen::Index i = 0; i < part.rows(); ++i)
      for (Eigen::Index c = 0; c < part.cols(); ++c) {
        const double q = part(i, c);
        if (q > 0) kl += q * (std::log(q) - std::log(py(c)));
      }
    scores.push_back(std::exp(kl / static_cast<double>(per)));
  }
  MeanStd r;
  for (double v : scores) r.mean += v;
  r.mean /= static_cast<double>(scores.size());
  for (double v : scores) r.std += (v - r.mean) * (v - r.mean);
  r.std = std::sqrt(r.std / static_cast<double>(scores.size()));
  return r;
}

PrecisionRecall precision_recall(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, int64_t k) {
  GAN_CHECK(real.cols() == fake.cols(), "precision/recall: features of different dimensions ("
                                            << real.cols() << " and " << fake.cols() << ")");
  GAN_CHECK(k >= 1 && real.rows() > k && fake.rows() > k,
            "precision/recall: k = " << k << " needs more than k samples in each set, got " << real.rows() << " and "
                                     << fake.rows());
  PrecisionRecall r;
  r.precision = share_inside(real, knn_radii2(real, k), fake);
  r.recall = share_inside(fake, knn_radii2(fake, k), real);
  return r;
}

void save_stats(const std::string& path, const Stats& s, const Tensor& features) {
  const int64_t d = s.dim();
  std::vector<double> mu(s.mu.data(), s.mu.data() + d), sigma(static_cast<size_t>(d * d));
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) sigma[static_cast<size_t>(i * d + j)] = s.sigma(i, j);
  io::NpzWriter w;
  w.add("mu", Tensor::from_vector(mu, {d})).add("sigma", Tensor::from_vector(sigma, {d, d}));
  w.add("n", Tensor::scalar(static_cast<double>(s.count), DType::Float64));
  if (!s.feature_net.empty()) w.add_string("feature_net", s.feature_net);
  if (features.defined()) {
    GAN_CHECK(features.dim() == 2 && features.size(1) == d,
              path << ": features " << features.str() << " do not match statistics of dimension " << d);
    w.add("features", features.detach().cpu().to(DType::Float32));
  }
  w.save(path);
}

Stats load_stats(const std::string& path, int64_t expected_dim) {
  io::NpzFile f = io::load_npz(path);
  Tensor mu = f.get("mu"), sigma = f.get("sigma");
  GAN_CHECK(mu.dim() == 1, path << ": mu should be a vector, got shape " << shape_str(mu.shape()));
  const int64_t d = mu.size(0);
  GAN_CHECK(sigma.dim() == 2 && sigma.size(0) == d && sigma.size(1) == d,
            path << ": sigma " << shape_str(sigma.shape()) << " does not match mu of dimension " << d);
  Stats s;
  if (f.has("feature_net")) s.feature_net = f.get_string("feature_net");
  GAN_CHECK(expected_dim <= 0 || d == expected_dim,
            path << ": statistics of dimension " << d << (s.feature_net.empty() ? "" : " (" + s.feature_net + " features)")
                 << ", but the feature network gives " << expected_dim << "-d features");
  s.mu = to_matrix(mu.reshape({1, d})).row(0).transpose();
  s.sigma = to_matrix(sigma);
  if (f.has("n")) s.count = static_cast<int64_t>(f.get("n").to(DType::Float64).item());
  return s;
}

Tensor load_stats_features(const std::string& path) {
  io::NpzFile f = io::load_npz(path);
  return f.has("features") ? f.get("features") : Tensor();
}

}  // namespace gan::models::eval
