// One thread per output element, grid-stride. These maps are pure data movement, so they are
// bandwidth-bound once the index arithmetic is cheap: each kernel is instantiated with 32-bit
// indices (used whenever every tensor it touches has fewer than 2^31 elements: a 32-bit division
// costs a fraction of a 64-bit one) and with 64-bit ones for larger tensors. Output writes are
// coalesced; reads are coalesced too except for the shuffles' r-strided side.
#include "kernels/class_ids.h"
#include "kernels/device_utils.cuh"
#include "kernels/pad_index.h"
#include "kernels/spatial.cuh"
#include "kernels/spatial_params.h"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;

template <class I>
__device__ __forceinline__ I thread_index() {
  return static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
}
template <class I>
__device__ __forceinline__ I thread_stride() {
  return static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
}

template <class T, class I>
__global__ void pixel_shuffle_kernel(const T* __restrict__ x, I planes, I h, I w, I r, T* __restrict__ out) {
  const I oh = h * r, ow = w * r, total = planes * oh * ow;
  for (I t = thread_index<I>(); t < total; t += thread_stride<I>()) {
    const I ox = t % ow, rest = t / ow, oy = rest % oh, p = rest / oh;
    const I y = oy / r, i = oy - y * r, xx = ox / r, j = ox - xx * r;
    out[t] = x[((p * r * r + i * r + j) * h + y) * w + xx];
  }
}

template <class T, class I>
__global__ void pixel_unshuffle_kernel(const T* __restrict__ x, I planes, I h, I w, I r, T* __restrict__ out) {
  const I rr = r * r, total = planes * rr * h * w, iw = w * r;
  for (I t = thread_index<I>(); t < total; t += thread_stride<I>()) {
    const I xx = t % w, rest = t / w, y = rest % h, q = rest / h;
    const I p = q / rr, ij = q - p * rr, i = ij / r, j = ij - i * r;
    out[t] = x[(p * h * r + y * r + i) * iw + xx * r + j];
  }
}

template <class T, class I>
__global__ void upsample_kernel(const T* __restrict__ x, I planes, I h, I w, I s, T* __restrict__ out) {
  const I oh = h * s, ow = w * s, total = planes * oh * ow;
  for (I t = thread_index<I>(); t < total; t += thread_stride<I>()) {
    const I ox = t % ow, rest = t / ow, oy = rest % oh, p = rest / oh;
    out[t] = x[(p * h + oy / s) * w + ox / s];
  }
}

template <class T, class I>
__global__ void upsample_backward_kernel(const T* __restrict__ g, I planes, I h, I w, I s, T* __restrict__ out) {
  const I gw = w * s, total = planes * h * w;
  for (I t = thread_index<I>(); t < total; t += thread_stride<I>()) {
    const I xx = t % w, rest = t / w, y = rest % h, p = rest / h;
    const T* src = g + (p * h * s + y * s) * gw + xx * s;
    T acc = 0;
    for (I i = 0; i < s; ++i)
      for (I j = 0; j < s; ++j) acc += src[i * gw + j];
    out[t] = acc;
  }
}

// One thread per output element; consecutive threads read consecutive columns of one source row
// (mirrored in the pads, so those reads go backwards but stay within a few cache lines).
template <class T, class I>
__global__ void reflection_pad_kernel(const T* __restrict__ x, I planes, I h, I w, I l, I r, I t, I b,
                                      T* __restrict__ out) {
  const I oh = h + t + b, ow = w + l + r, total = planes * oh * ow;
  for (I e = thread_index<I>(); e < total; e += thread_stride<I>()) {
    const I j = e % ow, rest = e / ow, i = rest % oh, p = rest / oh;
    out[e] = x[(p * h + hd::reflect_index<I>(i, t, h)) * w + hd::reflect_index<I>(j, l, w)];
  }
}

