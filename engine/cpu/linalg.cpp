// CPU matrix products through Eigen, mapped over the tensors' own buffers (no copies).
#include "engine/backend/linalg.h"

#include <Eigen/Dense>

namespace gan::cpu {

template <class T>
static void gemm(const Tensor& a, bool ta, const Tensor& b, bool tb, Tensor& out, double beta) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Mat> A(a.data<T>(), a.shape()[0], a.shape()[1]);
  Eigen::Map<const Mat> B(b.data<T>(), b.shape()[0], b.shape()[1]);
  Eigen::Map<Mat> C(out.data<T>(), out.shape()[0], out.shape()[1]);
  if (beta == 0) C.setZero();
  else if (beta != 1) C *= static_cast<T>(beta);
  if (!ta && !tb) C.noalias() += A * B;
  else if (ta && !tb) C.noalias() += A.transpose() * B;
  else if (!ta && tb) C.noalias() += A * B.transpose();
  else C.noalias() += A.transpose() * B.transpose();
}

void matmul(const Tensor& a, bool ta, const Tensor& b, bool tb, Tensor& out, double beta) {
  GAN_DISPATCH_FLOAT(a.dtype(), "matmul", [&] { gemm<scalar_t>(a, ta, b, tb, out, beta); });
}

}  // namespace gan::cpu
