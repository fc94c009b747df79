#include "models/eval/pca.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace gan::models::eval {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMatrix to_matrix(const Tensor& x, const char* what) {
  GAN_CHECK(x.defined() && x.dim() == 2, what << ": expected a matrix [N, D], got " << (x.defined() ? x.str() : "nothing"));
  const std::vector<double> v = x.to_double_vector();
  return Eigen::Map<const RowMatrix>(v.data(), x.size(0), x.size(1));
}

}  // namespace

Pca fit_pca(const Tensor& x, int64_t k) {
  RowMatrix X = to_matrix(x, "fit_pca");
  const int64_t n = X.rows(), d = X.cols();
  GAN_CHECK(n >= 2, "fit_pca: needs at least 2 rows, got " << n);
  GAN_CHECK(k >= 1 && k <= d, "fit_pca: " << k << " components asked of " << d << "-d data");
  Eigen::RowVectorXd mu = X.colwise().mean();
  X.rowwise() -= mu;
  const double denom = static_cast<double>(n - 1);
  Pca p;
  p.dim = d;
  p.k = k;
  p.mean.assign(mu.data(), mu.data() + d);
  p.total_variance = X.squaredNorm() / denom;
  Eigen::MatrixXd axes(d, k);  // columns
  Eigen::VectorXd vars(k);
  if (d <= n) {
    Eigen::MatrixXd C = (X.transpose() * X) / denom;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(C);
    GAN_CHECK(es.info() == Eigen::Success, "fit_pca: the eigensolver did not converge");
    for (int64_t i = 0; i < k; ++i) {  // eigenvalues ascend
      axes.col(i) = es.eigenvectors().col(d - 1 - i);
      vars(i) = std::max(0.0, es.eigenvalues()(d - 1 - i));
    }
  } else {
    // X = U S V^T: the Gram matrix X X^T = U S^2 U^T, and the axes are V = X^T U S^-1.
    Eigen::MatrixXd G = X * X.transpose();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(G);
    GAN_CHECK(es.info() == Eigen::Success, "fit_pca: the eigensolver did not converge");
    for (int64_t i = 0; i < k; ++i) {
      const double s2 = std::max(0.0, i < n ? es.eigenvalues()(n - 1 - i) : 0.0);
      vars(i) = s2 / denom;
      if (i < n && s2 > 1e-300) {
        axes.col(i) = X.transpose() * es.eigenvectors().col(n - 1 - i) / std::sqrt(s2);
      } else {
        axes.col(i).setZero();  // no variance left: any unit vector orthogonal to the others
        for (int64_t j = 0; j < d; ++j) {
          Eigen::VectorXd e = Eigen::VectorXd::Unit(d, j);
          for (int64_t m = 0; m < i; ++m) e -= axes.col(m).dot(e) * axes.col(m);
          if (e.norm() > 1e-6) {
            axes.col(i) = e.normalized();
            break;
          }
        }
      }
    }
  }
  p.components.resize(static_cast<size_t>(k * d));
  p.variances.assign(vars.data(), vars.data() + k);
  for (int64_t i = 0; i < k; ++i) {
    Eigen::Index arg = 0;
    axes.col(i).cwiseAbs().maxCoeff(&arg);
    const double sign = axes(arg, i) < 0 ? -1.0 : 1.0;
    for (int64_t j = 0; j < d; ++j) p.components[static_cast<size_t>(i * d + j)] = sign * axes(j, i);
  }
  return p;
}

Tensor Pca::transform(const Tensor& x) const {
  RowMatrix X = to_matrix(x, "Pca::transform");
  GAN_CHECK(X.cols() == dim, "Pca::transform: rows of " << X.cols() << " values, the axes have " << dim);
  X.rowwise() -= Eigen::Map<const Eigen::RowVectorXd>(mean.data(), dim);
  Eigen::Map<const RowMatrix> W(components.data(), k, dim);
  RowMatrix Y = X * W.transpose();
  return Tensor::from_vector(std::vector<double>(Y.data(), Y.data() + Y.size()), {X.rows(), k});
}

}  // namespace gan::models::eval
