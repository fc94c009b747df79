// safetensors: header JSON, dtypes, shapes and offsets (io::parse_safetensors), then every tensor
// converted the way a checkpoint loader converts it.
#include <cstddef>
#include <cstdint>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gan::io::SafetensorsFile f = gan::io::parse_safetensors(data, size, "fuzz.safetensors");
    for (const auto& [name, t] : f.tensors) {
      if (t.is_integer() && t.data.size() == gan::io::safetensors_dtype_size(t.dtype)) (void)t.to_int64();
      (void)t.to_tensor();
    }
  } catch (const gan::Error&) {
    // A named error is the correct answer to a malformed file.
  }
  return 0;
}
