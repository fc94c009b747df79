// CUDA device memory, streams and copies.
//
// Every device gets one engine stream (a created, non-blocking stream, never the legacy default one):
// all kernels, cuBLAS/cuDNN calls, allocations and frees of the engine are ordered on it, which is
// what makes a training step capturable in a CUDA graph. Memory comes from the device's default
// stream-ordered pool (cudaMallocAsync) with its release threshold raised so freed blocks stay in the
// pool for the next step instead of going back to the driver.
#pragma once
#include <cstddef>

#include <cuda_runtime_api.h>

#include "engine/core/device.h"

namespace gan::cuda {

// Visible GPUs; 0 (never an exception) when there is no driver or no GPU.
int device_count();

// `nbytes` from the device's pool, ordered on its engine stream (usable by later work on that stream).
// Out of memory: gan::Error saying how many bytes were asked for and how many are free.
void* device_alloc(size_t nbytes, int device);
// Returns memory to the pool, ordered after the work already queued on the engine stream. Never throws:
// it runs from destructors.
void device_free(void* ptr, int device) noexcept;

// Copies between host and device or device and device (cudaMemcpyAsync on the engine stream).
// A copy to the host waits for it to finish, since the caller reads the host buffer next; copies to a
// device return at once (pageable host sources are staged by the driver before the call returns).
void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes);

// Page-locked host memory, for batches bound for the GPU: a copy from it is a DMA the host does not
// wait for (a pageable source is staged by the driver, which can wait for the stream's earlier work).
// Blocks are cached and reused: a freed block is handed out again only once every device copy that
// read it has run (copy() records an event after each read). Null when no GPU can be used or the
// driver refuses; the caller then uses pageable memory, which is slower and works the same.
void* pinned_host_alloc(size_t nbytes) noexcept;
// Back to the cache (never to the driver: freeing page-locked memory synchronises the device).
void pinned_host_free(void* ptr) noexcept;
// Page-locked bytes held by the cache, in use or not (tests).
size_t pinned_host_bytes() noexcept;

// The engine stream of `device`.
cudaStream_t stream(int device);
// Waits for all work queued on the engine stream of `device`.
void synchronize(int device);

// Makes `device` current for the scope and restores the previous one after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace gan::cuda
