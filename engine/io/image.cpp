#include "engine/io/image.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "engine/io/file_util.h"
#include "engine/io/stb.h"

namespace gan::io {

Image make_grid(const Tensor& images, int64_t nrow, int64_t padding, uint8_t pad_value) {
  GAN_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3) && images.size(0) > 0,
            "make_grid: expects images [N, 1 or 3, H, W], got " << images.str());
  GAN_CHECK(nrow > 0 && padding >= 0, "make_grid: nrow " << nrow << " and padding " << padding << " must be positive");
  std::vector<float> v = images.to_float_vector();
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t cols = std::min(nrow, n), rows = (n + cols - 1) / cols;
  Image img;
  img.channels = c;
  img.width = cols * (w + padding) + padding;
  img.height = rows * (h + padding) + padding;
  img.pixels.assign(static_cast<size_t>(img.width * img.height * c), pad_value);
  for (int64_t k = 0; k < n; ++k) {
    int64_t y0 = (k / cols) * (h + padding) + padding, x0 = (k % cols) * (w + padding) + padding;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          float val = v[static_cast<size_t>(((k * c + ch) * h + y) * w + x)];
          // NaN maps to 0 rather than to undefined behaviour in the cast.
          double u = std::isnan(val) ? 0.0 : std::clamp((static_cast<double>(val) + 1.0) * 0.5, 0.0, 1.0);
          img.pixels[static_cast<size_t>(((y0 + y) * img.width + x0 + x) * c + ch)] =
              static_cast<uint8_t>(std::lround(u * 255.0));
        }
  }
  return img;
}

static void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::string*>(ctx);
  out->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

std::string encode_png(const Image& img) {
  GAN_CHECK(img.width > 0 && img.height > 0 && img.channels >= 1 && img.channels <= 4 &&
                img.pixels.size() == static_cast<size_t>(img.width * img.height * img.channels),
            "encode_png: inconsistent image " << img.width << "x" << img.height << "x" << img.channels);
  std::string out;
  int ok = stbi_write_png_to_func(append_bytes, &out, static_cast<int>(img.width), static_cast<int>(img.height),
                                  static_cast<int>(img.channels), img.pixels.data(),
                                  static_cast<int>(img.width * img.channels));
  GAN_CHECK(ok, "encode_png: stb_image_write failed for a " << img.width << "x" << img.height << " image");
  return out;
}

void save_png(const std::string& path, const Image& img) { write_file_atomic(path, encode_png(img)); }

namespace {
// The number of codes in the largest Huffman table of a JPEG stream, walking its marker segments
// (and skipping the entropy-coded data after each start of scan); 0 for other formats. The JPEG
// decoder of the stb_image in Debian writes a table of more than 256 codes past its 257-entry
// arrays (found by fuzzing; UBSan reports it), so such tables are refused before decoding.
int largest_jpeg_huffman_table(const uint8_t* b, size_t size) {
  if (size < 4 || b[0] != 0xFF || b[1] != 0xD8) return 0;
  int largest = 0;
  size_t pos = 2;
  while (pos + 4 <= size) {
    if (b[pos] != 0xFF) {  // stb skips bytes between segments, so the walk does too
      ++pos;
      continue;
    }
    const uint8_t marker = b[pos + 1];
    if (marker == 0xFF || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // fill bytes, no length
      pos += marker == 0xFF ? 1 : 2;
      continue;
    }
    if (marker == 0xD9) break;  // end of image
    const size_t end = std::min(size, pos + 2 + ((size_t(b[pos + 2]) << 8) | b[pos + 3]));
    if (marker == 0xC4)  // define Huffman tables: class/id byte, 16 counts, the symbols
      for (size_t p = pos + 4; p < end && p + 17 <= size;) {  // stb reads a table while any length is left
        int n = 0;
        for (int i = 1; i <= 16; ++i) n += b[p + i];
        largest = std::max(largest, n);
        p += 17 + static_cast<size_t>(n);
      }
    pos = end;
    if (marker == 0xDA)  // start of scan: entropy-coded data up to the next marker that is not a restart
      while (pos + 1 < size && !(b[pos] == 0xFF && b[pos + 1] != 0 && (b[pos + 1] < 0xD0 || b[pos + 1] > 0xD7))) ++pos;
  }
  return largest;
}

// Whether a PNG's first IDAT chunk is empty. stb_image then copies that chunk's 0 bytes into a
// buffer it has not allocated yet, memcpy from a null pointer (found by fuzzing; UBSan reports it).
// No encoder writes such a file.
bool png_starts_with_empty_idat(const uint8_t* b, size_t size) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 8 || std::memcmp(b, signature, 8) != 0) return false;
  for (size_t pos = 8; pos + 8 <= size;) {
    const uint32_t len = (uint32_t(b[pos]) << 24) | (uint32_t(b[pos + 1]) << 16) | (uint32_t(b[pos + 2]) << 8) | b[pos + 3];
    if (std::memcmp(b + pos + 4, "IDAT", 4) == 0) return len == 0;
    if (len > size) return false;
    pos += 12 + static_cast<size_t>(len);  // length, type, data, CRC
  }
  return false;
}
}  // namespace

