#include "kernels/device_utils.cuh"
#include "kernels/host_device.h"
#include "kernels/loss.cuh"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;


template <class T>
__global__ void bce_kernel(const T* x, const T* targets, T target, int64_t n, T* dlogits, double grad_scale,
                           double* partial) {
  __shared__ double scratch[32];
  double acc = 0;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const T v = x[i];
    const T t = targets ? targets[i] : target;
    // One exp gives both terms, and neither overflows: e = exp(-|x|),
    // bce = max(x, 0) - x t + log1p(e), sigmoid(x) = x >= 0 ? 1 / (1 + e) : e / (1 + e).
    const T e = hd::exp(v < T(0) ? v : -v);
    acc += static_cast<double>((v < T(0) ? T(0) : v) - v * t) + static_cast<double>(hd::log1p(e));
    if (dlogits) {
      const T sig = v >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
      dlogits[i] = static_cast<T>(static_cast<double>(sig - t) * grad_scale);
    }
  }
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

template <class T>
__global__ void sum_partials_kernel(const double* partial, int64_t count, T* out) {
  __shared__ double scratch[32];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) out[0] = static_cast<T>(acc);
}

}  // namespace

size_t bce_with_logits_workspace_bytes(int64_t n) { return grid_for(n, kThreads) * sizeof(double); }

template <class T>
cudaError_t bce_with_logits(const T* logits, const T* targets, double target, int64_t n, T* loss_sum, T* dlogits,
                            double grad_scale, void* workspace, cudaStream_t s) {
  if (!workspace) return cudaErrorInvalidValue;
  const unsigned blocks = grid_for(n, kThreads);
  double* partial = static_cast<double*>(workspace);
  bce_kernel<<<blocks, kThreads, 0, s>>>(logits, targets, static_cast<T>(target), n, dlogits,
                                         grad_scale, partial);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  sum_partials_kernel<<<1, kThreads, 0, s>>>(partial, static_cast<int64_t>(blocks), loss_sum);
  return cudaGetLastError();
}

template cudaError_t bce_with_logits<float>(const float*, const float*, double, int64_t, float*, float*, double, void*,
                                            cudaStream_t);
template cudaError_t bce_with_logits<double>(const double*, const double*, double, int64_t, double*, double*, double,
                                             void*, cudaStream_t);

}  // namespace gan::kernels
