#include "engine/cuda/capture.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <string>

#include "engine/cuda/check.h"
#include "engine/cuda/memory.h"

namespace gan::cuda {

namespace {
constexpr int kMaxDevices = 64;
constexpr size_t kAlign = 256;                 // what cudaMalloc guarantees, and what kernels assume
constexpr size_t kValueBytes = size_t{64} << 10;  // room for a step's small per-replay values
constexpr size_t kRingSlots = 4;

size_t aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

// First fit over [0, capacity): the same sequence of takes and gives lands on the same offsets, which
// is what lets a measurement predict the recording's high-water mark.
struct Recording::Arena {
  Arena(size_t cap, int dev) : capacity(cap), device(dev) { free_blocks[0] = cap; }
  ~Arena() {
    if (base && cudaFreeAsync(base, stream(device)) != cudaSuccess) cudaGetLastError();
  }

  bool take(size_t n, size_t* offset) {
    n = aligned(std::max<size_t>(n, 1));
    for (auto it = free_blocks.begin(); it != free_blocks.end(); ++it) {
      if (it->second < n) continue;
      const size_t off = it->first, left = it->second - n;
      free_blocks.erase(it);
      if (left) free_blocks[off + n] = left;
      used[off] = n;
      high_water = std::max(high_water, off + n);
      *offset = off;
      return true;
    }
    return false;
  }
  void give(size_t off) {
    auto u = used.find(off);
    if (u == used.end()) return;
    size_t begin = off, size = u->second;
    used.erase(u);
    auto next = free_blocks.lower_bound(begin);
    if (next != free_blocks.end() && next->first == begin + size) {
      size += next->second;
      next = free_blocks.erase(next);
    }
    if (next != free_blocks.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == begin) {
        begin = prev->first;
        size += prev->second;
        free_blocks.erase(prev);
      }
    }
    free_blocks[begin] = size;
  }
  bool holds(const void* p) const {
    const char* c = static_cast<const char*>(p);
    return base && c >= base && c < base + capacity;
  }

