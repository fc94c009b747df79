// CIFAR-10 binary batches: records of a label byte and 3x32x32 pixels (io::append_cifar10_batch).
#include <cstddef>
#include <cstdint>

#include "engine/core/error.h"
#include "engine/io/datasets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gan::io::ImageDataset ds;
    ds.channels = 3;
    ds.height = ds.width = 32;
    gan::io::append_cifar10_batch(data, size, "fuzz_batch.bin", ds);
    (void)ds.image(ds.count - 1)[ds.image_bytes() - 1];
  } catch (const gan::Error&) {
  }
  return 0;
}
