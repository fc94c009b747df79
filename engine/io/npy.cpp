#include "engine/io/npy.h"

#include <charconv>
#include <cstring>

#include "engine/io/file_util.h"

namespace gan::io {

std::string serialize_npy(const Tensor& t) {
  // NumPy has no bfloat16: such arrays are written as float32, every value exact.
  Tensor h = t.detach().cpu();
  if (h.dtype() == DType::BFloat16) h = h.to(DType::Float32);
  std::string shape = "(";
  for (size_t i = 0; i < h.shape().size(); ++i) shape += std::to_string(h.shape()[i]) + ", ";
  if (h.shape().size() > 1) shape.resize(shape.size() - 2);
  else if (h.shape().size() == 1) shape.resize(shape.size() - 1);  // "(5,)"
  shape += ")";
  std::string dict = std::string("{'descr': '") + (h.dtype() == DType::Float32 ? "<f4" : "<f8") +
                     "', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic(6) + version(2) + length(2) + dict + padding + '\n' is a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  GAN_CHECK(dict.size() <= 65535, "npy: header too long for shape " << shape_str(h.shape()));
  std::string out("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(dict.size());
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>(len >> 8));
  out += dict;
  out.append(static_cast<const char*>(h.raw_data()), h.nbytes());
  return out;
}

void save_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, serialize_npy(t)); }

namespace {

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
// A small hand-written scanner reads exactly that grammar: bounded by the header's length, no
// backtracking, every malformed piece named.
class HeaderScanner {
 public:
  HeaderScanner(const std::string& text, const std::string& src) : s_(text), src_(src) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = string_literal("a key");
      expect(':');
      if (key == "descr") {
        GAN_CHECK(!have_descr, src_ << ": .npy header repeats 'descr'");
        h.descr = string_literal("the value of 'descr'");
        have_descr = true;
      } else if (key == "fortran_order") {
        GAN_CHECK(!have_order, src_ << ": .npy header repeats 'fortran_order'");
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        GAN_CHECK(!have_shape, src_ << ": .npy header repeats 'shape'");
        h.shape = tuple();
        have_shape = true;
      } else {
        GAN_FAIL(src_ << ": .npy header has an unknown key '" << key << "' (expected descr, fortran_order, shape)");
      }
      if (!peek(',')) break;
      expect(',');
    }
    expect('}');
    skip_space();
    GAN_CHECK(pos_ == s_.size(), src_ << ": .npy header has text after the dict at byte " << pos_);
    GAN_CHECK(have_descr, src_ << ": .npy header lacks 'descr'");
    GAN_CHECK(have_order, src_ << ": .npy header lacks 'fortran_order'");
    GAN_CHECK(have_shape, src_ << ": .npy header lacks 'shape'");
    return h;
  }

 private:
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  // The next few characters, on one line (the header ends in a newline and padding).
  std::string near() const {
    if (pos_ >= s_.size()) return "the end of the header";
    std::string piece = s_.substr(pos_, 12);
    for (char& c : piece)
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    return "'" + piece + "'";
  }
  void expect(char c) {
    GAN_CHECK(peek(c), src_ << ": malformed .npy header: expected '" << c << "' at byte " << pos_ << ", found " << near());
    ++pos_;
  }
  std::string string_literal(const char* what) {
    skip_space();
    GAN_CHECK(pos_ < s_.size() && (s_[pos_] == '\'' || s_[pos_] == '"'),
              src_ << ": malformed .npy header: expected " << what << " (a quoted string) at byte " << pos_ << ", found "
                   << near());
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    GAN_CHECK(end != std::string::npos, src_ << ": malformed .npy header: unterminated string at byte " << pos_ - 1);
    std::string v = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return v;
  }
  bool boolean() {
    skip_space();
    for (const char* word : {"True", "False"})
      if (s_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return word[0] == 'T';
      }
    GAN_FAIL(src_ << ": malformed .npy header: 'fortran_order' must be True or False, found " << near());
  }
  int64_t extent() {
    skip_space();
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    int64_t v = 0;
    const auto r = std::from_chars(s_.data() + start, s_.data() + pos_, v);
    GAN_CHECK(pos_ > start && r.ec == std::errc(),
              src_ << ": .npy 'shape' holds " << (pos_ > start ? "'" + s_.substr(start, pos_ - start) + "'" : near())
                   << " where a non-negative 64-bit integer was expected");
    return v;
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (!peek(')')) {
      GAN_CHECK(shape.size() < 64, src_ << ": .npy 'shape' has more than 64 dimensions");
      shape.push_back(extent());
      if (!peek(',')) break;
      expect(',');
    }
    expect(')');
    return shape;
  }

  const std::string& s_;
  const std::string& src_;
  size_t pos_ = 0;
};

}  // namespace

NpyHeader parse_npy_header(const uint8_t* b, size_t size, const std::string& src) {
  GAN_CHECK(size >= 10 && std::memcmp(b, "\x93NUMPY", 6) == 0, src << ": not a .npy file (bad magic)");
  const uint8_t major = b[6];
  GAN_CHECK(major >= 1 && major <= 3, src << ": unsupported .npy version " << int(major) << " (expected 1, 2 or 3)");
  size_t hlen, hstart;
  if (major == 1) {
    hlen = b[8] | (size_t(b[9]) << 8);
    hstart = 10;
  } else {
    GAN_CHECK(size >= 12, src << ": truncated .npy header");
    hlen = b[8] | (size_t(b[9]) << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24);
    hstart = 12;
  }
  GAN_CHECK(hlen <= size - hstart, src << ": truncated .npy header (declares " << hlen << " bytes, the file holds "
                                       << size - hstart << " after the preamble)");
  const std::string text(reinterpret_cast<const char*>(b + hstart), hlen);
  NpyHeader h = HeaderScanner(text, src).parse();
  h.data_offset = hstart + hlen;
  return h;
}

Tensor parse_npy(const uint8_t* b, size_t size, const std::string& src) {
  const NpyHeader h = parse_npy_header(b, size, src);
  GAN_CHECK(!h.fortran_order, src << ": Fortran-ordered arrays are not supported (save with np.ascontiguousarray)");
  const size_t esize = h.descr == "<f4" ? 4 : h.descr == "<f8" ? 8 : h.descr == "|u1" ? 1 : 0;
  GAN_CHECK(esize, src << ": unsupported .npy dtype '" << h.descr << "' (expected <f4, <f8 or |u1)");
  int64_t n;
  GAN_CHECK(numel_fits(h.shape, n), src << ": .npy shape " << shape_str(h.shape) << " has more than 2^60 elements");
  const size_t need = static_cast<size_t>(n) * esize;
  const size_t have = size - h.data_offset;
  GAN_CHECK(have == need, src << ": .npy data holds " << have << " bytes, shape " << shape_str(h.shape) << " of "
                              << h.descr << " needs " << need << (have < need ? " (truncated file?)" : ""));
  const uint8_t* data = b + h.data_offset;
  if (h.descr == "|u1") {
    std::vector<float> v(data, data + need);
    return Tensor::from_vector(v, h.shape);
  }
  Tensor t = Tensor::empty(h.shape, h.descr == "<f4" ? DType::Float32 : DType::Float64);
  std::memcpy(t.raw_data(), data, need);
  return t;
}

Tensor load_npy(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

}  // namespace gan::io
