#include "engine/io/loader.h"

#include <algorithm>

#include "engine/rng/generator.h"

namespace gan::io {

ImageDataset fit_dataset(const ImageDataset& ds, int64_t size) {
  GAN_CHECK(size > 0, "fit_dataset: image size must be positive, got " << size);
  if (ds.height == size && ds.width == size) return ds;
  ImageDataset out;
  out.count = ds.count;
  out.channels = ds.channels;
  out.height = out.width = size;
  out.labels = ds.labels;
  out.source = ds.source;
  out.pixels.assign(static_cast<size_t>(ds.count * ds.channels * size * size), 0);
  int64_t dh = size - ds.height, dw = size - ds.width;
  bool pad = dh == dw && dh > 0 && dh <= 8 && dh % 2 == 0;
  for (int64_t i = 0; i < ds.count; ++i) {
    const uint8_t* src = ds.image(i);
    uint8_t* dst = out.pixels.data() + i * out.image_bytes();
    if (pad) {
      // Background is the image border's colour: pixel value 0 for MNIST-like data.
      for (int64_t c = 0; c < ds.channels; ++c)
        for (int64_t y = 0; y < ds.height; ++y)
          std::copy_n(src + (c * ds.height + y) * ds.width, ds.width,
                      dst + (c * size + y + dh / 2) * size + dw / 2);
      continue;
    }
    Image img;
    img.width = ds.width;
    img.height = ds.height;
    img.channels = ds.channels;
    img.pixels.resize(static_cast<size_t>(ds.image_bytes()));
    for (int64_t c = 0; c < ds.channels; ++c)
      for (int64_t p = 0; p < ds.height * ds.width; ++p) img.pixels[p * ds.channels + c] = src[c * ds.height * ds.width + p];
    Image r = resize_image(center_crop_square(img), size, size);
    for (int64_t c = 0; c < ds.channels; ++c)
      for (int64_t p = 0; p < size * size; ++p) dst[c * size * size + p] = r.pixels[p * ds.channels + c];
  }
  return out;
}

BatchLoader::BatchLoader(const ImageDataset& ds, int64_t batch_size, int64_t image_size, uint64_t seed)
    : data_(fit_dataset(ds, image_size)), batch_(batch_size), seed_(seed) {
  GAN_CHECK(batch_size > 0, "BatchLoader: batch size must be positive, got " << batch_size);
  GAN_CHECK(ds.count >= batch_size, "BatchLoader: " << ds.source << " holds " << ds.count
                                                    << " images, fewer than one batch of " << batch_size);
  per_epoch_ = data_.count / batch_;
}

std::vector<int64_t> BatchLoader::permutation(int64_t e) const {
  std::vector<int64_t> p(static_cast<size_t>(data_.count));
  for (int64_t i = 0; i < data_.count; ++i) p[i] = i;
  // Draw numbers e * 2^32 + k: epochs never share a random number.
  Generator g(seed_ ^ 0x5eed'da7a'0000'0000ULL);
  g.set_state(g.seed(), static_cast<uint64_t>(e) << 32);
  for (int64_t i = data_.count - 1; i > 0; --i) std::swap(p[i], p[g.below(static_cast<uint64_t>(i + 1))]);
  return p;
}

int64_t BatchLoader::classes() const {
  if (data_.labels.empty()) return 0;
  return 1 + *std::max_element(data_.labels.begin(), data_.labels.end());
}

void BatchLoader::set_state(int64_t epoch, int64_t position) {
  GAN_CHECK(epoch >= 0 && position >= 0 && position <= per_epoch_,
            "BatchLoader: invalid state epoch " << epoch << " position " << position << " (" << per_epoch_
                                                << " batches per epoch)");
  epoch_ = epoch;
  position_ = position;
}

Tensor BatchLoader::next(Tensor* labels) {
  if (position_ >= per_epoch_) {
    ++epoch_;
    position_ = 0;
  }
  if (perm_epoch_ != epoch_) {
    perm_ = permutation(epoch_);
    perm_epoch_ = epoch_;
  }
  const int64_t per = data_.image_bytes();
  Tensor out = Tensor::empty({batch_, data_.channels, data_.height, data_.width});
  float* o = out.data<float>();
  for (int64_t b = 0; b < batch_; ++b) {
    const uint8_t* src = data_.image(perm_[position_ * batch_ + b]);
    for (int64_t k = 0; k < per; ++k) o[b * per + k] = static_cast<float>(src[k]) / 127.5f - 1.0f;
  }
  if (labels) {
    GAN_CHECK(!data_.labels.empty(), "BatchLoader: " << data_.source << " has no labels");
    std::vector<float> l(static_cast<size_t>(batch_));
    for (int64_t b = 0; b < batch_; ++b) l[b] = static_cast<float>(data_.labels[perm_[position_ * batch_ + b]]);
    *labels = Tensor::from_vector(l, {batch_});
  }
  ++position_;
  return out;
}

}  // namespace gan::io