  size_t capacity;
  int device;
  char* base = nullptr;  // null for a measurement
  std::map<size_t, size_t> free_blocks, used;
  std::map<const void*, size_t> measured;  // a measurement: pool pointer -> simulated offset
  size_t high_water = 0;
  bool retired = false;  // its graph was destroyed
};

namespace {

// What the allocator hooks see. One mutex: recordings are rare and short, and the hooks' fast path
// (nothing recorded, no arena alive) reads one atomic.
struct CaptureState {
  std::mutex mu;
  std::atomic<int> active{0};  // arenas alive + measurements/recordings in progress, all devices
  Recording* recording[kMaxDevices] = {};
  std::unique_ptr<Recording::Arena> measuring[kMaxDevices];
  std::vector<void*>* deferred[kMaxDevices] = {};
  // Every arena a graph or a tensor still uses. A graph's arena outlives it while tensors made by the
  // recording (gradients, logged losses) still hold blocks: it goes with the last of them.
  std::vector<std::unique_ptr<Recording::Arena>> arenas;
};
CaptureState& cs() {
  static CaptureState* s = new CaptureState;  // never destroyed: frees run from static destructors
  return *s;
}

std::atomic<int64_t> g_pool_allocations{0}, g_synchronisations{0};

Recording* current(int device) {
  return device >= 0 && device < kMaxDevices ? cs().recording[device] : nullptr;
}

}  // namespace

DeviceCounters device_counters() { return {g_pool_allocations.load(), g_synchronisations.load()}; }
void count_pool_allocation() { ++g_pool_allocations; }
void count_synchronisation() { ++g_synchronisations; }

bool recording(int device) {
  if (cs().active.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(cs().mu);
  return current(device) != nullptr;
}

void* capture_alloc(size_t nbytes, int device) {
  if (cs().active.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard<std::mutex> lock(cs().mu);
  Recording* r = current(device);
  if (!r) return nullptr;
  Recording::Arena& arena = r->arena();
  size_t off = 0;
  GAN_CHECK(arena.take(nbytes, &off),
            "recording the training step on cuda:" << device << ": it asks for " << nbytes << " bytes beyond the "
                << arena.capacity << " the uncaptured step measured (a step that allocates differently each time "
                << "cannot be replayed; --cuda-graph off runs it uncaptured)");
  return arena.base + off;
}

void capture_allocated(void* ptr, size_t nbytes, int device) noexcept {
  if (cs().active.load(std::memory_order_acquire) == 0 || device < 0 || device >= kMaxDevices) return;
  std::lock_guard<std::mutex> lock(cs().mu);
  auto& m = cs().measuring[device];
  if (!m) return;
  size_t off = 0;
  if (m->take(nbytes, &off)) m->measured[ptr] = off;
}

bool capture_free(void* ptr, int device) noexcept {
  if (cs().active.load(std::memory_order_acquire) == 0 || device < 0 || device >= kMaxDevices) return false;
  std::lock_guard<std::mutex> lock(cs().mu);
  // An arena block (of the recording under way, or of a graph some tensor still uses).
  auto& arenas = cs().arenas;
  for (auto it = arenas.begin(); it != arenas.end(); ++it) {
    Recording::Arena& a = **it;
    if (!a.holds(ptr)) continue;
    a.give(static_cast<size_t>(static_cast<char*>(ptr) - a.base));
    if (a.retired && a.used.empty()) {  // its graph is gone and so is its last tensor
      arenas.erase(it);
      cs().active.fetch_sub(1);
    }
    return true;
  }
  if (auto& m = cs().measuring[device]) {
    if (auto it = m->measured.find(ptr); it != m->measured.end()) {
      m->give(it->second);
      m->measured.erase(it);
    }
    return false;  // the pool's memory: freed as usual
  }
  if (auto* d = cs().deferred[device]) {
    try {
      d->push_back(ptr);
    } catch (...) {
      // Out of host memory: leaking the block is safer than freeing what the graph may read.
    }
    return true;
  }
  return false;
}

Recording::Recording(int device) : device_(device), stream_(stream(device)) {}

Recording::~Recording() { release(); }

void Recording::release() noexcept {
  if (exec_ && cudaGraphExecDestroy(exec_) != cudaSuccess) cudaGetLastError();
  exec_ = nullptr;
  // Launched work may still run: everything below is freed in stream order or after a wait.
  if (cudaStreamSynchronize(stream_) != cudaSuccess) cudaGetLastError();
  for (void* p : deferred_) device_free(p, device_);
  deferred_.clear();
  if (values_ && cudaFreeAsync(values_, stream_) != cudaSuccess) cudaGetLastError();
  values_ = nullptr;
  for (char* s : ring_)
    if (cudaFreeHost(s) != cudaSuccess) cudaGetLastError();
  ring_.clear();
  for (cudaEvent_t e : ring_done_)
    if (cudaEventDestroy(e) != cudaSuccess) cudaGetLastError();
  ring_done_.clear();
  if (arena_) {
    std::lock_guard<std::mutex> lock(cs().mu);
    arena_->retired = true;
    if (arena_->used.empty()) {
      auto& v = cs().arenas;
      v.erase(std::remove_if(v.begin(), v.end(), [&](const std::unique_ptr<Arena>& a) { return a.get() == arena_; }),
              v.end());
      cs().active.fetch_sub(1);
    }
    arena_ = nullptr;
  }
}

size_t Recording::measure(const std::function<void()>& step) {
  {
    std::lock_guard<std::mutex> lock(cs().mu);
    GAN_CHECK(!cs().measuring[device_] && !cs().recording[device_],
              "cuda:" << device_ << ": a step is already being measured or recorded");
    cs().measuring[device_] = std::make_unique<Arena>(SIZE_MAX / 2, device_);
    cs().active.fetch_add(1);
  }
  auto done = [&] {
    std::lock_guard<std::mutex> lock(cs().mu);
    const size_t hw = cs().measuring[device_]->high_water;
    cs().measuring[device_].reset();
    cs().active.fetch_sub(1);
    return hw;
  };
  try {
    step();
  } catch (...) {
    done();
    throw;
  }
  return done();
}

void Recording::record(const std::function<void()>& step, size_t arena_bytes) {
  GAN_CHECK(!exec_, "cuda:" << device_ << ": this step is already recorded");
  DeviceGuard guard(device_);
  // Reserve the arena and the value block now: no allocation may reach the pool while capturing.
  auto arena = std::make_unique<Arena>(aligned(arena_bytes) + (size_t{1} << 20), device_);
  arena->base = static_cast<char*>(device_alloc(arena->capacity, device_));
  if (!values_) values_ = device_alloc(kValueBytes, device_);
  GAN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  {
    std::lock_guard<std::mutex> lock(cs().mu);
    GAN_CHECK(!cs().measuring[device_] && !cs().recording[device_],
              "cuda:" << device_ << ": a step is already being measured or recorded");
    arena_ = arena.get();
    cs().arenas.push_back(std::move(arena));
    cs().active.fetch_add(1);
    cs().recording[device_] = this;
    cs().deferred[device_] = &deferred_;
  }
  auto stop_recording = [&] {
    std::lock_guard<std::mutex> lock(cs().mu);
    cs().recording[device_] = nullptr;
    cs().deferred[device_] = nullptr;
  };
  GAN_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  cudaGraph_t graph = nullptr;
  try {
    step();
  } catch (const std::exception& e) {
    if (cudaStreamEndCapture(stream_, &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    stop_recording();
    throw Error(std::string("recording the training step as a CUDA graph failed: ") + e.what() +
                " (--cuda-graph off runs the step uncaptured)");
  }
  const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
  stop_recording();
  if (ended != cudaSuccess) {
    cudaGetLastError();
    if (graph) cudaGraphDestroy(graph);
    throw Error(std::string("recording the training step as a CUDA graph failed: ") + cudaGetErrorString(ended) +
                " (a call inside the step cannot be captured; --cuda-graph off runs it uncaptured)");
  }
  const cudaError_t made = cudaGraphInstantiateWithFlags(&exec_, graph, 0);
  cudaGraphDestroy(graph);
  if (made != cudaSuccess) {
    cudaGetLastError();
    exec_ = nullptr;
    throw Error(std::string("instantiating the recorded training step failed: ") + cudaGetErrorString(made));
  }
  for (size_t i = 0; i < kRingSlots; ++i) {
    char* slot = nullptr;
    GAN_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&slot), std::max(staging_bytes_, initial_.size()) + 1,
                                 cudaHostAllocDefault));
    ring_.push_back(slot);
    cudaEvent_t e;
    GAN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    ring_done_.push_back(e);
  }
  // The recording's own run: the values its host code computed.
  std::memcpy(ring_[0], initial_.data(), initial_.size());
  initial_.clear();
  initial_.shrink_to_fit();
  launch(0);
}

void Recording::launch(size_t slot) {
  char* s = ring_[slot];
  if (values_used_) GAN_CUDA_CHECK(cudaMemcpyAsync(values_, s, values_used_, cudaMemcpyHostToDevice, stream_));
  for (const TensorInput& t : tensors_)
    GAN_CUDA_CHECK(cudaMemcpyAsync(t.device_dst, s + t.staging_offset, t.nbytes, cudaMemcpyHostToDevice, stream_));
  GAN_CUDA_CHECK(cudaEventRecord(ring_done_[slot], stream_));
  GAN_CUDA_CHECK(cudaGraphLaunch(exec_, stream_));
  ++launches_;
}

void Recording::replay() {
  GAN_CHECK(exec_, "cuda:" << device_ << ": no recorded step to replay");
  DeviceGuard guard(device_);
  const size_t slot = static_cast<size_t>(launches_) % kRingSlots;
  // The slot's last copies were queued kRingSlots launches ago: wait only if they have not run yet.
  cudaError_t q = cudaEventQuery(ring_done_[slot]);
  if (q == cudaErrorNotReady) {
    ++ring_waits_;
    q = cudaEventSynchronize(ring_done_[slot]);
  }
  GAN_CUDA_CHECK(q);
  for (auto& act : actions_) act(ring_[slot]);
  launch(slot);
}

const void* Recording::input(const void* initial, size_t nbytes, std::function<void(void*)> next) {
  const size_t off = (values_used_ + 15) / 16 * 16;
  GAN_CHECK(off + nbytes <= kValueBytes, "recording the training step: more than " << kValueBytes
                                             << " bytes of per-step values");
  values_used_ = off + nbytes;
  staging_bytes_ = std::max(staging_bytes_, values_used_);
  if (initial_.size() < kValueBytes) initial_.resize(kValueBytes, 0);
  std::memcpy(initial_.data() + off, initial, nbytes);
  actions_.push_back([off, next = std::move(next)](char* staging) { next(staging + off); });
  return static_cast<char*>(values_) + off;
}

void Recording::tensor_input(std::vector<void*> dst, std::vector<size_t> nbytes, std::vector<const void*> initial,
                             std::function<void(const std::vector<void*>&)> next) {
  // Batches live after the value block in every staging slot.
  if (initial_.size() < kValueBytes) initial_.resize(kValueBytes, 0);
  std::vector<size_t> offsets;
  for (size_t i = 0; i < dst.size(); ++i) {
    const size_t off = aligned(std::max(initial_.size(), staging_bytes_));
    initial_.resize(off + nbytes[i], 0);
    std::memcpy(initial_.data() + off, initial[i], nbytes[i]);
    staging_bytes_ = off + nbytes[i];
    tensors_.push_back({dst[i], off, nbytes[i]});
    offsets.push_back(off);
  }
  actions_.push_back([offsets, next = std::move(next)](char* staging) {
    std::vector<void*> at;
    for (size_t off : offsets) at.push_back(staging + off);
    next(at);
  });
}

void Recording::effect(std::function<void()> fn) {
  actions_.push_back([fn = std::move(fn)](char*) { fn(); });
}

Recording* active_recording(int device) {
  if (cs().active.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard<std::mutex> lock(cs().mu);
  return current(device);
}

}  // namespace gan::cuda
