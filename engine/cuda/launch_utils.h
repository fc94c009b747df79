// Plumbing shared by the CUDA host wrappers (engine/cuda/*.cpp): device/stream selection, stream-
// ordered scratch memory, and the strided index descriptions the kernels walk.
#pragma once
#include <initializer_list>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/cuda/check.h"
#include "engine/cuda/memory.h"
#include "kernels/launch.cuh"

namespace gan::cuda {

// Makes the tensor's GPU current for the scope and names its engine stream.
struct OnDevice {
  explicit OnDevice(const Tensor& t) : device(t.device().index), guard(device), stream(cuda::stream(device)) {}
  int device;
  DeviceGuard guard;
  cudaStream_t stream;
};

// Scratch memory from the pool, allocated and freed in stream order: work queued before the free
// still sees it, so no synchronisation is needed (and the pattern is capturable in a CUDA graph).
class Workspace {
 public:
  Workspace(size_t nbytes, int device) : device_(device), ptr_(nbytes ? device_alloc(nbytes, device) : nullptr) {}
  ~Workspace() { device_free(ptr_, device_); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* get() const { return ptr_; }

 private:
  int device_;
  void* ptr_;
};

// An index space over `extent` with one or two operands' strides (per dim, 0 = broadcast), with dims
// of extent 1 dropped and neighbouring dims merged wherever every operand allows it (so a bias add
// [N, C, H, W] + [1, C, 1, 1] walks 3 dims, not 4). Throws naming `op` if more than kMaxDims remain.
kernels::StridedIndex make_strided_index(const Shape& extent, const std::vector<int64_t>& stride0,
                                         const std::vector<int64_t>& stride1, const char* op);

// broadcast_run / broadcast_strides: engine/core/shape.h, shared with the CPU backend.
using gan::broadcast_run;
using gan::broadcast_strides;

}  // namespace gan::cuda
