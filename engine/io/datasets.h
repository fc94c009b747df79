// Image data sets held in memory as 8-bit pixels, and the readers that fill them:
// IDX (MNIST, Fashion-MNIST; .gz or plain), CIFAR-10 binary batches, and folders of images.
// Every reader checks sizes and magic numbers and throws gan::Error naming the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/image.h"

namespace gan::io {

struct ImageDataset {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // [count, channels, height, width], 0..255
  std::vector<int32_t> labels;  // one per image, or empty when the source has none
  std::string source;           // where it came from, for messages and config.json

  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
};

// An IDX array: element type code (0x08 = uint8, ...), extents, raw big-endian payload.
struct IdxArray {
  uint8_t type = 0;
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// An IDX file's bytes, plain or gzip-compressed (any number of members; recognised by the gzip
// magic, whatever the name). The header's extents bound what is inflated and must match the
// payload exactly.
IdxArray parse_idx(const std::vector<uint8_t>& file_bytes, const std::string& source);
IdxArray read_idx(const std::string& path);
// The bytes of an uncompressed IDX file holding `a` (magic 0 0 type ndim, big-endian extents,
// payload as given); its extents must fit 32 bits and match the payload (element size by type).
std::vector<uint8_t> encode_idx(const IdxArray& a);
// `ds` as IDX files: images [N, H, W] uint8 (1-channel data sets only) and, when it has labels,
// labels [N] uint8 (each in 0..255); atomic writes.
void write_idx_dataset(const ImageDataset& ds, const std::string& images_path, const std::string& labels_path);

// IDX3 uint8 images [N, H, W] (+ optional IDX1 labels [N], "" for none) as 1-channel images.
ImageDataset read_idx_dataset(const std::string& images_path, const std::string& labels_path = "");
// The same from parsed arrays; `labels` may be null. The sources name the arrays in errors.
ImageDataset idx_dataset(IdxArray images, const std::string& images_source, const IdxArray* labels = nullptr,
                         const std::string& labels_source = "");
// Finds the training images (and labels) of MNIST/Fashion-MNIST in `dir`: the original names
// (train-images-idx3-ubyte[.gz], train-images.idx3-ubyte) or the bundled subset's
// (images-idx3-ubyte.gz); `dir` may also name an images file directly.
ImageDataset read_mnist_like(const std::string& dir);

// CIFAR-10 binary version: records of 1 label byte + 3072 bytes (3 x 32 x 32). `path` is a
// batch file or a folder holding data_batch_1.bin .. data_batch_5.bin (the training set;
// test_batch.bin is left out) or, inside it, cifar-10-batches-bin/.
ImageDataset read_cifar10(const std::string& path);
// Appends the records of one batch file's bytes to `ds` (3 x 32 x 32; `source` names it in errors).
void append_cifar10_batch(const uint8_t* bytes, size_t size, const std::string& source, ImageDataset& ds);

// Every PNG/JPEG/BMP/GIF/TGA under `dir` (recursive, sorted by path), centre-cropped to a square
// and resized to size x size with `channels` (1 or 3) channels. Labels are the index of each
// file's top-level subfolder when there are subfolders, else empty.
ImageDataset read_image_folder(const std::string& dir, int64_t size, int64_t channels = 3);
// One file of such a folder: decodes `bytes`, centre-crops and resizes to ds.height (= ds.width)
// with ds.channels channels, and appends the planar pixels (no label) to `ds`.
void append_image_file(const uint8_t* bytes, size_t size, const std::string& source, ImageDataset& ds);

}  // namespace gan::io
