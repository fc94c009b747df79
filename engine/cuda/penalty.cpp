// CUDA WGAN-GP primitives (kernels/penalty.cu).
#include "engine/backend/penalty.h"

#include "engine/cuda/launch_utils.h"
#include "kernels/penalty.cuh"

namespace gan::cuda {

namespace {
int64_t per_sample(const Tensor& t) { return t.shape()[0] ? t.numel() / t.shape()[0] : 0; }
}  // namespace

void interpolate_per_sample(const Tensor& real, const Tensor& fake, const Tensor& eps, Tensor& out) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(out.dtype(), "interpolate", [&] {
    GAN_CUDA_CHECK(kernels::interpolate_per_sample<scalar_t>(real.data<scalar_t>(), fake.data<scalar_t>(),
                                                             eps.data<scalar_t>(), out.data<scalar_t>(),
                                                             real.shape()[0], per_sample(real), on.stream));
  });
}

void gradient_penalty_forward(const Tensor& g, double lambda, Tensor& norms, Tensor& penalty) {
  OnDevice on(g);
  const int64_t N = g.shape()[0], M = per_sample(g);
  Workspace ws(kernels::gradient_penalty_workspace_bytes(N, M), on.device);
  GAN_DISPATCH_FLOAT(g.dtype(), "gradient_penalty", [&] {
    GAN_CUDA_CHECK(kernels::gradient_penalty_forward<scalar_t>(g.data<scalar_t>(), N, M, lambda, norms.data<scalar_t>(),
                                                               penalty.data<scalar_t>(), ws.get(), on.stream));
  });
}

void gradient_penalty_backward(const Tensor& g, const Tensor& norms, const Tensor& dpenalty, double lambda, Tensor& dg) {
  OnDevice on(g);
  GAN_DISPATCH_FLOAT(g.dtype(), "gradient_penalty_backward", [&] {
    GAN_CUDA_CHECK(kernels::gradient_penalty_backward<scalar_t>(g.data<scalar_t>(), norms.data<scalar_t>(),
                                                                dpenalty.data<scalar_t>(), g.shape()[0], per_sample(g),
                                                                lambda, dg.data<scalar_t>(), on.stream));
  });
}

}  // namespace gan::cuda
