#include "engine/io/datasets.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "engine/io/file_util.h"

#ifdef GAN_WITH_ZLIB
#include <zlib.h>
#endif

namespace gan::io {

namespace fs = std::filesystem;

namespace {

bool is_gzip(const std::vector<uint8_t>& b) { return b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b; }

// Inflates every member of a gzip stream (pigz and bgzip write several, and gunzip reads them as one
// file) into at most `limit` bytes. With `prefix` the first `limit` bytes are returned and the rest
// is never inflated; without it, more than `limit` bytes is an error, so a small file cannot expand
// without bound.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& raw, const std::string& src, size_t limit, bool prefix) {
#ifdef GAN_WITH_ZLIB
  z_stream zs{};
  GAN_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, src << ": zlib initialisation failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  std::vector<uint8_t> out(std::min<size_t>(limit, std::max<size_t>(raw.size() * 4, 1024)));
  size_t produced = 0, consumed = 0;
  int rc = Z_OK;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() == limit) {
        if (prefix) return out;
        // Room for one more byte tells "exactly limit" from "more than limit".
        uint8_t probe;
        zs.next_out = &probe;
        zs.avail_out = 1;
        rc = inflate(&zs, Z_NO_FLUSH);
        GAN_CHECK(zs.avail_out == 1 && rc == Z_STREAM_END && zs.avail_in == 0,
                  src << ": decompresses to more than the " << limit << " bytes its header declares");
        break;
      }
      out.resize(std::min(limit, out.size() * 2));
    }
    zs.next_in = const_cast<uint8_t*>(raw.data()) + consumed;
    zs.avail_in = static_cast<uInt>(std::min<size_t>(raw.size() - consumed, 1u << 30));
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, 1u << 30));
    const uInt in_before = zs.avail_in, out_before = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);
    consumed += in_before - zs.avail_in;
    produced += out_before - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (consumed == raw.size()) break;
      // Another member follows (or trailing zeros, which gzip also ignores).
      if (raw.size() - consumed >= 2 && raw[consumed] == 0x1f && raw[consumed + 1] == 0x8b) {
        GAN_CHECK(inflateReset(&zs) == Z_OK, src << ": zlib reset failed");
        continue;
      }
      GAN_CHECK(std::all_of(raw.begin() + static_cast<std::ptrdiff_t>(consumed), raw.end(), [](uint8_t c) { return c == 0; }),
                src << ": " << (raw.size() - consumed) << " bytes after the end of the gzip data, from byte " << consumed
                    << " (not another gzip member)");
      break;
    }
    GAN_CHECK(rc == Z_OK || (rc == Z_BUF_ERROR && zs.avail_out == 0),
              src << ": corrupt or truncated gzip data" << (zs.msg ? std::string(" (") + zs.msg + ")" : std::string()));
    GAN_CHECK(consumed < raw.size() || zs.avail_out == 0, src << ": truncated gzip data");
  }
  out.resize(produced);
  return out;
#else
  GAN_FAIL(src << ": is gzip-compressed but this build has no zlib; gunzip it first");
#endif
}

// The element count and payload bytes an IDX header declares; `b` holds at least the header.
struct IdxHeader {
  uint8_t type = 0;
  std::vector<int64_t> dims;
  size_t header_bytes = 0, payload_bytes = 0;
};

