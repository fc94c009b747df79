// Per-sample parameters of the spatial ops (translation shifts, flip flags, cutout centers), carried
// in float tensors of either float dtype (the engine has no integer dtype): what counts as a valid
// value, shared by the CPU backend and the CUDA kernels so both treat a bad one the same way.
//
// A bad parameter is never read as some other value: both backends write NaN over the whole sample
// it belongs to, and the CPU ops check their parameters first and throw.
#pragma once
#include <cstdint>

#include "kernels/host_device.h"

namespace gan::hd {

// Whether `v` holds an integer (finite, no fraction; NaN is not one). If so, `out` is that integer
// clamped into [-limit, limit]: a shift or center that far out already moves everything out of
// view, and the clamp keeps the index arithmetic far from overflow.
template <class S>
GAN_HD bool integer_param(S v, int64_t limit, int64_t& out) {
  const double d = static_cast<double>(v);
  if (!(d >= -9.0e15 && d <= 9.0e15)) return false;  // NaN and infinities fail too
  const int64_t i = static_cast<int64_t>(d);
  if (static_cast<double>(i) != d) return false;
  out = i < -limit ? -limit : (i > limit ? limit : i);
  return true;
}

// A flip flag: 1 (mirror the sample), 0 (leave it), -1 for anything else (NaN included).
template <class S>
GAN_HD int flip_flag(S v) {
  return v == S(1) ? 1 : (v == S(0) ? 0 : -1);
}

// Rows [lo, hi) a cutout square of `size` centred at `center` covers inside an extent of `extent`:
// the square starts at center - size / 2 (floor division) and is clipped at the border (the
// clipped range may be empty).
GAN_HD void cutout_range(int64_t center, int64_t size, int64_t extent, int64_t& lo, int64_t& hi) {
  const int64_t half = size / 2;
  lo = center - half;
  hi = lo + size;
  lo = lo < 0 ? 0 : (lo > extent ? extent : lo);
  hi = hi < 0 ? 0 : (hi > extent ? extent : hi);
}

}  // namespace gan::hd