// One thread per input element, gathering its sources: deterministic, and each element is written
// once (a scatter from the padded side would need atomics where the mirrors overlap the copy).
template <class T, class I>
__global__ void reflection_pad_backward_kernel(const T* __restrict__ g, I planes, I h, I w, I l, I r, I t, I b,
                                               T* __restrict__ out) {
  const I gh = h + t + b, gw = w + l + r, total = planes * h * w;
  for (I e = thread_index<I>(); e < total; e += thread_stride<I>()) {
    const I x = e % w, rest = e / w, y = rest % h, p = rest / h;
    I rows[3], cols[3];
    const int nrows = hd::reflect_sources<I>(y, t, b, h, rows);
    const int ncols = hd::reflect_sources<I>(x, l, r, w, cols);
    const T* plane = g + p * gh * gw;
    T acc = 0;
    for (int k = 0; k < nrows; ++k)
      for (int c = 0; c < ncols; ++c) acc += plane[rows[k] * gw + cols[c]];
    out[e] = acc;
  }
}

template <class T, class S, class I>
__global__ void translate_kernel(const T* __restrict__ x, const S* __restrict__ shifts, I n, I c, I h, I w,
                                 T* __restrict__ out) {
  const I total = n * c * h * w;
  for (I t = thread_index<I>(); t < total; t += thread_stride<I>()) {
    const I xx = t % w, rest = t / w, y = rest % h, plane = rest / h, b = plane / c;
    int64_t dy = 0, dx = 0;
    if (!hd::integer_param(shifts[2 * b], static_cast<int64_t>(h), dy) ||
        !hd::integer_param(shifts[2 * b + 1], static_cast<int64_t>(w), dx)) {
      out[t] = hd::quiet_nan<T>();
      continue;
    }
    const int64_t sy = static_cast<int64_t>(y) - dy, sx = static_cast<int64_t>(xx) - dx;
    const bool inside = sy >= 0 && sy < static_cast<int64_t>(h) && sx >= 0 && sx < static_cast<int64_t>(w);
    out[t] = inside ? x[(plane * h + static_cast<I>(sy)) * w + static_cast<I>(sx)] : T(0);
  }
}

template <class T, class S, class I>
__global__ void flip_kernel(const T* __restrict__ x, const S* __restrict__ mask, I n, I rows, I w,
                            T* __restrict__ out) {
  const I total = n * rows * w;
  for (I t = thread_index<I>(); t < total; t += thread_stride<I>()) {
    const I col = t % w, row = t / w, b = row / rows;
    const int flag = hd::flip_flag(mask[b]);
    out[t] = flag < 0 ? hd::quiet_nan<T>() : x[row * w + (flag ? w - 1 - col : col)];
  }
}

template <class T, class S, class I>
__global__ void cutout_kernel(const S* __restrict__ centers, I n, I h, I w, int64_t size_h, int64_t size_w,
                              T* __restrict__ out) {
  const I total = n * h * w;
  for (I t = thread_index<I>(); t < total; t += thread_stride<I>()) {
    const I xx = t % w, rest = t / w, y = rest % h, b = rest / h;
    int64_t cy = 0, cx = 0;
    if (!hd::integer_param(centers[2 * b], static_cast<int64_t>(h) + size_h, cy) ||
        !hd::integer_param(centers[2 * b + 1], static_cast<int64_t>(w) + size_w, cx)) {
      out[t] = hd::quiet_nan<T>();
      continue;
    }
    int64_t y0, y1, x0, x1;
    hd::cutout_range(cy, size_h, h, y0, y1);
    hd::cutout_range(cx, size_w, w, x0, x1);
    const bool cut = static_cast<int64_t>(y) >= y0 && static_cast<int64_t>(y) < y1 &&
                     static_cast<int64_t>(xx) >= x0 && static_cast<int64_t>(xx) < x1;
    out[t] = cut ? T(0) : T(1);
  }
}

// 32-bit indices when every element index of every tensor involved stays below 2^31 with room for
// the grid-stride loop's last step past the end (a grid never has 2^26 threads).
inline bool fits32(int64_t elements) { return elements < (int64_t{1} << 31) - (int64_t{1} << 26); }

}  // namespace