IdxHeader parse_idx_header(const std::vector<uint8_t>& b, const std::string& src) {
  GAN_CHECK(b.size() >= 4 && b[0] == 0 && b[1] == 0, src << ": not an IDX file (bad magic number)");
  IdxHeader h;
  h.type = b[2];
  const int ndim = b[3];
  static const std::map<uint8_t, size_t> sizes = {{0x08, 1}, {0x09, 1}, {0x0B, 2}, {0x0C, 4}, {0x0D, 4}, {0x0E, 8}};
  auto es = sizes.find(h.type);
  GAN_CHECK(es != sizes.end(), src << ": unknown IDX element type 0x" << std::hex << int(h.type));
  GAN_CHECK(ndim >= 1 && b.size() >= 4 + 4 * static_cast<size_t>(ndim), src << ": truncated IDX header");
  for (int d = 0; d < ndim; ++d) {
    const uint8_t* p = b.data() + 4 + 4 * d;
    h.dims.push_back((int64_t(p[0]) << 24) | (int64_t(p[1]) << 16) | (int64_t(p[2]) << 8) | int64_t(p[3]));
  }
  // A zero extent makes the array empty whatever the others are.
  const bool empty = std::find(h.dims.begin(), h.dims.end(), 0) != h.dims.end();
  uint64_t bytes = empty ? 0 : es->second;
  for (int64_t v : empty ? std::vector<int64_t>{} : h.dims)
    GAN_CHECK(!__builtin_mul_overflow(bytes, static_cast<uint64_t>(v), &bytes) && bytes <= (uint64_t{1} << 60),
              src << ": IDX dims " << shape_str(h.dims) << " declare more than 2^60 bytes (damaged header?)");
  h.header_bytes = 4 + 4 * static_cast<size_t>(ndim);
  h.payload_bytes = bytes;
  return h;
}

}  // namespace

IdxArray parse_idx(const std::vector<uint8_t>& file, const std::string& src) {
  std::vector<uint8_t> plain;
  if (is_gzip(file)) {
    // The header bounds the inflated size: 4 bytes + 4 per dim (at most 255).
    IdxHeader h = parse_idx_header(gunzip(file, src, 4 + 4 * 255, true), src);
    plain = gunzip(file, src, h.header_bytes + h.payload_bytes, false);
  }
  const std::vector<uint8_t>& b = is_gzip(file) ? plain : file;
  IdxHeader h = parse_idx_header(b, src);
  const size_t have = b.size() - h.header_bytes;
  GAN_CHECK(have == h.payload_bytes, src << ": IDX payload holds " << have << " bytes, dims " << shape_str(h.dims)
                                         << " need " << h.payload_bytes << (have < h.payload_bytes ? " (truncated file?)" : ""));
  IdxArray a;
  a.type = h.type;
  a.dims = h.dims;
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(h.header_bytes), b.end());
  return a;
}

IdxArray read_idx(const std::string& path) { return parse_idx(read_file(path), path); }

std::vector<uint8_t> encode_idx(const IdxArray& a) {
  static const std::map<uint8_t, uint64_t> element_bytes{{0x08, 1}, {0x09, 1}, {0x0B, 2}, {0x0C, 4}, {0x0D, 4}, {0x0E, 8}};
  auto size = element_bytes.find(a.type);
  GAN_CHECK(size != element_bytes.end(), "encode_idx: unknown IDX element type 0x" << std::hex << int{a.type});
  GAN_CHECK(!a.dims.empty() && a.dims.size() <= 255, "encode_idx: " << a.dims.size() << " dims (expected 1 to 255)");
  uint64_t n = size->second;
  std::vector<uint8_t> out{0, 0, a.type, static_cast<uint8_t>(a.dims.size())};
  for (int64_t d : a.dims) {
    GAN_CHECK(d >= 0 && d <= 0xFFFFFFFFLL, "encode_idx: extent " << d << " does not fit 32 bits");
    GAN_CHECK(!__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n), "encode_idx: dims " << shape_str(a.dims) << " overflow");
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>((d >> shift) & 0xFF));
  }
  GAN_CHECK(n == a.data.size(), "encode_idx: dims " << shape_str(a.dims) << " need " << n << " bytes, the payload has "
                                                    << a.data.size());
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

