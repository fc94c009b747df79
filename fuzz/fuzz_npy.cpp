// .npy: magic, version, header dict (descr, fortran_order, shape), payload size (io::parse_npy).
#include <cstddef>
#include <cstdint>

#include "engine/core/error.h"
#include "engine/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gan::Tensor t = gan::io::parse_npy(data, size, "fuzz.npy");
    (void)t.numel();
  } catch (const gan::Error&) {
  }
  return 0;
}
