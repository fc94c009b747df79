// Spatial kernels over NCHW images: pixel shuffle / unshuffle, nearest upsampling and its block-sum
// gradient, reflection padding and its gather-sum gradient, per-sample translation, horizontal flip and cutout masks. `planes` counts the H x W
// planes (batch times channels) on the side named in each comment. Per-sample parameters are
// floats of type S (float or double) holding integers; a bad one makes its sample's output NaN
// (kernels/spatial_params.h says which values are bad).
#pragma once
#include <cstdint>

#include <cuda_runtime_api.h>

namespace gan::kernels {

// out [planes, h r, w r] from x [planes r r, h, w]: out[p, y r + i, x r + j] = x[p r r + i r + j, y, x].
template <class T>
cudaError_t pixel_shuffle(const T* x, int64_t planes, int64_t h, int64_t w, int64_t r, T* out, cudaStream_t stream);

// The inverse: out [planes r r, h, w] from x [planes, h r, w r].
template <class T>
cudaError_t pixel_unshuffle(const T* x, int64_t planes, int64_t h, int64_t w, int64_t r, T* out, cudaStream_t stream);

// out [planes, h s, w s] from x [planes, h, w]: out[p, y, x] = x[p, y / s, x / s].
template <class T>
cudaError_t upsample_nearest2d(const T* x, int64_t planes, int64_t h, int64_t w, int64_t s, T* out,
                               cudaStream_t stream);

// out [planes, h, w] from g [planes, h s, w s]: the sum of each s x s block, row by row, left to
// right (the CPU backend's order, so both give the same bits).
template <class T>
cudaError_t upsample_nearest2d_backward(const T* g, int64_t planes, int64_t h, int64_t w, int64_t s, T* out,
                                        cudaStream_t stream);

// out [planes, h + t + b, w + l + r] from x [planes, h, w], mirrored without repeating the edge:
// out[p, i, j] = x[p, reflect_index(i, t, h), reflect_index(j, l, w)] (kernels/pad_index.h); every
// pad below its extent.
template <class T>
cudaError_t reflection_pad2d(const T* x, int64_t planes, int64_t h, int64_t w, int64_t l, int64_t r, int64_t t,
                             int64_t b, T* out, cudaStream_t stream);

// Its adjoint, out [planes, h, w] from g [planes, h + t + b, w + l + r]: a gather, each element the
// sum of its at most 3 x 3 sources in increasing (row, column) of g (the CPU backend's order, so
// both give the same bits); no atomics.
template <class T>
cudaError_t reflection_pad2d_backward(const T* g, int64_t planes, int64_t h, int64_t w, int64_t l, int64_t r,
                                      int64_t t, int64_t b, T* out, cudaStream_t stream);

// out [n, c, h, w]: out[b, k, y, x] = x[b, k, y - dy, x - dx] (0 outside), (dy, dx) = shifts[b].
template <class T, class S>
cudaError_t translate2d(const T* x, const S* shifts, int64_t n, int64_t c, int64_t h, int64_t w, T* out,
                        cudaStream_t stream);

// out [n, rows, w] (rows = c h): row mirrored where mask[b] == 1, copied where it is 0.
template <class T, class S>
cudaError_t flip_horizontal(const T* x, const S* mask, int64_t n, int64_t rows, int64_t w, T* out,
                            cudaStream_t stream);

// out [n, h, w] = 0 inside sample b's size_h x size_w square from centers[b] - size / 2 (clipped),
// 1 elsewhere.
template <class T, class S>
cudaError_t cutout_mask(const S* centers, int64_t n, int64_t h, int64_t w, int64_t size_h, int64_t size_w, T* out,
                        cudaStream_t stream);

}  // namespace gan::kernels
