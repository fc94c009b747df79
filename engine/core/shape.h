// Shapes are plain vectors of extents; helpers for element counts, strides and printing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gan {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
std::vector<int64_t> contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);
// Wraps a possibly negative dimension index into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t d, int64_t ndim, const char* op);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace gan
