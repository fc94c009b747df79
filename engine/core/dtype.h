// Element types. float32 is the training dtype; float64 exists for finite-difference gradient checks.
#pragma once
#include <cstddef>
#include <string>

#include "engine/core/error.h"

namespace gan {

enum class DType { Float32, Float64 };

inline size_t dtype_size(DType t) { return t == DType::Float32 ? 4 : 8; }
inline const char* dtype_name(DType t) { return t == DType::Float32 ? "float32" : "float64"; }

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };

}  // namespace gan

// Runs the body with `scalar_t` bound to the C++ type of `dtype`.
#define GAN_DISPATCH_FLOAT(dtype, opname, ...)                                   \
  [&] {                                                                          \
    switch (dtype) {                                                             \
      case ::gan::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }  \
      case ::gan::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); } \
    }                                                                            \
    GAN_FAIL(opname << ": unsupported dtype");                                   \
  }()
