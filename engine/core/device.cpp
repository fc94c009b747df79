#include "engine/core/device.h"

#include "engine/core/error.h"
#include "engine/core/parse.h"
#include "engine/build_config.h"
#ifdef GAN_WITH_CUDA
// The one CUDA piece below core: device memory, streams and copies (it knows Device and nothing
// of tensors). Storage owns device memory, so it must reach the pool; nothing else of engine/cuda
// is included from core (tests/check_layering.cmake enforces it).
#include "engine/cuda/memory.h"
#endif

namespace gan {

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::cpu();
  if (s == "cuda") return Device::cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    std::string idx = s.substr(5);
    GAN_CHECK(!idx.empty() && idx.size() <= 4 && idx.find_first_not_of("0123456789") == std::string::npos,
              "bad device '" << s << "': expected cpu, cuda or cuda:N with N a GPU index (0 to 9999)");
    return Device::cuda(static_cast<int>(*parse_int64(idx)));  // at most 4 digits, checked above
  }
  GAN_FAIL("bad device '" << s << "': expected cpu, cuda or cuda:N");
}

int cuda_device_count() {
#ifdef GAN_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

bool cuda_available() { return cuda_device_count() > 0; }

}  // namespace gan
