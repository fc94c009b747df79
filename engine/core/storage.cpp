#include "engine/core/storage.h"

#include <sys/sysinfo.h>

#include <algorithm>
#include <atomic>
#include <sstream>
#include <cstdlib>
#include <cstring>

#include "engine/build_config.h"
#include "engine/core/error.h"
#ifdef GAN_WITH_CUDA
// The one CUDA piece below core: device memory, streams and copies (it knows Device and nothing
// of tensors). Storage owns device memory, so it must reach the pool; nothing else of engine/cuda
// is included from core (tests/check_layering.cmake enforces it).
#include "engine/cuda/memory.h"
#endif

namespace gan {

namespace {
constexpr size_t kHostAlignment = 64;  // a cache line, and enough for AVX-512 loads

// Linux grants almost any request (overcommit) and kills the process once the pages are touched,
// so a model sized by a mistyped flag would end in the OOM killer with no message. Tensor memory
// beyond the machine's RAM and swap together is refused up front instead.
size_t host_memory_limit() {
  static const size_t limit = [] {
    struct sysinfo si {};
    if (::sysinfo(&si) != 0) return SIZE_MAX;
    return static_cast<size_t>((si.totalram + si.totalswap) * si.mem_unit);
  }();
  return limit;
}
std::atomic<size_t> live_host_bytes{0};

std::string gib(size_t bytes) {
  std::ostringstream o;
  o.precision(3);
  o << static_cast<double>(bytes) / (1u << 30) << " GiB";
  return o.str();
}

size_t host_rounded(size_t n) {
  return std::max((n + kHostAlignment - 1) / kHostAlignment * kHostAlignment, kHostAlignment);
}

// Counts a host block of `n` bytes against the machine's memory (throws when it does not fit).
size_t reserve_host(size_t n) {
  GAN_CHECK(n <= SIZE_MAX - kHostAlignment, "out of host memory: asked for " << n << " bytes");
  const size_t rounded = host_rounded(n);
  const size_t before = live_host_bytes.fetch_add(rounded);
  if (before + rounded > host_memory_limit()) {
    live_host_bytes.fetch_sub(rounded);
    GAN_FAIL("out of host memory: a tensor of " << gib(n) << " on top of the " << gib(before)
                                                << " this process holds exceeds the machine's " << gib(host_memory_limit())
                                                << " of RAM and swap");
  }
  return rounded;
}

void* host_alloc(size_t n) {
  const size_t rounded = reserve_host(n);
  void* p = std::aligned_alloc(kHostAlignment, rounded);
  if (!p) live_host_bytes.fetch_sub(rounded);
  GAN_CHECK(p, "out of host memory: asked for " << gib(n));
  return p;
}
}  // namespace

Storage::Storage(size_t n, Device dev) : nbytes(n), device(dev) {
  if (dev.is_cpu()) {
    data = host_alloc(n);
    return;
  }
#ifdef GAN_WITH_CUDA
  data = cuda::device_alloc(n, dev.index);
#else
  GAN_FAIL("cannot allocate on " << dev.str() << ": this build has no CUDA backend (configure with GAN_CUDA=ON)");
#endif
}

Storage::Storage(size_t n, PinnedHost) : nbytes(n), device(Device::cpu()) {
#ifdef GAN_WITH_CUDA
  const size_t rounded = reserve_host(n);
  data = cuda::pinned_host_alloc(rounded);
  if (data) {
    pinned = true;
    return;
  }
  live_host_bytes.fetch_sub(rounded);  // host_alloc counts it again
#endif
  data = host_alloc(n);
}

Storage::~Storage() {
  if (!data) return;
  if (device.is_cpu()) {
#ifdef GAN_WITH_CUDA
    if (pinned) cuda::pinned_host_free(data);
#endif
    if (!pinned) std::free(data);
    live_host_bytes.fetch_sub(host_rounded(nbytes));
    return;
  }
#ifdef GAN_WITH_CUDA
  cuda::device_free(data, device.index);
#endif
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
#ifdef GAN_WITH_CUDA
  cuda::copy(dst, dst_dev, src, src_dev, nbytes);
#else
  GAN_FAIL("copy between " << src_dev.str() << " and " << dst_dev.str() << ": this build has no CUDA backend");
#endif
}

}  // namespace gan
