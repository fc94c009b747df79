// One thread per output element (grid-stride, 64-bit indices): each reads its row's id (a
// broadcast load shared by the row's threads) and moves one value. These kernels are
// bandwidth-bound; the table rows a batch gathers are few and stay in L2.
#include "kernels/class_ids.h"
#include "kernels/device_utils.cuh"
#include "kernels/embedding.cuh"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;

template <class T, class I>
__global__ void gather_kernel(const T* weight, const I* ids, int64_t n, int64_t k, int64_t e, T* out) {
  const int64_t total = n * e;
  for (int64_t t = global_thread(); t < total; t += grid_threads()) {
    const int64_t row = t / e, col = t - row * e;
    const int64_t r = hd::class_id(ids[row], k);
    out[t] = r >= 0 ? weight[r * e + col] : hd::quiet_nan<T>();
  }
}

template <class T, class I>
__global__ void scatter_add_kernel(const T* grad, const I* ids, int64_t n, int64_t k, int64_t e, T* out) {
  const int64_t total = n * e;
  for (int64_t t = global_thread(); t < total; t += grid_threads()) {
    const int64_t row = t / e, col = t - row * e;
    const I id = ids[row];
    int64_t r = hd::class_id(id, k);
    T v = grad[t];
    if (r < 0) {
      r = hd::class_id_clamped(id, k);
      v = hd::quiet_nan<T>();
    }
    atomicAdd(out + r * e + col, v);  // native for float and (sm_60 on) double
  }
}

template <class T, class I>
__global__ void one_hot_kernel(const I* ids, int64_t n, int64_t c, T* out) {
  const int64_t total = n * c;
  for (int64_t t = global_thread(); t < total; t += grid_threads()) {
    const int64_t row = t / c, col = t - row * c;
    const int64_t r = hd::class_id(ids[row], c);
    out[t] = r < 0 ? hd::quiet_nan<T>() : (col == r ? T(1) : T(0));
  }
}

}  // namespace

template <class T, class I>
cudaError_t embedding_gather(const T* weight, const I* ids, int64_t n, int64_t k, int64_t e, T* out,
                             cudaStream_t s) {
  if (n * e == 0) return cudaSuccess;
  gather_kernel<<<grid_for(n * e, kThreads), kThreads, 0, s>>>(weight, ids, n, k, e, out);
  return cudaGetLastError();
}

template <class T, class I>
cudaError_t embedding_scatter_add(const T* grad, const I* ids, int64_t n, int64_t k, int64_t e, T* out,
                                  cudaStream_t s) {
  if (k * e == 0) return cudaSuccess;
  cudaError_t err = cudaMemsetAsync(out, 0, static_cast<size_t>(k * e) * sizeof(T), s);
  if (err != cudaSuccess || n * e == 0) return err;
  scatter_add_kernel<<<grid_for(n * e, kThreads), kThreads, 0, s>>>(grad, ids, n, k, e, out);
  return cudaGetLastError();
}

template <class T, class I>
cudaError_t one_hot(const I* ids, int64_t n, int64_t c, T* out, cudaStream_t s) {
  if (n * c == 0) return cudaSuccess;
  one_hot_kernel<<<grid_for(n * c, kThreads), kThreads, 0, s>>>(ids, n, c, out);
  return cudaGetLastError();
}

#define GAN_EMBEDDING_INSTANTIATE(T, I)                                                                        \
  template cudaError_t embedding_gather<T, I>(const T*, const I*, int64_t, int64_t, int64_t, T*, cudaStream_t); \
  template cudaError_t embedding_scatter_add<T, I>(const T*, const I*, int64_t, int64_t, int64_t, T*,          \
                                                   cudaStream_t);                                              \
  template cudaError_t one_hot<T, I>(const I*, int64_t, int64_t, T*, cudaStream_t);
GAN_EMBEDDING_INSTANTIATE(float, float)
GAN_EMBEDDING_INSTANTIATE(float, double)
GAN_EMBEDDING_INSTANTIATE(double, float)
GAN_EMBEDDING_INSTANTIATE(double, double)
#undef GAN_EMBEDDING_INSTANTIATE

}  // namespace gan::kernels
