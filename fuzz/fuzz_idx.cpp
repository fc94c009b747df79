// IDX (MNIST, Fashion-MNIST), plain or gzip with any number of members: gunzip, parse the
// header and payload, then build the data set the trainer gets. An IDX1 input is used as the
// labels of that many 1x1 images, so the labels path runs too.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/core/error.h"
#include "engine/io/datasets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gan::io::IdxArray a = gan::io::parse_idx(std::vector<uint8_t>(data, data + size), "fuzz-idx");
    if (a.dims.size() == 1 && a.dims[0] > 0) {
      // parse_idx checked the payload, so dims[0] bytes exist: the images stay as small as it.
      gan::io::IdxArray images;
      images.type = 0x08;
      images.dims = {a.dims[0], 1, 1};
      images.data.assign(static_cast<size_t>(a.dims[0]), 0);
      gan::io::ImageDataset ds = gan::io::idx_dataset(images, "fuzz-images", &a, "fuzz-labels");
      (void)ds.labels.size();
    } else {
      gan::io::ImageDataset ds = gan::io::idx_dataset(std::move(a), "fuzz-images");
      (void)ds.image(ds.count - 1)[ds.image_bytes() - 1];  // the last pixel must exist
    }
  } catch (const gan::Error&) {
  }
  return 0;
}
