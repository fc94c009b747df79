// The cache of page-locked host blocks (engine/cuda/memory.h says what they are for).
//
// A block handed to a Storage may be the source of an asynchronous copy that is still queued when
// the Storage dies, so a freed block is only marked free: copy() records the block's event after
// each read, and a block is handed out again once that event has completed. Blocks are never given
// back to the driver (cudaFreeHost synchronises the whole device); the cache holds the most blocks
// ever in use at once, a few batches for a training run.
#include <cstdint>
#include <map>
#include <mutex>

#include <cuda_runtime.h>

#include "engine/cuda/memory.h"
#include "engine/cuda/pinned_host.h"

namespace gan::cuda {

namespace {

struct Block {
  size_t nbytes = 0;
  bool in_use = false;
  cudaEvent_t read = nullptr;  // recorded after the last copy that read the block
  int event_device = -1;
};

struct Cache {
  std::mutex mu;
  std::map<char*, Block> blocks;  // by address, to find the block of a copy's source
  size_t bytes = 0;
};

// Never destroyed: Storage frees run from static destructors after main returns.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

// A block may be reused when no copy that read it is still queued.
bool reads_done(Block& b) {
  if (!b.read) return true;
  const cudaError_t q = cudaEventQuery(b.read);
  if (q == cudaSuccess) return true;
  cudaGetLastError();  // cudaErrorNotReady (or a sticky error, where the block is not reused either)
  return false;
}

// Larger blocks serve smaller requests up to twice over, so batches of one size share blocks and a
// tiny request does not pin a batch-sized one.
constexpr size_t kRound = size_t{1} << 16;

}  // namespace

void* pinned_host_alloc(size_t nbytes) noexcept {
  if (nbytes == 0 || device_count() == 0) return nullptr;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [ptr, b] : c.blocks)
    if (!b.in_use && b.nbytes >= nbytes && b.nbytes / 2 <= nbytes && reads_done(b)) {
      b.in_use = true;
      return ptr;
    }
  if (nbytes > SIZE_MAX - kRound) return nullptr;
  const size_t rounded = (nbytes + kRound - 1) / kRound * kRound;
  void* p = nullptr;
  if (cudaHostAlloc(&p, rounded, cudaHostAllocPortable) != cudaSuccess || !p) {
    cudaGetLastError();
    return nullptr;
  }
  Block b;
  b.nbytes = rounded;
  b.in_use = true;
  c.blocks.emplace(static_cast<char*>(p), b);
  c.bytes += rounded;
  return p;
}

void pinned_host_free(void* ptr) noexcept {
  if (!ptr) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.blocks.find(static_cast<char*>(ptr));
  if (it != c.blocks.end()) it->second.in_use = false;
}

size_t pinned_host_bytes() noexcept {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

void pinned_host_note_read(const void* src, size_t nbytes, int device, cudaStream_t stream) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.blocks.empty()) return;
  const char* s = static_cast<const char*>(src);
  auto it = c.blocks.upper_bound(const_cast<char*>(s));
  if (it == c.blocks.begin()) return;
  --it;
  Block& b = it->second;
  if (s + nbytes > it->first + b.nbytes) return;  // not inside this block: pageable memory
  if (b.read && b.event_device != device) {
    cudaEventDestroy(b.read);  // an event is recorded on streams of the device it was made on
    b.read = nullptr;
  }
  if (!b.read) {
    GAN_CUDA_CHECK(cudaEventCreateWithFlags(&b.read, cudaEventDisableTiming));
    b.event_device = device;
  }
  GAN_CUDA_CHECK(cudaEventRecord(b.read, stream));
}

}  // namespace gan::cuda