void write_idx_dataset(const ImageDataset& ds, const std::string& images_path, const std::string& labels_path) {
  GAN_CHECK(ds.channels == 1, "write_idx_dataset: " << ds.source << " has " << ds.channels << " channels; IDX images have one");
  IdxArray img{0x08, {ds.count, ds.height, ds.width}, ds.pixels};
  std::vector<uint8_t> bytes = encode_idx(img);
  write_file_atomic(images_path, bytes.data(), bytes.size());
  if (ds.labels.empty()) return;
  IdxArray lab{0x08, {ds.count}, {}};
  for (int32_t l : ds.labels) {
    GAN_CHECK(l >= 0 && l <= 255, "write_idx_dataset: label " << l << " does not fit an IDX uint8");
    lab.data.push_back(static_cast<uint8_t>(l));
  }
  bytes = encode_idx(lab);
  write_file_atomic(labels_path, bytes.data(), bytes.size());
}

ImageDataset idx_dataset(IdxArray img, const std::string& images_src, const IdxArray* lab,
                         const std::string& labels_src) {
  GAN_CHECK(img.type == 0x08 && img.dims.size() == 3,
            images_src << ": expected IDX3 uint8 images [N, H, W], got type 0x" << std::hex << int(img.type)
                       << std::dec << " with " << img.dims.size() << " dims");
  ImageDataset ds;
  ds.count = img.dims[0];
  ds.channels = 1;
  ds.height = img.dims[1];
  ds.width = img.dims[2];
  GAN_CHECK(ds.count > 0 && ds.height > 0 && ds.width > 0,
            images_src << ": holds no images (dims " << shape_str(img.dims) << ")");
  ds.pixels = std::move(img.data);
  ds.source = images_src;
  if (lab) {
    GAN_CHECK(lab->type == 0x08 && lab->dims.size() == 1,
              labels_src << ": expected IDX1 uint8 labels [N], got type 0x" << std::hex << int(lab->type) << std::dec
                         << " with " << lab->dims.size() << " dims");
    GAN_CHECK(lab->dims[0] == ds.count,
              labels_src << ": " << lab->dims[0] << " labels for " << ds.count << " images in " << images_src);
    ds.labels.assign(lab->data.begin(), lab->data.end());
  }
  return ds;
}

ImageDataset read_idx_dataset(const std::string& images_path, const std::string& labels_path) {
  if (labels_path.empty()) return idx_dataset(read_idx(images_path), images_path);
  IdxArray labels = read_idx(labels_path);
  return idx_dataset(read_idx(images_path), images_path, &labels, labels_path);
}

static std::string first_existing(const fs::path& dir, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    fs::path p = dir / n;
    if (fs::is_regular_file(p)) return p.string();
  }
  return "";
}

ImageDataset read_mnist_like(const std::string& path) {
  GAN_CHECK(file_exists(path), path << ": no such file or folder");
  if (!is_directory(path)) return read_idx_dataset(path);
  fs::path dir(path);
  std::string images = first_existing(dir, {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte",
                                            "train-images.idx3-ubyte", "images-idx3-ubyte.gz", "images-idx3-ubyte"});
  GAN_CHECK(!images.empty(), path << ": no IDX images found (expected train-images-idx3-ubyte[.gz] or "
                                     "images-idx3-ubyte.gz)");
  std::string labels = first_existing(dir, {"train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte",
                                            "train-labels.idx1-ubyte", "labels-idx1-ubyte.gz", "labels-idx1-ubyte"});
  return read_idx_dataset(images, labels);
}

void append_cifar10_batch(const uint8_t* b, size_t size, const std::string& file, ImageDataset& ds) {
  const size_t rec = 1 + 3072;
  GAN_CHECK(size > 0 && size % rec == 0, file << ": " << size << " bytes is not a whole number of CIFAR-10 "
                                                             "records of 3073 bytes (truncated file?)");
  GAN_CHECK(ds.channels == 3 && ds.height == 32 && ds.width == 32,
            file << ": CIFAR-10 records are 3x32x32, the data set holds " << ds.channels << "x" << ds.height << "x"
                 << ds.width);
  size_t n = size / rec;
  for (size_t i = 0; i < n; ++i) {
    uint8_t label = b[i * rec];
    GAN_CHECK(label < 10, file << ": record " << i << " has label " << int(label) << " (not a CIFAR-10 file?)");
    ds.labels.push_back(label);
    ds.pixels.insert(ds.pixels.end(), b + i * rec + 1, b + (i + 1) * rec);
  }
  ds.count += static_cast<int64_t>(n);
}