template <class T>
cudaError_t pixel_shuffle(const T* x, int64_t planes, int64_t h, int64_t w, int64_t r, T* out, cudaStream_t s) {
  const int64_t total = planes * h * w * r * r;
  if (fits32(total)) {
    if (total == 0) return cudaSuccess;
    pixel_shuffle_kernel<T, uint32_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(
        x, static_cast<uint32_t>(planes), static_cast<uint32_t>(h), static_cast<uint32_t>(w),
        static_cast<uint32_t>(r), out);
  } else {
    pixel_shuffle_kernel<T, int64_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(x, planes, h, w, r, out);
  }
  return cudaGetLastError();
}

template <class T>
cudaError_t pixel_unshuffle(const T* x, int64_t planes, int64_t h, int64_t w, int64_t r, T* out, cudaStream_t s) {
  const int64_t total = planes * h * w * r * r;
  if (fits32(total)) {
    if (total == 0) return cudaSuccess;
    pixel_unshuffle_kernel<T, uint32_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(
        x, static_cast<uint32_t>(planes), static_cast<uint32_t>(h), static_cast<uint32_t>(w),
        static_cast<uint32_t>(r), out);
  } else {
    pixel_unshuffle_kernel<T, int64_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(x, planes, h, w, r, out);
  }
  return cudaGetLastError();
}

template <class T>
cudaError_t upsample_nearest2d(const T* x, int64_t planes, int64_t h, int64_t w, int64_t sc, T* out,
                               cudaStream_t s) {
  const int64_t total = planes * h * w * sc * sc;
  if (fits32(total)) {
    if (total == 0) return cudaSuccess;
    upsample_kernel<T, uint32_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(
        x, static_cast<uint32_t>(planes), static_cast<uint32_t>(h), static_cast<uint32_t>(w),
        static_cast<uint32_t>(sc), out);
  } else {
    upsample_kernel<T, int64_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(x, planes, h, w, sc, out);
  }
  return cudaGetLastError();
}

template <class T>
cudaError_t upsample_nearest2d_backward(const T* g, int64_t planes, int64_t h, int64_t w, int64_t sc, T* out,
                                        cudaStream_t s) {
  const int64_t total = planes * h * w, largest = total * sc * sc;
  if (total == 0) return cudaSuccess;
  if (fits32(largest)) {
    upsample_backward_kernel<T, uint32_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(
        g, static_cast<uint32_t>(planes), static_cast<uint32_t>(h), static_cast<uint32_t>(w),
        static_cast<uint32_t>(sc), out);
  } else {
    upsample_backward_kernel<T, int64_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(g, planes, h, w, sc, out);
  }
  return cudaGetLastError();
}

template <class T>
cudaError_t reflection_pad2d(const T* x, int64_t planes, int64_t h, int64_t w, int64_t l, int64_t r, int64_t t,
                             int64_t b, T* out, cudaStream_t s) {
  const int64_t total = planes * (h + t + b) * (w + l + r);
  if (total == 0) return cudaSuccess;
  if (fits32(total)) {
    const auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
    reflection_pad_kernel<T, uint32_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(
        x, u(planes), u(h), u(w), u(l), u(r), u(t), u(b), out);
  } else {
    reflection_pad_kernel<T, int64_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(x, planes, h, w, l, r, t, b,
                                                                                     out);
  }
  return cudaGetLastError();
}

template <class T>
cudaError_t reflection_pad2d_backward(const T* g, int64_t planes, int64_t h, int64_t w, int64_t l, int64_t r,
                                      int64_t t, int64_t b, T* out, cudaStream_t s) {
  // The padded side is the larger one: its element count decides the index width.
  const int64_t total = planes * h * w, largest = planes * (h + t + b) * (w + l + r);
  if (total == 0) return cudaSuccess;
  if (fits32(largest)) {
    const auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
    reflection_pad_backward_kernel<T, uint32_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(
        g, u(planes), u(h), u(w), u(l), u(r), u(t), u(b), out);
  } else {
    reflection_pad_backward_kernel<T, int64_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(g, planes, h, w, l, r,
                                                                                              t, b, out);
  }
  return cudaGetLastError();
}

