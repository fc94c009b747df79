// The scores of generated images against real ones, computed from feature vectors (FID, KID,
// precision/recall) and class probabilities (Inception Score) of a feature network
// (models/eval/feature_net.h). Everything here runs in float64 on the CPU; features are
// [N, d] tensors (any float dtype, CPU).
//
//   FID  (Heusel et al. 2017): ||mu_r - mu_g||^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2)) of the
//        Gaussians fitted to the two feature sets. 0 for identical statistics; lower is better.
//   KID  (Binkowski et al. 2018): the unbiased estimate of the squared MMD with the kernel
//        k(x, y) = (x.y / d + 1)^3, averaged over random subsets. Unbiased, so it can be slightly
//        negative for matching sets; lower is better.
//   IS   (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))) in splits. 1 for identical
//        predictions, K for K classes each confidently and equally predicted; higher is better.
//   Precision / recall (Kynkaenniemi et al. 2019): the share of generated samples inside the
//        real manifold (union of balls reaching each real sample's k-th nearest real
//        neighbour), and the share of real samples inside the generated manifold.
#pragma once
#include <Eigen/Dense>
#include <cstdint>
#include <string>

#include "engine/core/tensor.h"

namespace gan::models::eval {

// Mean and covariance of a feature set (covariance as numpy.cov(rowvar=False): divided by N - 1).
struct Stats {
  Eigen::VectorXd mu;
  Eigen::MatrixXd sigma;
  int64_t count = 0;        // samples they were computed from (0 when unknown)
  std::string feature_net;  // the network's name, when known
  int64_t dim() const { return mu.size(); }
};

Eigen::MatrixXd to_matrix(const Tensor& features);  // [N, d] -> N x d doubles (throws naming the shape)
Stats feature_stats(const Tensor& features);
Stats feature_stats(const Eigen::MatrixXd& features);

// FID of two Gaussians. Throws when their dimensions differ.
double frechet_distance(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& sigma1, const Eigen::VectorXd& mu2,
                        const Eigen::MatrixXd& sigma2);
inline double fid(const Stats& a, const Stats& b) { return frechet_distance(a.mu, a.sigma, b.mu, b.sigma); }

struct MeanStd {
  double mean = 0, std = 0;
};

struct KidOptions {
  int64_t subsets = 100;       // as the KID paper's code and torch-fidelity
  int64_t subset_size = 1000;  // capped at the smaller set's size
  uint64_t seed = 0;           // which subsets are drawn
};
// KID: mean and (population) standard deviation over the subsets' MMD^2 estimates.
MeanStd kid(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, const KidOptions& o = {});

// IS of class probabilities [N, K]: the N rows cut in `splits` consecutive parts of N / splits
// rows (the remainder left out, as the original code does); the mean and (population) standard
// deviation of exp(mean KL) over the parts. 0 log 0 counts as 0.
MeanStd inception_score(const Eigen::MatrixXd& probs, int64_t splits = 10);

struct PrecisionRecall {
  double precision = 0, recall = 0;
};
PrecisionRecall precision_recall(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, int64_t k = 3);

// Statistics files (.npz): `mu` [d] and `sigma` [d, d] in float64, exactly the keys pytorch-fid
// and clean-fid write and read, plus `feature_net` (a string) and `n` (the sample count), which
// those tools ignore. `features` (float32 [N, d]), when given, is stored too: KID and precision/
// recall need the samples themselves.
void save_stats(const std::string& path, const Stats& s, const Tensor& features = Tensor());
// Reads a statistics file (ours or pytorch-fid's). With expected_dim > 0 a file of another
// dimension is refused naming the file, the dimension found and the one expected.
Stats load_stats(const std::string& path, int64_t expected_dim = 0);
// The `features` a statistics file stores, or an undefined tensor when it has none.
Tensor load_stats_features(const std::string& path);

}  // namespace gan::models::eval
