// 8-bit images: sample grids, PNG writing (stb_image_write), PNG/JPEG/BMP reading (stb_image)
// and resizing (stb_image_resize).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::io {

// Interleaved rows of pixels: pixels[(y * width + x) * channels + c].
struct Image {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
  uint8_t at(int64_t y, int64_t x, int64_t c) const { return pixels[static_cast<size_t>((y * width + x) * channels + c)]; }
};

// Tiles images[N, C, H, W] (C = 1 or 3, values in [-1, 1], clamped) into rows of `nrow` with
// `padding` pixels of `pad_value` (0..255) around each, as torchvision.utils.make_grid lays them
// out; a value v maps to round((v + 1) / 2 * 255).
Image make_grid(const Tensor& images, int64_t nrow, int64_t padding = 2, uint8_t pad_value = 0);

std::string encode_png(const Image& img);
void save_png(const std::string& path, const Image& img);  // atomic

// The most pixels decode_image accepts (2^25, 5792 x 5792: far above any training image).
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 25;
// Decodes PNG, JPEG, BMP, GIF (first frame), TGA; channels 0 keeps the file's own (1..4), else
// converts to `channels`. Throws naming the file and stb's reason, or the size over kMaxImagePixels.
Image load_image(const std::string& path, int channels = 0);
Image decode_image(const uint8_t* bytes, size_t size, int channels, const std::string& source);

// Resamples to width x height (Mitchell filter when shrinking, as stb_image_resize does).
Image resize_image(const Image& img, int64_t width, int64_t height);
// The largest centred square.
Image center_crop_square(const Image& img);

}  // namespace gan::io