template <class T, class S>
cudaError_t translate2d(const T* x, const S* shifts, int64_t n, int64_t c, int64_t h, int64_t w, T* out,
                        cudaStream_t s) {
  const int64_t total = n * c * h * w;
  if (total == 0) return cudaSuccess;
  if (fits32(total)) {
    translate_kernel<T, S, uint32_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(
        x, shifts, static_cast<uint32_t>(n), static_cast<uint32_t>(c), static_cast<uint32_t>(h),
        static_cast<uint32_t>(w), out);
  } else {
    translate_kernel<T, S, int64_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(x, shifts, n, c, h, w, out);
  }
  return cudaGetLastError();
}

template <class T, class S>
cudaError_t flip_horizontal(const T* x, const S* mask, int64_t n, int64_t rows, int64_t w, T* out, cudaStream_t s) {
  const int64_t total = n * rows * w;
  if (total == 0) return cudaSuccess;
  if (fits32(total)) {
    flip_kernel<T, S, uint32_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(
        x, mask, static_cast<uint32_t>(n), static_cast<uint32_t>(rows), static_cast<uint32_t>(w), out);
  } else {
    flip_kernel<T, S, int64_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(x, mask, n, rows, w, out);
  }
  return cudaGetLastError();
}

template <class T, class S>
cudaError_t cutout_mask(const S* centers, int64_t n, int64_t h, int64_t w, int64_t size_h, int64_t size_w, T* out,
                        cudaStream_t s) {
  const int64_t total = n * h * w;
  if (total == 0) return cudaSuccess;
  if (fits32(total)) {
    cutout_kernel<T, S, uint32_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(
        centers, static_cast<uint32_t>(n), static_cast<uint32_t>(h), static_cast<uint32_t>(w), size_h, size_w, out);
  } else {
    cutout_kernel<T, S, int64_t><<<grid_for(total, kThreads), kThreads, 0, s>>>(centers, n, h, w, size_h, size_w,
                                                                                out);
  }
  return cudaGetLastError();
}

#define GAN_SPATIAL_INSTANTIATE(T)                                                                            \
  template cudaError_t pixel_shuffle<T>(const T*, int64_t, int64_t, int64_t, int64_t, T*, cudaStream_t);       \
  template cudaError_t pixel_unshuffle<T>(const T*, int64_t, int64_t, int64_t, int64_t, T*, cudaStream_t);     \
  template cudaError_t upsample_nearest2d<T>(const T*, int64_t, int64_t, int64_t, int64_t, T*, cudaStream_t);  \
  template cudaError_t upsample_nearest2d_backward<T>(const T*, int64_t, int64_t, int64_t, int64_t, T*,        \
                                                      cudaStream_t);                                          \
  template cudaError_t reflection_pad2d<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,      \
                                           int64_t, T*, cudaStream_t);                                        \
  template cudaError_t reflection_pad2d_backward<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t,      \
                                                    int64_t, int64_t, T*, cudaStream_t);
#define GAN_SPATIAL_INSTANTIATE2(T, S)                                                                         \
  template cudaError_t translate2d<T, S>(const T*, const S*, int64_t, int64_t, int64_t, int64_t, T*,           \
                                         cudaStream_t);                                                        \
  template cudaError_t flip_horizontal<T, S>(const T*, const S*, int64_t, int64_t, int64_t, T*, cudaStream_t); \
  template cudaError_t cutout_mask<T, S>(const S*, int64_t, int64_t, int64_t, int64_t, int64_t, T*, cudaStream_t);
GAN_SPATIAL_INSTANTIATE(float)
GAN_SPATIAL_INSTANTIATE(double)
GAN_SPATIAL_INSTANTIATE2(float, float)
GAN_SPATIAL_INSTANTIATE2(float, double)
GAN_SPATIAL_INSTANTIATE2(double, float)
GAN_SPATIAL_INSTANTIATE2(double, double)
#undef GAN_SPATIAL_INSTANTIATE
#undef GAN_SPATIAL_INSTANTIATE2

}  // namespace gan::kernels
