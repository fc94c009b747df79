// Shapes are plain vectors of extents; helpers for element counts, strides and printing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gan {

using Shape = std::vector<int64_t>;

// Element counts stay below 2^60, so a count times an element size (at most 8 bytes) fits in 63
// bits wherever sizes are multiplied further.
constexpr int64_t kMaxElements = int64_t{1} << 60;
// The product of the extents; throws when it overflows or exceeds kMaxElements.
int64_t numel_of(const Shape& s);
// The same without throwing, for readers that name their file: false on overflow.
bool numel_fits(const Shape& s, int64_t& numel);
std::vector<int64_t> contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);
// Wraps a possibly negative dimension index into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t d, int64_t ndim, const char* op);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Whether `in` broadcasts to exactly `out` (NumPy rules: right-aligned, each dim equal or 1).
bool broadcasts_to(const Shape& in, const Shape& out);
// Strides of `in` (right-aligned to `out`'s rank) with 0 on broadcast dims.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// Whether `in`, broadcast to `out`, is read at in[(i / inner) % mid] for output element i: its dims
// other than 1 form one block of neighbouring dims of `out` (right-aligned), as a bias [1,C,1,1], a
// per-sample [N,1,1,1], a row [1,K] or a column [M,1] do. False for a one-element `in`. Both
// backends use it to pick their broadcasting fast path.
bool broadcast_run(const Shape& in, const Shape& out, int64_t& inner, int64_t& mid);

}  // namespace gan
