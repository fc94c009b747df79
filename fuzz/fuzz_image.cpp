// One file of an image folder (PNG, JPEG, BMP, GIF, TGA through stb_image): decode, centre-crop,
// resize and append, as read_image_folder does. The first byte picks grey or RGB and the size, so
// both conversions and both resize directions run.
#include <cstddef>
#include <cstdint>

#include "engine/core/error.h"
#include "engine/io/datasets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  try {
    gan::io::ImageDataset ds;
    ds.channels = (data[0] & 1) ? 3 : 1;
    ds.height = ds.width = (data[0] & 2) ? 32 : 4;
    gan::io::append_image_file(data + 1, size - 1, "fuzz.img", ds);
  } catch (const gan::Error&) {
  }
  return 0;
}
