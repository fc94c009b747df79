#include "engine/cuda/memory.h"

#include <atomic>
#include <cstdint>
#include <mutex>

#include <cuda_runtime.h>

#include "engine/cuda/capture.h"
#include "engine/cuda/check.h"
#include "engine/cuda/pinned_host.h"

namespace gan::cuda {

namespace {

constexpr int kMaxDevices = 64;

struct DeviceState {
  cudaStream_t stream = nullptr;
  cudaMemPool_t pool = nullptr;
  size_t total_bytes = 0;
};

// Created once per device and never destroyed: tensors held in static objects are freed after main
// returns, and they still need their stream (by then the runtime may be unloading: frees are ignored).
DeviceState g_states[kMaxDevices];
std::atomic<bool> g_ready[kMaxDevices];
std::mutex g_init_mu;

void init_device(int device, DeviceState& st) {
  DeviceGuard guard(device);
  GAN_CUDA_CHECK(cudaStreamCreateWithFlags(&st.stream, cudaStreamNonBlocking));
  GAN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&st.pool, device));
  // Keep freed memory in the pool: without this the pool returns it to the driver at every
  // synchronisation and the next training step pays for cudaMalloc again.
  uint64_t keep_all = UINT64_MAX;
  GAN_CUDA_CHECK(cudaMemPoolSetAttribute(st.pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
  cudaDeviceProp prop{};
  GAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  st.total_bytes = prop.totalGlobalMem;
}

DeviceState& state(int device) {
  int n = device_count();
  GAN_CHECK(device >= 0 && device < n,
            "cuda:" << device << ": " << (n ? "no such GPU (" + std::to_string(n) + " visible)" : "no CUDA device is available"));
  GAN_CHECK(device < kMaxDevices, "cuda:" << device << ": at most " << kMaxDevices << " GPUs are supported");
  DeviceState& st = g_states[device];
  if (!g_ready[device].load(std::memory_order_acquire)) {
    // A failed initialisation throws before the flag is set: the next use retries.
    std::lock_guard<std::mutex> lock(g_init_mu);
    if (!g_ready[device].load(std::memory_order_relaxed)) {
      init_device(device, st);
      g_ready[device].store(true, std::memory_order_release);
    }
  }
  return st;
}

std::string bytes_str(size_t n) {
  std::ostringstream os;
  os << n << " bytes";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  if (u >= 0) os << " (" << static_cast<double>(static_cast<int64_t>(v * 100 + 0.5)) / 100 << " " << units[u] << ")";
  return os.str();
}

[[noreturn]] void out_of_memory(size_t nbytes, int device, const DeviceState& st) {
  size_t free_b = 0, total_b = 0;
  cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
  cudaGetLastError();
  std::ostringstream os;
  os << "CUDA out of memory on cuda:" << device << ": asked for " << bytes_str(nbytes);
  if (e == cudaSuccess) os << ", " << bytes_str(free_b) << " free of " << bytes_str(total_b);
  else os << " (free memory unknown: " << cudaGetErrorString(e) << ")";
  throw Error(os.str());
}

}  // namespace

int device_count() {
  static int count = [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();  // no driver / no GPU: not an error for a CPU-only run
      return 0;
    }
    return n;
  }();
  return count;
}

void* device_alloc(size_t nbytes, int device) {
  if (nbytes == 0) return nullptr;
  if (void* p = capture_alloc(nbytes, device)) return p;  // a step being recorded: its arena
  DeviceState& st = state(device);
  DeviceGuard guard(device);
  // Larger than the card: say so without asking the pool to reserve an absurd address range.
  if (nbytes > st.total_bytes) out_of_memory(nbytes, device, st);
  void* p = nullptr;
  cudaError_t e = cudaMallocFromPoolAsync(&p, nbytes, st.pool, st.stream);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    out_of_memory(nbytes, device, st);
  }
  GAN_CUDA_CHECK(e);
  count_pool_allocation();
  capture_allocated(p, nbytes, device);
  return p;
}

