// Exact t-SNE (van der Maaten & Hinton 2008; the optimisation settings of van der Maaten 2014):
// a 2-D map of high-dimensional points that keeps neighbours together. O(N^2) time and memory per
// iteration: meant for up to a few thousand points (`gan analyze` embeds about a thousand).
//
//   affinities  p_{j|i} = exp(-beta_i d_ij^2) / sum_k exp(-beta_i d_ik^2), beta_i found by binary
//               search so that the entropy of row i is log(perplexity) (natural log);
//               p_ij = (p_{j|i} + p_{i|j}) / 2N
//   map         q_ij = (1 + |y_i - y_j|^2)^-1 / sum_{k != l} (1 + |y_k - y_l|^2)^-1
//   descent     dC/dy_i = 4 sum_j (p_ij - q_ij)(y_i - y_j)(1 + |y_i - y_j|^2)^-1 on C = KL(P || Q);
//               P multiplied by the early exaggeration for the first iterations, momentum 0.5
//               then 0.8, per-coordinate gains (+0.2 where the gradient's sign flips against the
//               last update, x0.8 where it does not, at least 0.01), the map re-centred each step
// The start is N(0, 1e-4) per coordinate from the seed, so a seed gives the same map every time.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::models::eval {

struct TsneOptions {
  double perplexity = 30;
  int64_t iterations = 1000;
  double early_exaggeration = 12;
  int64_t exaggeration_iterations = 250;  // also when the momentum rises from 0.5 to 0.8
  double learning_rate = 0;               // 0: max(N / early_exaggeration, 50) (Belkina et al. 2019)
  int64_t dims = 2;
  uint64_t seed = 0;
};

// The calibrated conditional affinities of N points given their squared distances [N x N]
// (row-major; the diagonal is ignored).
struct Affinities {
  int64_t n = 0;
  std::vector<double> p;        // [N x N]: row i is p_{.|i} (zero on the diagonal; rows sum to 1)
  std::vector<double> beta;     // [N]: 1 / (2 sigma_i^2)
  std::vector<double> entropy;  // [N]: the entropy of row i in nats, as reached by the search
};
// Throws when perplexity is not within (1, N - 1).
Affinities conditional_affinities(const std::vector<double>& squared_distances, int64_t n, double perplexity);

// Squared Euclidean distances between the rows of x [N, D]: [N x N] row-major.
std::vector<double> squared_distances(const Tensor& x);

struct TsneResult {
  Tensor embedding;              // [N, dims] float64 on the CPU
  double kl = 0;                 // KL(P || Q) of the final map
  std::vector<double> entropy;   // the calibrated rows' entropies (nats)
};
TsneResult tsne(const Tensor& x, const TsneOptions& opt = {});

}  // namespace gan::models::eval
