#include "kernels/device_utils.cuh"
#include "kernels/penalty.cuh"
#include "kernels/reduction.cuh"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void interpolate_kernel(const T* real, const T* fake, const T* eps, T* out, int64_t N, int64_t M) {
  const int64_t n_total = N * M;
  for (int64_t i = global_thread(); i < n_total; i += grid_threads()) {
    const T e = eps[i / M];
    out[i] = e * real[i] + (T(1) - e) * fake[i];
  }
}

// One block: penalty = lambda / N * sum_n (norms[n] - 1)^2, summed in a fixed order.
template <class T>
__global__ void penalty_kernel(const T* norms, int64_t N, double lambda, T* penalty) {
  __shared__ double scratch[32];
  double acc = 0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    const double d = static_cast<double>(norms[n]) - 1.0;
    acc += d * d;
  }
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) penalty[0] = static_cast<T>(lambda * acc / static_cast<double>(N));
}

template <class T>
__global__ void penalty_backward_kernel(const T* g, const T* norms, const T* dpenalty, int64_t N, int64_t M,
                                        double lambda, T* dg) {
  const double scale = static_cast<double>(dpenalty[0]) * lambda * 2.0 / static_cast<double>(N);
  const int64_t n_total = N * M;
  for (int64_t i = global_thread(); i < n_total; i += grid_threads()) {
    const double norm = static_cast<double>(norms[i / M]);
    const double coef = norm == 0.0 ? 0.0 : scale * (norm - 1.0) / norm;
    dg[i] = static_cast<T>(coef) * g[i];
  }
}

}  // namespace

template <class T>
cudaError_t interpolate_per_sample(const T* real, const T* fake, const T* eps, T* out, int64_t N, int64_t M,
                                   cudaStream_t s) {
  if (N * M <= 0) return cudaSuccess;
  interpolate_kernel<<<grid_for(N * M, kThreads), kThreads, 0, s>>>(real, fake, eps, out, N, M);
  return cudaGetLastError();
}

size_t gradient_penalty_workspace_bytes(int64_t N, int64_t M) {
  return reduce_workspace_bytes(make_rows_reduce_plan(N, M));
}

template <class T>
cudaError_t gradient_penalty_forward(const T* g, int64_t N, int64_t M, double lambda, T* norms, T* penalty,
                                     void* workspace, cudaStream_t s) {
  cudaError_t e = reduce(g, norms, make_rows_reduce_plan(N, M), ReduceKind::SumSquareSqrt, 0.0, workspace, s);
  if (e != cudaSuccess) return e;
  penalty_kernel<<<1, kThreads, 0, s>>>(norms, N, lambda, penalty);
  return cudaGetLastError();
}

template <class T>
cudaError_t gradient_penalty_backward(const T* g, const T* norms, const T* dpenalty, int64_t N, int64_t M,
                                      double lambda, T* dg, cudaStream_t s) {
  if (N * M <= 0) return cudaSuccess;
  penalty_backward_kernel<<<grid_for(N * M, kThreads), kThreads, 0, s>>>(g, norms, dpenalty, N, M, lambda, dg);
  return cudaGetLastError();
}

#define GAN_INSTANTIATE(T)                                                                                        \
  template cudaError_t interpolate_per_sample<T>(const T*, const T*, const T*, T*, int64_t, int64_t, cudaStream_t); \
  template cudaError_t gradient_penalty_forward<T>(const T*, int64_t, int64_t, double, T*, T*, void*, cudaStream_t); \
  template cudaError_t gradient_penalty_backward<T>(const T*, const T*, const T*, int64_t, int64_t, double, T*,     \
                                                    cudaStream_t);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels
