// Host-side launch helpers shared by the kernel families: grid sizes for grid-stride loops, strided
// index descriptions, alignment tests. Plain C++ (no device code), so host wrappers compiled by the
// C++ compiler can include the family headers that use these types.
#pragma once
#include <cstdint>

#include <cuda_runtime_api.h>

namespace gan::kernels {

// Most dims a strided kernel walks after neighbouring dims are merged (a rank-8 tensor whose dims
// alternate broadcast/non-broadcast is the worst case; callers merge first and check).
constexpr int kMaxDims = 8;

// An index space of `ndim` dims (row-major, last dim fastest) and, for each of up to two operands,
// the element stride of each dim (0 where the operand is broadcast).
struct StridedIndex {
  int ndim = 0;
  int64_t extent[kMaxDims] = {};
  int64_t stride0[kMaxDims] = {};
  int64_t stride1[kMaxDims] = {};
};

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Multiprocessors of the current device (cached per device: this runs on every launch).
inline int sm_count() {
  static int cache[64] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) {
    cudaGetLastError();
    return 80;
  }
  if (!cache[dev]) {
    int n = 0;
    if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0) {
      cudaGetLastError();
      n = 80;
    }
    cache[dev] = n;
  }
  return cache[dev];
}

// Blocks for a grid-stride loop over `items` work items at `threads` per block: enough to fill the
// GPU (8 blocks of 256 threads per multiprocessor is full occupancy), never more than the work needs.
inline unsigned grid_for(int64_t items, int threads) {
  int64_t need = (items + threads - 1) / threads;
  int64_t cap = static_cast<int64_t>(sm_count()) * (2048 / threads);
  if (need < 1) need = 1;
  return static_cast<unsigned>(need < cap ? need : cap);
}

}  // namespace gan::kernels
