// Principal component analysis in float64 (Eigen's symmetric eigensolver): the axes of largest
// variance of a set of feature vectors, for the 2-D views of `gan analyze`.
//
// The eigenproblem is solved on the smaller of the covariance matrix (D x D) and the Gram matrix of
// the centred rows (N x N, whose eigenvectors map to the same principal axes), so that a thousand
// 2048-d features cost a 1000 x 1000 problem. Each axis' sign is fixed so that its largest
// coefficient is positive: the same data gives the same picture.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::models::eval {

struct Pca {
  std::vector<double> mean;        // [D]
  std::vector<double> components;  // [K, D] row-major: orthonormal axes by decreasing variance
  std::vector<double> variances;   // [K]: sample variance (1 / (N - 1)) along each axis
  double total_variance = 0;       // the sum of all D variances (trace of the covariance)
  int64_t dim = 0, k = 0;

  // Coordinates of rows x [N, D] on the axes: [N, K] float64 on the CPU.
  Tensor transform(const Tensor& x) const;
  // variances[i] / total_variance
  double explained(int64_t i) const { return total_variance > 0 ? variances.at(static_cast<size_t>(i)) / total_variance : 0; }
};

// The first k principal axes of the rows of x [N, D] (any dtype or device; N >= 2, 1 <= k <= D).
Pca fit_pca(const Tensor& x, int64_t k);

}  // namespace gan::models::eval
