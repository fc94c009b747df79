// NumPy .npy files (format 1.0/2.0): float32/float64 arrays in C order, read by numpy.load.
#pragma once
#include <string>

#include "engine/core/tensor.h"

namespace gan::io {

// The file's bytes: magic, version, header dict padded so the data is 64-byte aligned, data.
std::string serialize_npy(const Tensor& t);
// Atomic write of `t` (any device) as '<f4' or '<f8'.
void save_npy(const std::string& path, const Tensor& t);

// A .npy file's header: its dict's three keys and where the data starts. Any other key, a repeated
// or missing key, a negative or non-integer extent, or text the grammar does not allow is an error
// naming `source`.
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
  size_t data_offset = 0;
};
NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& source);

// Reads '<f4', '<f8' and '|u1' arrays (u1 becomes float32) in C order into a CPU tensor.
Tensor parse_npy(const uint8_t* bytes, size_t size, const std::string& source);
Tensor load_npy(const std::string& path);

}  // namespace gan::io
