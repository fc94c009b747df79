#include "engine/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/io/file_util.h"

namespace gan::io {

using nlohmann::json;

static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE floats expected");

// The data is little-endian on disk; this engine targets little-endian hosts only.
static bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

size_t safetensors_dtype_size(const std::string& d) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2},
      {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},     {"F32", 4},     {"I64", 8}, {"U64", 8}, {"F64", 8}};
  auto it = sizes.find(d);
  GAN_CHECK(it != sizes.end(), "unknown safetensors dtype '" << d << "'");
  return it->second;
}

StoredTensor StoredTensor::from_tensor(const Tensor& t) {
  GAN_CHECK(host_is_little_endian(), "safetensors: big-endian hosts are not supported");
  Tensor h = t.detach().cpu();
  StoredTensor s;
  s.dtype = h.dtype() == DType::Float32 ? "F32" : h.dtype() == DType::Float64 ? "F64" : "BF16";
  s.shape = h.shape();
  const uint8_t* p = static_cast<const uint8_t*>(h.raw_data());
  s.data.assign(p, p + h.nbytes());
  return s;
}

StoredTensor StoredTensor::from_int64(int64_t v) {
  StoredTensor s;
  s.dtype = "I64";
  s.data.resize(8);
  std::memcpy(s.data.data(), &v, 8);
  return s;
}

bool StoredTensor::is_integer() const {
  return dtype == "I8" || dtype == "U8" || dtype == "I16" || dtype == "U16" || dtype == "I32" || dtype == "U32" ||
         dtype == "I64" || dtype == "U64" || dtype == "BOOL";
}

template <class S>
static void widen(const uint8_t* src, double* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    S v;
    std::memcpy(&v, src + i * sizeof(S), sizeof(S));
    dst[i] = static_cast<double>(v);
  }
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

Tensor StoredTensor::to_tensor() const {
  int64_t n = numel_of(shape);
  if (dtype == "F32" || dtype == "F64") {
    Tensor t = Tensor::empty(shape, dtype == "F32" ? DType::Float32 : DType::Float64);
    // An empty tensor's vector may hold no buffer at all: memcpy from null is undefined even for 0 bytes.
    if (t.nbytes()) std::memcpy(t.raw_data(), data.data(), t.nbytes());
    return t;
  }
  std::vector<double> v(static_cast<size_t>(n));
  const uint8_t* p = data.data();
  if (dtype == "I64") widen<int64_t>(p, v.data(), n);
  else if (dtype == "U64") widen<uint64_t>(p, v.data(), n);
  else if (dtype == "I32") widen<int32_t>(p, v.data(), n);
  else if (dtype == "U32") widen<uint32_t>(p, v.data(), n);
  else if (dtype == "I16") widen<int16_t>(p, v.data(), n);
  else if (dtype == "U16") widen<uint16_t>(p, v.data(), n);
  else if (dtype == "I8") widen<int8_t>(p, v.data(), n);
  else if (dtype == "U8" || dtype == "BOOL") widen<uint8_t>(p, v.data(), n);
  else if (dtype == "F16" || dtype == "BF16") {
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      if (dtype == "F16") {
        v[i] = half_to_float(h);
      } else {
        uint32_t bits = static_cast<uint32_t>(h) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        v[i] = f;
      }
    }
  } else {
    GAN_FAIL("safetensors: cannot convert dtype " << dtype << " to a tensor");
  }
  std::vector<float> f(v.begin(), v.end());
  return Tensor::from_vector(f, shape);
}

int64_t StoredTensor::to_int64() const {
  GAN_CHECK(numel_of(shape) == 1, "safetensors: expected one integer, got shape " << shape_str(shape));
  if (dtype == "I64") {
    int64_t v;
    std::memcpy(&v, data.data(), 8);
    return v;
  }
  double v = to_tensor().to(DType::Float64).item();
  GAN_CHECK(v == static_cast<double>(static_cast<int64_t>(v)), "safetensors: value " << v << " is not an integer");
  return static_cast<int64_t>(v);
}

const StoredTensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const StoredTensor& SafetensorsFile::get(const std::string& name, const std::string& source) const {
  const StoredTensor* t = find(name);
  GAN_CHECK(t, source << ": no tensor named '" << name << "'");
  return *t;
}

std::string serialize_safetensors(const SafetensorsFile& f) {
  GAN_CHECK(host_is_little_endian(), "safetensors: big-endian hosts are not supported");
  json header = json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : f.tensors) {
    GAN_CHECK(name != "__metadata__" && names.insert(name).second,
              "safetensors: tensor name '" << name << "' is reserved or repeated");
    uint64_t expect = static_cast<uint64_t>(numel_of(t.shape)) * safetensors_dtype_size(t.dtype);
    GAN_CHECK(t.data.size() == expect, "safetensors: tensor '" << name << "' holds " << t.data.size()
                                                               << " bytes, its dtype and shape need " << expect);
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + expect}}};
    offset += expect;
  }
  if (!f.metadata.empty()) header["__metadata__"] = f.metadata;
  std::string h = header.dump();
  // Pad with spaces so that the data section starts 8-byte aligned (as the reference writer does).
  while ((8 + h.size()) % 8) h.push_back(' ');
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t n = h.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += h;
  for (const auto& [name, t] : f.tensors) out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size());
  return out;
}

