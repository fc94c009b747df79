// safetensors files: an 8-byte little-endian header length, a JSON header describing each tensor
// (dtype, shape, data_offsets into the data section) plus an optional "__metadata__" map of
// strings, then the raw little-endian data. The same files load in Python with
// safetensors.torch.load_file.
//
// Writing is atomic (temp file + rename). Reading verifies everything a hand-edited, truncated
// or foreign file could get wrong (header length, JSON, dtypes, shapes against byte counts,
// offsets inside the data section, no overlaps or gaps) and throws gan::Error naming the file.
//
//   io::SafetensorsFile f;
//   f.add("generator.main.0.weight", w);                // float32 tensor, any device
//   f.metadata["step"] = "1000";
//   io::save_safetensors("run/last.safetensors", f);
//   auto g = io::load_safetensors("run/last.safetensors");
//   Tensor w2 = g.get("generator.main.0.weight").to_tensor();
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::io {

// One stored tensor: its safetensors dtype name ("F32", "F64", "I64", ...), shape and bytes
// (little-endian, row-major).
struct StoredTensor {
  std::string dtype;
  Shape shape;
  std::vector<uint8_t> data;

  static StoredTensor from_tensor(const Tensor& t);  // F32 or F64, copied to the host
  static StoredTensor from_int64(int64_t v);         // a 0-dim I64 tensor
  // F32/F64 -> a CPU tensor of that dtype; integer and F16/BF16 dtypes -> float32.
  Tensor to_tensor() const;
  // The value of a one-element integer (or integral float) tensor.
  int64_t to_int64() const;
  bool is_integer() const;
};

struct SafetensorsFile {
  std::vector<std::pair<std::string, StoredTensor>> tensors;  // in file order
  std::map<std::string, std::string> metadata;

  void add(const std::string& name, const Tensor& t) { tensors.emplace_back(name, StoredTensor::from_tensor(t)); }
  void add_int64(const std::string& name, int64_t v) { tensors.emplace_back(name, StoredTensor::from_int64(v)); }
  bool has(const std::string& name) const { return find(name) != nullptr; }
  const StoredTensor* find(const std::string& name) const;
  // Throws naming `source` and the tensor when absent.
  const StoredTensor& get(const std::string& name, const std::string& source = "safetensors file") const;
};

// Bytes per element of a safetensors dtype name; throws for unknown names.
size_t safetensors_dtype_size(const std::string& dtype);

std::string serialize_safetensors(const SafetensorsFile& f);
// `source` names the file in error messages.
SafetensorsFile parse_safetensors(const uint8_t* bytes, size_t size, const std::string& source);

void save_safetensors(const std::string& path, const SafetensorsFile& f);
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace gan::io
