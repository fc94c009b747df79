// One thread per output element (grid-stride, 64-bit indices). Windows are at most a few pixels
// wide and neighbouring threads read neighbouring pixels, so the loads coalesce and stay in L1/L2;
// the kernels are bandwidth-bound. The scatter forms (max-pool and resize gradients) use atomics
// into a zeroed output; the average pool's gradient is a gather (each input pixel sums the windows
// covering it), which needs none.
#include "kernels/device_utils.cuh"
#include "kernels/pool.cuh"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void max_gather_kernel(const T* key, const T* src, hd::PoolGeom g, T* out) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t t = global_thread(); t < total; t += grid_threads()) {
    const int64_t ox = t % g.ow, r = t / g.ow, oy = r % g.oh, pl = r / g.oh;
    const int64_t base = pl * g.h * g.w;
    out[t] = src[base + hd::window_argmax(key + base, g, oy, ox)];
  }
}

template <class T>
__global__ void max_scatter_kernel(const T* key, const T* grad, hd::PoolGeom g, T* out) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t t = global_thread(); t < total; t += grid_threads()) {
    const int64_t ox = t % g.ow, r = t / g.ow, oy = r % g.oh, pl = r / g.oh;
    const int64_t base = pl * g.h * g.w;
    atomicAdd(out + base + hd::window_argmax(key + base, g, oy, ox), grad[t]);
  }
}

template <class T>
__global__ void avg_kernel(const T* x, hd::PoolGeom g, T* out) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t t = global_thread(); t < total; t += grid_threads()) {
    const int64_t ox = t % g.ow, r = t / g.ow, oy = r % g.oh, pl = r / g.oh;
    const T* xp = x + pl * g.h * g.w;
    const hd::AvgWindow a = hd::avg_window(g, oy, ox);
    T s = 0;
    for (int64_t y = a.y_lo; y < a.y_hi; ++y)
      for (int64_t xx = a.x_lo; xx < a.x_hi; ++xx) s += xp[y * g.w + xx];
    out[t] = s / static_cast<T>(a.divisor);
  }
}

template <class T>
__global__ void avg_backward_kernel(const T* grad, hd::PoolGeom g, T* out) {
  const int64_t total = g.planes * g.h * g.w;
  for (int64_t t = global_thread(); t < total; t += grid_threads()) {
    const int64_t ix = t % g.w, r = t / g.w, iy = r % g.h, pl = r / g.h;
    const T* gp = grad + pl * g.oh * g.ow;
    int64_t oy0, oy1, ox0, ox1;
    hd::covering_outputs(iy, g.kh, g.sh, g.ph, g.oh, oy0, oy1);
    hd::covering_outputs(ix, g.kw, g.sw, g.pw, g.ow, ox0, ox1);
    T s = 0;
    for (int64_t oy = oy0; oy <= oy1; ++oy)
      for (int64_t ox = ox0; ox <= ox1; ++ox)
        s += gp[oy * g.ow + ox] / static_cast<T>(hd::avg_window(g, oy, ox).divisor);
    out[t] = s;
  }
}

template <class T>
__global__ void resize_kernel(const T* x, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, T* out) {
  const int64_t total = planes * oh * ow;
  for (int64_t t = global_thread(); t < total; t += grid_threads()) {
    const int64_t ox = t % ow, r = t / ow, oy = r % oh, pl = r / oh;
    const hd::LinearTap<T> ty = hd::linear_tap<T>(oy, h, oh), tx = hd::linear_tap<T>(ox, w, ow);
    const T* r0 = x + (pl * h + ty.i0) * w;
    const T* r1 = x + (pl * h + ty.i1) * w;
    out[t] = ty.w0 * (tx.w0 * r0[tx.i0] + tx.w1 * r0[tx.i1]) + ty.w1 * (tx.w0 * r1[tx.i0] + tx.w1 * r1[tx.i1]);
  }
}