void device_free(void* ptr, int device) noexcept {
  if (!ptr || device < 0 || device >= kMaxDevices || !g_ready[device].load(std::memory_order_acquire)) return;
  if (capture_free(ptr, device)) return;  // an arena block, or older memory a recording still reads
  // Errors are dropped on purpose: this runs from destructors, possibly while the runtime unloads.
  if (cudaFreeAsync(ptr, g_states[device].stream) != cudaSuccess) cudaGetLastError();
}

void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  GAN_CHECK(dst && src, "copy of " << nbytes << " bytes from " << src_dev.str() << " to " << dst_dev.str()
                                   << ": null pointer");
  const Device host_side = dst_dev.is_cpu() ? src_dev : dst_dev;
  GAN_CHECK(!(dst_dev.is_cpu() != src_dev.is_cpu() && recording(host_side.index)),
            "a copy of " << nbytes << " bytes from " << src_dev.str() << " to " << dst_dev.str()
                         << " inside a training step being recorded as a CUDA graph: a recorded step cannot read or "
                            "write host memory (per-step host values go through replay_input, "
                            "engine/capture/step_graph.h; --cuda-graph off runs the step uncaptured)");
  if (dst_dev.is_cuda() && src_dev.is_cpu()) {
    DeviceGuard guard(dst_dev.index);
    GAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream(dst_dev.index)));
    pinned_host_note_read(src, nbytes, dst_dev.index, stream(dst_dev.index));
    return;
  }
  if (dst_dev.is_cpu() && src_dev.is_cuda()) {
    DeviceGuard guard(src_dev.index);
    cudaStream_t s = stream(src_dev.index);
    GAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s));
    count_synchronisation();
    GAN_CUDA_CHECK(cudaStreamSynchronize(s));  // the host reads dst next
    return;
  }
  if (dst_dev.is_cuda() && src_dev.is_cuda()) {
    if (dst_dev.index == src_dev.index) {
      DeviceGuard guard(dst_dev.index);
      GAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream(dst_dev.index)));
      return;
    }
    // Across GPUs: the copy runs on the destination's stream after the source's pending writes, and the
    // source's stream waits for the copy before it may reuse (or free) the source memory.
    cudaStream_t ss = stream(src_dev.index), ds = stream(dst_dev.index);
    cudaEvent_t src_ready, copied;
    {
      DeviceGuard guard(src_dev.index);
      GAN_CUDA_CHECK(cudaEventCreateWithFlags(&src_ready, cudaEventDisableTiming));
      GAN_CUDA_CHECK(cudaEventRecord(src_ready, ss));
    }
    DeviceGuard guard(dst_dev.index);
    GAN_CUDA_CHECK(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));
    GAN_CUDA_CHECK(cudaStreamWaitEvent(ds, src_ready, 0));
    GAN_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_dev.index, src, src_dev.index, nbytes, ds));
    GAN_CUDA_CHECK(cudaEventRecord(copied, ds));
    GAN_CUDA_CHECK(cudaStreamWaitEvent(ss, copied, 0));
    // Destroying a recorded event is allowed: its resources go once the event completes.
    GAN_CUDA_CHECK(cudaEventDestroy(src_ready));
    GAN_CUDA_CHECK(cudaEventDestroy(copied));
    return;
  }
  GAN_FAIL("copy: host to host copies do not go through the CUDA backend");
}

cudaStream_t stream(int device) { return state(device).stream; }

void synchronize(int device) {
  GAN_CHECK(!recording(device), "cuda:" << device << ": waiting for the device inside a training step being recorded as a "
                                           "CUDA graph (--cuda-graph off runs the step uncaptured)");
  count_synchronisation();
  DeviceGuard guard(device);
  GAN_CUDA_CHECK(cudaStreamSynchronize(stream(device)));
}

DeviceGuard::DeviceGuard(int device) {
  int cur = -1;
  GAN_CUDA_CHECK(cudaGetDevice(&cur));
  if (cur != device) {
    GAN_CUDA_CHECK(cudaSetDevice(device));
    previous_ = cur;
  }
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0 && cudaSetDevice(previous_) != cudaSuccess) cudaGetLastError();
}

}  // namespace gan::cuda
