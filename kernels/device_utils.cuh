// Device-side building blocks shared by the kernel families (included by .cu files only).
#pragma once
#include <cstdint>

#include "kernels/launch.cuh"

namespace gan::kernels {

// V elements moved as one 16-byte access (float4 / double2 width).
template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};
template <class T>
constexpr int kPack = 16 / static_cast<int>(sizeof(T));

__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// Offsets of row-major linear index `i` of `idx` for operand 0 and operand 1. The outermost dim
// needs no division (what is left of i is its coordinate), so a one-dim index costs none.
__device__ __forceinline__ void strided_offsets(const StridedIndex& idx, int64_t i, int64_t& o0, int64_t& o1) {
  o0 = 0;
  o1 = 0;
  for (int d = idx.ndim - 1; d > 0; --d) {
    const int64_t e = idx.extent[d];
    const int64_t q = i / e, c = i - q * e;
    o0 += c * idx.stride0[d];
    o1 += c * idx.stride1[d];
    i = q;
  }
  if (idx.ndim > 0) {
    o0 += i * idx.stride0[0];
    o1 += i * idx.stride1[0];
  }
}

__device__ __forceinline__ int64_t strided_offset0(const StridedIndex& idx, int64_t i) {
  int64_t o = 0;
  for (int d = idx.ndim - 1; d > 0; --d) {
    const int64_t e = idx.extent[d];
    const int64_t q = i / e;
    o += (i - q * e) * idx.stride0[d];
    i = q;
  }
  return idx.ndim > 0 ? o + i * idx.stride0[0] : o;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Sum over the block; the result is valid in every thread. The order of additions depends only on
// blockDim, so results are identical run to run. `scratch` holds 32 doubles in shared memory; the
// trailing barrier lets a caller reuse it immediately.
__device__ __forceinline__ double block_sum(double v, double* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int nwarps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  double t = lane < nwarps ? scratch[lane] : 0.0;
  t = warp_sum(t);
  __syncthreads();
  return t;
}

}  // namespace gan::kernels
