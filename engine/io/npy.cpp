#include "engine/io/npy.h"

#include <cstring>
#include <regex>

#include "engine/io/file_util.h"

namespace gan::io {

std::string serialize_npy(const Tensor& t) {
  Tensor h = t.detach().cpu();
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

Tensor parse_npy(const uint8_t* b, size_t size, const std::string& src) {
  GAN_CHECK(size >= 10 && std::memcmp(b, "\x93NUMPY", 6) == 0, src << ": not a .npy file (bad magic)");
  uint8_t major = b[6];
  GAN_CHECK(major >= 1 && major <= 3, src << ": unsupported .npy version " << int(major));
  size_t hlen, hstart;
  if (major == 1) {
    hlen = b[8] | (size_t(b[9]) << 8);
    hstart = 10;
  } else {
    GAN_CHECK(size >= 12, src << ": truncated .npy header");
    hlen = b[8] | (size_t(b[9]) << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24);
    hstart = 12;
  }
  GAN_CHECK(hstart + hlen <= size, src << ": truncated .npy header");
  std::string dict(reinterpret_cast<const char*>(b + hstart), hlen);
  std::smatch m;
  GAN_CHECK(std::regex_search(dict, m, std::regex("'descr'\\s*:\\s*'([^']*)'")), src << ": .npy header lacks descr");
  std::string descr = m[1];
  GAN_CHECK(std::regex_search(dict, m, std::regex("'fortran_order'\\s*:\\s*(True|False)")),
            src << ": .npy header lacks fortran_order");
  GAN_CHECK(m[1] == "False", src << ": Fortran-ordered arrays are not supported");
  GAN_CHECK(std::regex_search(dict, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")), src << ": .npy header lacks shape");
  Shape shape;
  std::string dims = m[1];
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
    shape.push_back(std::stoll(it->str()));
  size_t esize = descr == "<f4" ? 4 : descr == "<f8" ? 8 : descr == "|u1" ? 1 : 0;
  GAN_CHECK(esize, src << ": unsupported .npy dtype '" << descr << "' (expected <f4, <f8 or |u1)");
  size_t need = static_cast<size_t>(numel_of(shape)) * esize;
  size_t data = hstart + hlen;
  GAN_CHECK(size - data == need, src << ": .npy data holds " << (size - data) << " bytes, shape "
                                     << shape_str(shape) << " of " << descr << " needs " << need);
  if (descr == "|u1") {
    std::vector<float> v(b + data, b + size);
    return Tensor::from_vector(v, shape);
  }
  Tensor t = Tensor::empty(shape, descr == "<f4" ? DType::Float32 : DType::Float64);
  std::memcpy(t.raw_data(), b + data, need);
  return t;
}

Tensor load_npy(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

}  // namespace gan::io
