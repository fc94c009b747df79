// Class ids carried in float tensors (the engine has no integer dtype): what counts as a valid id,
// shared by the CPU backend and the CUDA kernels so both treat a bad id the same way.
//
// A valid id is an integer in [0, classes). Ids are exact in float32 up to 2^24 and in float64 up
// to 2^53, far beyond any class count. NaN fails every comparison below, so it is never valid.
#pragma once
#include <cstdint>
#include <limits>

#include "kernels/host_device.h"

namespace gan::hd {

// The row `v` names, or -1 when v is not an integer in [0, classes).
template <class I>
GAN_HD int64_t class_id(I v, int64_t classes) {
  if (!(v >= I(0)) || !(static_cast<double>(v) < static_cast<double>(classes))) return -1;
  const int64_t r = static_cast<int64_t>(v);  // in range: the conversion is defined
  return static_cast<I>(r) == v ? r : -1;
}

// Where the scatter-add puts the NaN of a bad id: v truncated and clamped into [0, classes), row 0
// for NaN. Any fixed row would do; this one is the id's nearest row.
template <class I>
GAN_HD int64_t class_id_clamped(I v, int64_t classes) {
  if (!(v >= I(1))) return 0;
  if (!(static_cast<double>(v) < static_cast<double>(classes))) return classes - 1;
  return static_cast<int64_t>(v);
}

template <class T>
GAN_HD T quiet_nan() {
  return std::numeric_limits<T>::quiet_NaN();
}

}  // namespace gan::hd
