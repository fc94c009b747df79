// WGAN-GP kernels: per-sample interpolation, and the gradient penalty with its per-sample norms fused
// (norms and penalty in one call, no host round trip).
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace gan::kernels {

// out[n, m] = eps[n] * real[n, m] + (1 - eps[n]) * fake[n, m] over [N, M].
template <class T>
cudaError_t interpolate_per_sample(const T* real, const T* fake, const T* eps, T* out, int64_t N, int64_t M,
                                   cudaStream_t stream);

size_t gradient_penalty_workspace_bytes(int64_t N, int64_t M);
// norms[n] = ||g[n, :]||, penalty[0] = lambda * mean_n (norms[n] - 1)^2 over g viewed as [N, M].
template <class T>
cudaError_t gradient_penalty_forward(const T* g, int64_t N, int64_t M, double lambda, T* norms, T* penalty,
                                     void* workspace, cudaStream_t stream);
// dg[n, :] = dpenalty[0] * lambda * 2 (norms[n] - 1) / (N norms[n]) * g[n, :], and 0 for a sample whose
// norm is 0 (the norm's subgradient there, as torch's norm backward takes it).
template <class T>
cudaError_t gradient_penalty_backward(const T* g, const T* norms, const T* dpenalty, int64_t N, int64_t M,
                                      double lambda, T* dg, cudaStream_t stream);

}  // namespace gan::kernels
