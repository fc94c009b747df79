// Shuffled mini-batches of an ImageDataset as float tensors in [-1, 1].
//
// Images are brought to the model's size once, up front: padded with background when slightly
// smaller (MNIST's 28x28 -> 32x32 keeps the digits centred and unscaled), else centre-cropped
// and resized. Each epoch visits the images in an order that is a pure function of (seed,
// epoch), so the loader's whole state is (epoch, position) and a resumed run sees exactly the
// batches the uninterrupted run would have seen. The last partial batch of an epoch is dropped.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/io/datasets.h"

namespace gan::io {

// Returns `ds` at size x size (same channels): itself when it already is, padded when 0 < size -
// side <= 8 with an even difference, else centre-cropped and resized.
ImageDataset fit_dataset(const ImageDataset& ds, int64_t size);

class BatchLoader {
 public:
  BatchLoader(const ImageDataset& ds, int64_t batch_size, int64_t image_size, uint64_t seed);

  // The next batch [B, C, S, S], float32 on the CPU, pixel p mapped to p / 127.5 - 1; with
  // `labels`, also the images' class ids [B] (float32; throws when the data set has none).
  Tensor next(Tensor* labels = nullptr);

  int64_t batch_size() const { return batch_; }
  int64_t batches_per_epoch() const { return per_epoch_; }
  int64_t epoch() const { return epoch_; }        // of the next batch
  int64_t position() const { return position_; }  // batches of that epoch already served
  void set_state(int64_t epoch, int64_t position);
  const ImageDataset& data() const { return data_; }
  // Classes of a labelled data set (1 + the largest label), 0 without labels.
  int64_t classes() const;

  // The order of epoch `e` (exposed for tests).
  std::vector<int64_t> permutation(int64_t e) const;

 private:
  ImageDataset data_;
  int64_t batch_, per_epoch_;
  uint64_t seed_;
  int64_t epoch_ = 0, position_ = 0;
  std::vector<int64_t> perm_;
  int64_t perm_epoch_ = -1;
};

}  // namespace gan::io
