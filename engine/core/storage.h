// A reference-counted block of device or host memory. Tensors share Storage through shared_ptr,
// so views (reshape, flatten, detach) cost nothing and memory is freed with the last user.
#pragma once
#include <cstddef>
#include <memory>

#include "engine/core/device.h"

namespace gan {

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  bool pinned = false;  // host memory that is page-locked (from engine/cuda's cache)

  Storage(size_t nbytes, Device device);  // allocates on `device`
  // Host memory, page-locked when a GPU can use it (its copies to the GPU do not hold the host up),
  // else ordinary host memory.
  struct PinnedHost {};
  Storage(size_t nbytes, PinnedHost);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// Copies `nbytes` between any two devices (host<->device copies go through the device's stream).
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes);

}  // namespace gan