Image decode_image(const uint8_t* bytes, size_t size, int channels, const std::string& source) {
  GAN_CHECK(channels >= 0 && channels <= 4, "decode_image: channels must be 0..4, got " << channels);
  GAN_CHECK(size <= static_cast<size_t>(INT32_MAX), source << ": " << size << " bytes is over stb_image's 2 GiB limit");
  const int codes = largest_jpeg_huffman_table(bytes, size);
  GAN_CHECK(codes <= 256, source << ": damaged JPEG: a Huffman table declares " << codes << " codes, expected at most 256");
  GAN_CHECK(!png_starts_with_empty_idat(bytes, size),
            source << ": damaged PNG: its first IDAT (image data) chunk is empty, expected compressed pixels");
  int w = 0, h = 0, c = 0;
  // The header alone sets the decoder's work and memory: a 150-byte RLE TGA that claims 65286 x
  // 1019 pixels made stb allocate 200 MB and spin for seconds decoding nothing. Refuse such sizes
  // from the header, before decoding.
  if (stbi_info_from_memory(bytes, static_cast<int>(size), &w, &h, &c))
    GAN_CHECK(static_cast<int64_t>(w) * h <= kMaxImagePixels,
              source << ": image of " << w << " x " << h << " pixels is over the reader's limit of " << kMaxImagePixels
                     << " pixels (2^25, e.g. 5792 x 5792)");
  uint8_t* p = stbi_load_from_memory(bytes, static_cast<int>(size), &w, &h, &c, channels);
  GAN_CHECK(p, source << ": cannot decode image: " << stbi_failure_reason());
  if (w <= 0 || h <= 0) {
    // stb decodes some headers that declare no pixels (a BMP of width 0); nothing can be cropped or
    // resized from them (stb_image_resize asserts on an empty source).
    stbi_image_free(p);
    GAN_FAIL(source << ": image of " << w << " x " << h << " pixels: expected at least 1 x 1");
  }
  Image img;
  img.width = w;
  img.height = h;
  img.channels = channels ? channels : c;
  img.pixels.assign(p, p + static_cast<size_t>(w) * h * img.channels);
  stbi_image_free(p);
  return img;
}

Image load_image(const std::string& path, int channels) {
  std::vector<uint8_t> bytes = read_file(path);
  return decode_image(bytes.data(), bytes.size(), channels, path);
}

Image resize_image(const Image& img, int64_t width, int64_t height) {
  GAN_CHECK(width > 0 && height > 0, "resize_image: target " << width << "x" << height << " must be positive");
  GAN_CHECK(img.width > 0 && img.height > 0, "resize_image: source " << img.width << "x" << img.height << " is empty");
  if (width == img.width && height == img.height) return img;
  Image out;
  out.width = width;
  out.height = height;
  out.channels = img.channels;
  out.pixels.resize(static_cast<size_t>(width * height * img.channels));
  int ok = stbir_resize_uint8(img.pixels.data(), static_cast<int>(img.width), static_cast<int>(img.height), 0,
                              out.pixels.data(), static_cast<int>(width), static_cast<int>(height), 0,
                              static_cast<int>(img.channels));
  GAN_CHECK(ok, "resize_image: stb_image_resize failed (" << img.width << "x" << img.height << " -> " << width << "x"
                                                          << height << ")");
  return out;
}

Image center_crop_square(const Image& img) {
  int64_t s = std::min(img.width, img.height);
  if (img.width == s && img.height == s) return img;
  int64_t x0 = (img.width - s) / 2, y0 = (img.height - s) / 2;
  Image out;
  out.width = out.height = s;
  out.channels = img.channels;
  out.pixels.resize(static_cast<size_t>(s * s * img.channels));
  for (int64_t y = 0; y < s; ++y)
    std::copy_n(img.pixels.begin() + ((y0 + y) * img.width + x0) * img.channels, s * img.channels,
                out.pixels.begin() + y * s * img.channels);
  return out;
}

}  // namespace gan::io