template <class T>
__global__ void resize_backward_kernel(const T* grad, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                       T* out) {
  const int64_t total = planes * oh * ow;
  for (int64_t t = global_thread(); t < total; t += grid_threads()) {
    const int64_t ox = t % ow, r = t / ow, oy = r % oh, pl = r / oh;
    const hd::LinearTap<T> ty = hd::linear_tap<T>(oy, h, oh), tx = hd::linear_tap<T>(ox, w, ow);
    T* r0 = out + (pl * h + ty.i0) * w;
    T* r1 = out + (pl * h + ty.i1) * w;
    const T g0 = ty.w0 * grad[t], g1 = ty.w1 * grad[t];
    atomicAdd(r0 + tx.i0, tx.w0 * g0);  // native for float and (sm_60 on) double
    atomicAdd(r0 + tx.i1, tx.w1 * g0);
    atomicAdd(r1 + tx.i0, tx.w0 * g1);
    atomicAdd(r1 + tx.i1, tx.w1 * g1);
  }
}

template <class T>
cudaError_t zero(T* out, int64_t n, cudaStream_t s) {
  return cudaMemsetAsync(out, 0, static_cast<size_t>(n) * sizeof(T), s);
}

}  // namespace

template <class T>
cudaError_t max_pool2d_gather(const T* key, const T* src, const hd::PoolGeom& g, T* out, cudaStream_t s) {
  const int64_t n = g.planes * g.oh * g.ow;
  if (n == 0) return cudaSuccess;
  max_gather_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(key, src, g, out);
  return cudaGetLastError();
}

template <class T>
cudaError_t max_pool2d_scatter(const T* key, const T* grad, const hd::PoolGeom& g, T* out, cudaStream_t s) {
  const int64_t n = g.planes * g.oh * g.ow;
  cudaError_t err = zero(out, g.planes * g.h * g.w, s);
  if (err != cudaSuccess || n == 0) return err;
  max_scatter_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(key, grad, g, out);
  return cudaGetLastError();
}

template <class T>
cudaError_t avg_pool2d(const T* x, const hd::PoolGeom& g, T* out, cudaStream_t s) {
  const int64_t n = g.planes * g.oh * g.ow;
  if (n == 0) return cudaSuccess;
  avg_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(x, g, out);
  return cudaGetLastError();
}

template <class T>
cudaError_t avg_pool2d_backward(const T* grad, const hd::PoolGeom& g, T* out, cudaStream_t s) {
  const int64_t n = g.planes * g.h * g.w;
  if (n == 0) return cudaSuccess;
  avg_backward_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(grad, g, out);
  return cudaGetLastError();
}

template <class T>
cudaError_t resize_bilinear(const T* x, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, T* out,
                            cudaStream_t s) {
  const int64_t n = planes * oh * ow;
  if (n == 0) return cudaSuccess;
  resize_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(x, planes, h, w, oh, ow, out);
  return cudaGetLastError();
}

template <class T>
cudaError_t resize_bilinear_backward(const T* grad, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                     T* out, cudaStream_t s) {
  const int64_t n = planes * oh * ow;
  cudaError_t err = zero(out, planes * h * w, s);
  if (err != cudaSuccess || n == 0) return err;
  resize_backward_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(grad, planes, h, w, oh, ow, out);
  return cudaGetLastError();
}

#define GAN_POOL_INSTANTIATE(T)                                                                               \
  template cudaError_t max_pool2d_gather<T>(const T*, const T*, const hd::PoolGeom&, T*, cudaStream_t);      \
  template cudaError_t max_pool2d_scatter<T>(const T*, const T*, const hd::PoolGeom&, T*, cudaStream_t);     \
  template cudaError_t avg_pool2d<T>(const T*, const hd::PoolGeom&, T*, cudaStream_t);                       \
  template cudaError_t avg_pool2d_backward<T>(const T*, const hd::PoolGeom&, T*, cudaStream_t);              \
  template cudaError_t resize_bilinear<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, T*,         \
                                          cudaStream_t);                                                     \
  template cudaError_t resize_bilinear_backward<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, T*, \
                                                   cudaStream_t);
GAN_POOL_INSTANTIATE(float)
GAN_POOL_INSTANTIATE(double)
#undef GAN_POOL_INSTANTIATE

}  // namespace gan::kernels
