// Pooling and bilinear-resize kernels over NCHW planes (T float or double). Window, divisor and
// tap rules: kernels/pool_index.h, shared with the CPU backend.
#pragma once
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/pool_index.h"

namespace gan::kernels {

// out [planes, oh, ow] = src at the argmax of key over each window (key, src [planes, h, w]).
template <class T>
cudaError_t max_pool2d_gather(const T* key, const T* src, const hd::PoolGeom& g, T* out, cudaStream_t stream);

// out [planes, h, w] = 0, then each window's grad atomically added at key's argmax. Overlapping
// windows add in no fixed order: the last bits may differ from run to run.
template <class T>
cudaError_t max_pool2d_scatter(const T* key, const T* grad, const hd::PoolGeom& g, T* out, cudaStream_t stream);

// out [planes, oh, ow] = window means of x [planes, h, w].
template <class T>
cudaError_t avg_pool2d(const T* x, const hd::PoolGeom& g, T* out, cudaStream_t stream);

// out [planes, h, w] = the adjoint of avg_pool2d applied to grad: one thread per input pixel sums
// the windows covering it (no atomics, deterministic).
template <class T>
cudaError_t avg_pool2d_backward(const T* grad, const hd::PoolGeom& g, T* out, cudaStream_t stream);

// out [planes, oh, ow] = bilinear resize of x [planes, h, w], align_corners false.
template <class T>
cudaError_t resize_bilinear(const T* x, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, T* out,
                            cudaStream_t stream);

// out [planes, h, w] = 0, then the four weighted taps of each grad pixel atomically added.
template <class T>
cudaError_t resize_bilinear_backward(const T* grad, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                     T* out, cudaStream_t stream);

}  // namespace gan::kernels
