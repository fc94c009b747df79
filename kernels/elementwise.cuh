// Element-wise CUDA kernels: fills, Philox random fills, casts, unary and binary maps, gathers.
// The maps' ops and formulas are the table in kernels/elementwise_ops.h (shared with the CPU).
// Raw pointers, element counts and a stream; every launcher returns the launch status
// (cudaGetLastError()) for the caller to check. T is float or double.
#pragma once
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/bfloat16.h"
#include "kernels/elementwise_ops.h"
#include "kernels/launch.cuh"

namespace gan::kernels {

template <class T> cudaError_t fill(T* out, int64_t n, T value, cudaStream_t stream);
template <class T> cudaError_t arange(T* out, int64_t n, cudaStream_t stream);
// out[i] = mean + std * normal_at(seed, draw, i), the same numbers as the CPU backend. A non-null
// `draw_on_device` is read by the kernel in place of `draw`: a recorded step (CUDA graph) takes a new
// draw number at each replay without being recorded again.
template <class T>
cudaError_t random_normal(T* out, int64_t n, uint64_t seed, uint64_t draw, const uint64_t* draw_on_device, double mean,
                          double std, cudaStream_t stream);
// out[i] = lo + (hi - lo) * uniform_at(seed, draw, i); `draw_on_device` as above.
template <class T>
cudaError_t random_uniform(T* out, int64_t n, uint64_t seed, uint64_t draw, const uint64_t* draw_on_device, double lo,
                           double hi, cudaStream_t stream);
template <class In, class Out> cudaError_t cast(const In* in, Out* out, int64_t n, cudaStream_t stream);

// y[i] = f(x[i]; a, b).
template <class T>
cudaError_t unary(UnaryOp op, const T* x, T* y, int64_t n, double a, double b, cudaStream_t stream);

// out[i] = f(x[i], y[i]; a): x, y and out of the same n elements.
template <class T>
cudaError_t binary_same(BinaryOp op, const T* x, const T* y, T* out, int64_t n, double a, cudaStream_t stream);
// One operand is a single element read on the device (no host round trip):
// scalar_first ? f(s[0], v[i]) : f(v[i], s[0]).
template <class T>
cudaError_t binary_scalar(BinaryOp op, const T* v, const T* s, bool scalar_first, T* out, int64_t n, double a,
                          cudaStream_t stream);
// A full contiguous operand `big` against a `small` one whose element for output i is
// small[(i / inner) % mid]: per-channel [1,C,1,1] vs [N,C,H,W] (inner = H*W, mid = C), per-sample
// [N,1,1,1] (inner = C*H*W, mid = N), a row [1,K] vs [M,K] (inner = 1, mid = K), a column [M,1]
// (inner = K, mid = M). small_first ? f(small, big) : f(big, small). inner >= 1, mid >= 1.
template <class T>
cudaError_t binary_run(BinaryOp op, const T* big, const T* small, bool small_first, T* out, int64_t n,
                       int64_t inner, int64_t mid, double a, cudaStream_t stream);
// General broadcast: out[i] = f(x[off0(i)], y[off1(i)]) over `idx` (n = product of its extents).
template <class T>
cudaError_t binary_strided(BinaryOp op, const T* x, const T* y, T* out, const StridedIndex& idx, int64_t n,
                           double a, cudaStream_t stream);

// out[i] += alpha * x[i].
template <class T> cudaError_t add_inplace(T* out, const T* x, int64_t n, double alpha, cudaStream_t stream);

// out[i] = x[off0(i)] over `idx` (broadcast copies and permutations; stride0 describes x).
template <class T> cudaError_t gather(const T* x, T* out, const StridedIndex& idx, int64_t n, cudaStream_t stream);

}  // namespace gan::kernels
