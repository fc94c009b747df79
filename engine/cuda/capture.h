// The CUDA side of recording a training step as a CUDA graph (engine/capture/step_graph.h says what
// a recording is and what it asks of the code it records).
//
// Recording goes through cudaStreamBeginCapture on the engine stream (thread-local mode, so that a
// hidden synchronising call fails the capture instead of passing unnoticed). Memory that the step
// allocates while it records comes from an arena reserved before the capture, never from graph
// memory nodes: a graph's free nodes may only free what its own alloc nodes returned, and a step
// drops tensors made before it (last step's gradients). So:
//   - allocations while recording: blocks of the arena (first fit, in the order the step asks);
//   - frees of arena blocks: back to the arena's free list (the stream order of the one engine
//     stream is the graph's order, so a later reuse runs after the earlier users);
//   - frees of older memory while recording: kept until the graph is destroyed (the graph may
//     still read them).
// Measuring runs the same step uncaptured and replays its allocation sequence on an arena without
// memory: its high-water mark is the arena the recording needs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <cuda_runtime_api.h>

namespace gan::cuda {

// ---- hooks of the device allocator (engine/cuda/memory.cpp) ----
// While a recording or a measurement is on for `device`: the arena's block (recording), or null
// (the pool serves it; a measurement notes it through allocated()).
void* capture_alloc(size_t nbytes, int device);
void capture_allocated(void* ptr, size_t nbytes, int device) noexcept;
// True when the capture machinery takes this free (an arena block, or a free deferred while recording).
bool capture_free(void* ptr, int device) noexcept;
// True while `device` records: copies to or from the host and synchronisation are refused.
bool recording(int device);

// Counters for tests: device allocations from the pool and host waits on the device.
struct DeviceCounters {
  int64_t pool_allocations = 0, synchronisations = 0;
};
DeviceCounters device_counters();
void count_pool_allocation();
void count_synchronisation();

class Recording;
// The recording in progress on `device`, or null.
Recording* active_recording(int device);

// One recorded step (the implementation of gan::StepGraph on CUDA).
class Recording {
 public:
  explicit Recording(int device);
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  size_t measure(const std::function<void()>& step);
  void record(const std::function<void()>& step, size_t arena_bytes);
  void replay();
  bool recorded() const { return exec_ != nullptr; }
  int64_t launches() const { return launches_; }
  int64_t ring_waits() const { return ring_waits_; }

  // While recording (the free functions of step_graph.h land here).
  const void* input(const void* initial, size_t nbytes, std::function<void(void*)> next);
  void tensor_input(std::vector<void*> device_dst, std::vector<size_t> nbytes, std::vector<const void*> initial,
                    std::function<void(const std::vector<void*>&)> next);
  void effect(std::function<void()> fn);

  struct Arena;
  Arena& arena() { return *arena_; }

 private:
  struct TensorInput {
    void* device_dst;
    size_t staging_offset, nbytes;
  };
  void launch(size_t slot);
  void release() noexcept;

  int device_;
  cudaStream_t stream_;
  cudaGraphExec_t exec_ = nullptr;
  Arena* arena_ = nullptr;  // owned by the allocator hooks' list (it may outlive this recording)
  // The step's small per-replay values (draw numbers, optimizer scalars): one device block, mirrored
  // by the first bytes of each staging slot, copied in one transfer before each launch.
  void* values_ = nullptr;
  size_t values_used_ = 0;
  std::vector<TensorInput> tensors_;
  size_t staging_bytes_ = 0;
  std::vector<char> initial_;  // the recording run's own staging bytes
  std::vector<std::function<void(char* staging)>> actions_;
  // Pinned staging ring: the host fills slot r % K for replay r while replays r-1 ... r-K+1 may
  // still wait on the stream; the slot's event says when its last copy has read it.
  std::vector<char*> ring_;
  std::vector<cudaEvent_t> ring_done_;
  std::vector<void*> deferred_;  // older memory dropped while recording
  int64_t launches_ = 0, ring_waits_ = 0;
};

}  // namespace gan::cuda
