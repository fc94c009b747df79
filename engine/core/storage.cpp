#include "engine/core/storage.h"

#include <cstdlib>
#include <cstring>

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
}

Storage::Storage(size_t n, Device dev) : nbytes(n), device(dev) {
  if (dev.is_cpu()) {
    size_t rounded = (n + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
    data = std::aligned_alloc(kHostAlignment, rounded ? rounded : kHostAlignment);
    GAN_CHECK(data, "out of host memory: asked for " << n << " bytes");
    return;
  }
#ifdef GAN_WITH_CUDA
  data = cuda::device_alloc(n, dev.index);
#else
  GAN_FAIL("cannot allocate on " << dev.str() << ": this build has no CUDA backend (configure with GAN_CUDA=ON)");
#endif
}

Storage::~Storage() {
  if (!data) return;
  if (device.is_cpu()) {
    std::free(data);
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