void save_safetensors(const std::string& path, const SafetensorsFile& f) {
  std::string bytes = serialize_safetensors(f);
  write_file_atomic(path, bytes);
}

SafetensorsFile parse_safetensors(const uint8_t* bytes, size_t size, const std::string& src) {
  GAN_CHECK(host_is_little_endian(), "safetensors: big-endian hosts are not supported");
  GAN_CHECK(size >= 8, src << ": not a safetensors file (only " << size << " bytes, truncated?)");
  uint64_t hlen;
  std::memcpy(&hlen, bytes, 8);
  GAN_CHECK(hlen <= size - 8, src << ": header length " << hlen << " exceeds the file size " << size
                                  << " (truncated or not a safetensors file)");
  GAN_CHECK(hlen >= 2 && bytes[8] == '{', src << ": header is not a JSON object (not a safetensors file?)");
  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + hlen);
  } catch (const json::exception& e) {
    GAN_FAIL(src << ": malformed JSON header: " << e.what());
  }
  GAN_CHECK(header.is_object(), src << ": header is not a JSON object");
  const uint8_t* data = bytes + 8 + hlen;
  uint64_t data_size = size - 8 - hlen;

  SafetensorsFile f;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      GAN_CHECK(e.is_object(), src << ": __metadata__ is not an object of strings");
      for (auto m = e.begin(); m != e.end(); ++m) {
        GAN_CHECK(m.value().is_string(), src << ": metadata '" << m.key() << "' is not a string");
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    GAN_CHECK(e.is_object() && e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"),
              src << ": tensor '" << name << "' lacks dtype, shape or data_offsets");
    GAN_CHECK(e["dtype"].is_string(), src << ": tensor '" << name << "' has a non-string dtype");
    StoredTensor t;
    t.dtype = e["dtype"].get<std::string>();
    size_t esize;
    try {
      esize = safetensors_dtype_size(t.dtype);
    } catch (const Error&) {
      GAN_FAIL(src << ": tensor '" << name << "' has unknown dtype '" << t.dtype << "'");
    }
    GAN_CHECK(e["shape"].is_array(), src << ": tensor '" << name << "' shape is not a list");
    uint64_t count = 1;
    for (const auto& d : e["shape"]) {
      GAN_CHECK(d.is_number_unsigned(), src << ": tensor '" << name << "' has a negative or non-integer extent");
      uint64_t v = d.get<uint64_t>();
      GAN_CHECK(v < (uint64_t{1} << 40) && (v == 0 || count <= (uint64_t{1} << 62) / v),
                src << ": tensor '" << name << "' shape is too large");
      count *= v;
      t.shape.push_back(static_cast<int64_t>(v));
    }
    const json& off = e["data_offsets"];
    GAN_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
              src << ": tensor '" << name << "' data_offsets must be two non-negative integers");
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    GAN_CHECK(b <= en && en <= data_size, src << ": tensor '" << name << "' data_offsets [" << b << ", " << en
                                              << "] fall outside the data section of " << data_size
                                              << " bytes (truncated file?)");
    // count * esize can wrap around 64 bits (count < 2^62, esize 8): compare by division first.
    GAN_CHECK(count <= (en - b) / esize && en - b == count * esize, src << ": tensor '" << name << "' spans " << (en - b) << " bytes but "
                                           << t.dtype << shape_str(t.shape) << " needs "
                                           << (count <= UINT64_MAX / esize ? std::to_string(count * esize)
                                                                           : "over 2^64"));
    t.data.assign(data + b, data + en);
    spans.push_back({b, en, name});
    f.tensors.emplace_back(name, std::move(t));
  }
  // Tensors must tile the data section exactly: overlaps mean a corrupt header, a gap or a tail
  // means bytes nobody accounts for.
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t pos = 0;
  for (const auto& s : spans) {
    GAN_CHECK(s.begin == pos, src << ": tensor '" << s.name << "' starts at byte " << s.begin << " of the data section, "
                                  << (s.begin < pos ? "overlapping the previous tensor" : "leaving a gap")
                                  << " (expected " << pos << ")");
    pos = s.end;
  }
  GAN_CHECK(pos == data_size, src << ": " << (data_size - pos) << " bytes after the last tensor (corrupt file)");
  // Keep file order = data order, as written.
  std::map<std::string, uint64_t> start;
  for (const auto& s : spans) start[s.name] = s.begin;
  std::stable_sort(f.tensors.begin(), f.tensors.end(),
                   [&](const auto& a, const auto& b) { return start[a.first] < start[b.first]; });
  return f;
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

}  // namespace gan::io