static void append_cifar_batch(const std::string& file, ImageDataset& ds) {
  std::vector<uint8_t> b = read_file(file);
  append_cifar10_batch(b.data(), b.size(), file, ds);
}

ImageDataset read_cifar10(const std::string& path) {
  GAN_CHECK(file_exists(path), path << ": no such file or folder");
  ImageDataset ds;
  ds.channels = 3;
  ds.height = ds.width = 32;
  ds.source = path;
  if (!is_directory(path)) {
    append_cifar_batch(path, ds);
    return ds;
  }
  fs::path dir(path);
  if (!fs::exists(dir / "data_batch_1.bin") && fs::exists(dir / "cifar-10-batches-bin" / "data_batch_1.bin"))
    dir /= "cifar-10-batches-bin";
  for (int i = 1; i <= 5; ++i) {
    fs::path f = dir / ("data_batch_" + std::to_string(i) + ".bin");
    if (fs::exists(f)) append_cifar_batch(f.string(), ds);
  }
  GAN_CHECK(ds.count > 0, path << ": no CIFAR-10 batches (data_batch_1.bin ... data_batch_5.bin) found");
  return ds;
}

static bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".gif" || ext == ".tga";
}

ImageDataset read_image_folder(const std::string& path, int64_t size, int64_t channels) {
  GAN_CHECK(is_directory(path), path << ": not a folder");
  GAN_CHECK(size > 0 && (channels == 1 || channels == 3),
            "read_image_folder: size " << size << " and channels " << channels << " (1 or 3) invalid");
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::follow_directory_symlink, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file() && is_image_file(it->path())) files.push_back(it->path());
  }
  GAN_CHECK(!ec, path << ": cannot list folder: " << ec.message());
  GAN_CHECK(!files.empty(), path << ": no images (.png, .jpg, .jpeg, .bmp, .gif, .tga) found");
  std::sort(files.begin(), files.end());
  // Class labels from top-level subfolders, when every image sits in one.
  std::map<std::string, int32_t> classes;
  bool labelled = true;
  for (const auto& f : files) {
    fs::path rel = fs::relative(f, path);
    if (std::distance(rel.begin(), rel.end()) < 2) labelled = false;
    else classes.emplace(rel.begin()->string(), 0);
  }
  int32_t next = 0;
  for (auto& [name, id] : classes) id = next++;

  ImageDataset ds;
  ds.channels = channels;
  ds.height = ds.width = size;
  ds.source = path;
  ds.pixels.reserve(files.size() * static_cast<size_t>(ds.image_bytes()));
  for (const auto& f : files) {
    std::vector<uint8_t> bytes = read_file(f.string());
    append_image_file(bytes.data(), bytes.size(), f.string(), ds);
    if (labelled) ds.labels.push_back(classes[fs::relative(f, path).begin()->string()]);
  }
  return ds;
}

void append_image_file(const uint8_t* bytes, size_t n, const std::string& src, ImageDataset& ds) {
  const int64_t size = ds.height;
  GAN_CHECK(size > 0 && ds.width == size && (ds.channels == 1 || ds.channels == 3),
            src << ": images are read into squares of 1 or 3 channels, the data set holds " << ds.channels << "x"
                << ds.height << "x" << ds.width);
  Image img = resize_image(center_crop_square(decode_image(bytes, n, static_cast<int>(ds.channels), src)), size, size);
  for (int64_t c = 0; c < ds.channels; ++c)  // interleaved HWC -> planar CHW
    for (int64_t y = 0; y < size; ++y)
      for (int64_t x = 0; x < size; ++x) ds.pixels.push_back(img.at(y, x, c));
  ++ds.count;
}

}  // namespace gan::io
