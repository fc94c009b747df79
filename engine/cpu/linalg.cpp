// CPU matrix products over the tensors' own buffers (no copies), by the backend's one GEMM.
#include "engine/backend/linalg.h"

#include "engine/cpu/gemm.h"

namespace gan::cpu {

void matmul(const Tensor& a, bool ta, const Tensor& b, bool tb, Tensor& out, double beta) {
  GAN_DISPATCH_FLOAT(a.dtype(), "matmul", [&] {
    using T = scalar_t;
    const int64_t M = out.shape()[0], N = out.shape()[1], K = ta ? a.shape()[0] : a.shape()[1];
    gemm(ta, tb, M, N, K, a.data<T>(), b.data<T>(), static_cast<T>(beta), out.data<T>());
  });
}

}  // namespace gan::cpu
