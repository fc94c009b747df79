#include "kernels/class_ids.h"
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

template <class T>
__device__ __forceinline__ T warp_max(T v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = hd::max(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

template <class T>
__device__ __forceinline__ T warp_sum_t(T v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// One warp per row: pass 1 the row max and the sum of logits, pass 2 the sum of exp(x - max),
// pass 3 writes dlogits (the re-reads of a row come from L1/L2). Whole warps run the loop the
// same number of times, so the shuffles always see all 32 lanes.
template <class T, class I>
__global__ void softmax_xent_kernel(const T* x, const I* targets, int64_t n, int64_t k, double smoothing,
                                    T* loss_rows, T* dlogits, double grad_scale, double* partial) {
  __shared__ double scratch[32];
  const int lane = threadIdx.x & 31;
  const int64_t warps = grid_threads() >> 5;
  const T off = targets ? static_cast<T>(smoothing / static_cast<double>(k)) : T(0);  // q_j off the target
  const T hit = targets ? static_cast<T>(1.0 - smoothing) : T(0);                      // q_t - off
  double acc = 0;  // this warp's losses (lane 0)
  for (int64_t row = global_thread() >> 5; row < n; row += warps) {
    const T* xr = x + row * k;
    const int64_t t = targets ? hd::class_id(targets[row], k) : 0;
    T m = -std::numeric_limits<T>::infinity(), sx = 0;
    for (int64_t j = lane; j < k; j += 32) {
      const T v = xr[j];
      m = hd::max(m, v);
      sx += v;
    }
    m = warp_max(m);
    sx = warp_sum_t(sx);
    T se = 0;
    for (int64_t j = lane; j < k; j += 32) se += hd::exp(xr[j] - m);
    se = warp_sum_t(se);
    if (lane == 0 && (loss_rows || partial)) {
      const T l = t < 0 ? hd::quiet_nan<T>() : m + hd::log(se) - hit * xr[t] - off * sx;
      if (loss_rows) loss_rows[row] = l;
      acc += static_cast<double>(l);
    }
    if (dlogits) {
      T* dr = dlogits + row * k;
      const T inv = T(1) / se;
      for (int64_t j = lane; j < k; j += 32)
        dr[j] = t < 0 ? hd::quiet_nan<T>()
                      : static_cast<T>(static_cast<double>(hd::exp(xr[j] - m) * inv - off - (j == t ? hit : T(0))) *
                                       grad_scale);
    }
  }
  if (partial) {
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
  }
}

}  // namespace

size_t softmax_cross_entropy_workspace_bytes(int64_t rows) { return grid_for(rows * 32, kThreads) * sizeof(double); }

template <class T, class I>
cudaError_t softmax_cross_entropy(const T* logits, const I* targets, int64_t n, int64_t k, double label_smoothing,
                                  T* loss_rows, T* loss_sum, T* dlogits, double grad_scale, void* workspace,
                                  cudaStream_t s) {
  if (k <= 0) return cudaErrorInvalidValue;
  if (!targets && (loss_rows || loss_sum)) return cudaErrorInvalidValue;
  if (loss_sum && !workspace) return cudaErrorInvalidValue;
  const unsigned blocks = grid_for(n * 32, kThreads);
  double* partial = loss_sum ? static_cast<double*>(workspace) : nullptr;
  if (n > 0 && (loss_rows || loss_sum || dlogits)) {
    softmax_xent_kernel<<<blocks, kThreads, 0, s>>>(logits, targets, n, k, label_smoothing, loss_rows, dlogits,
                                                    grad_scale, partial);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  if (!loss_sum) return cudaSuccess;
  if (n == 0) return cudaMemsetAsync(loss_sum, 0, sizeof(T), s);
  sum_partials_kernel<<<1, kThreads, 0, s>>>(partial, static_cast<int64_t>(blocks), loss_sum);
  return cudaGetLastError();
}

#define GAN_XENT_INSTANTIATE(T, I)                                                                               \
  template cudaError_t softmax_cross_entropy<T, I>(const T*, const I*, int64_t, int64_t, double, T*, T*, T*, double, \
                                                   void*, cudaStream_t);
GAN_XENT_INSTANTIATE(float, float)
GAN_XENT_INSTANTIATE(float, double)
GAN_XENT_INSTANTIATE(double, float)
GAN_XENT_INSTANTIATE(double, double)
#undef GAN_XENT_INSTANTIATE

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
