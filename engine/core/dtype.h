// Element types. float32 is the training dtype; float64 exists for finite-difference gradient checks;
// bfloat16 (kernels/bfloat16.h) is the storage of --precision bf16's activations and weight copies.
#pragma once
#include <cstddef>
#include <string>

#include "engine/core/error.h"
#include "kernels/bfloat16.h"

namespace gan {

enum class DType { Float32, Float64, BFloat16 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::BFloat16: return 2;
  }
  return 0;
}
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::BFloat16: return "bfloat16";
  }
  return "?";
}

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::BFloat16; };

}  // namespace gan

// Runs the body with `scalar_t` bound to the C++ type of `dtype`, float32 or float64. Primitives
// reached through GAN_BACKEND never see bfloat16 here: engine/backend/bf16_widening.h hands them
// float32 copies, except those that read and write bfloat16 themselves.
#define GAN_DISPATCH_FLOAT(dtype, opname, ...)                                                   \
  [&] {                                                                                          \
    switch (dtype) {                                                                             \
      case ::gan::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }              \
      case ::gan::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); }             \
      case ::gan::DType::BFloat16: break;                                                        \
    }                                                                                            \
    GAN_FAIL(opname << ": no " << ::gan::dtype_name(dtype) << " kernel (float32 and float64 only)"); \
  }()

// The same with bfloat16 too (`scalar_t` = gan::bf16): casts and the primitives that store it.
#define GAN_DISPATCH_FLOAT_BF16(dtype, opname, ...)                                              \
  [&] {                                                                                          \
    switch (dtype) {                                                                             \
      case ::gan::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }              \
      case ::gan::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); }             \
      case ::gan::DType::BFloat16: { using scalar_t = ::gan::bf16; return __VA_ARGS__(); }       \
    }                                                                                            \
    GAN_FAIL(opname << ": unknown dtype");                                                       \
  }()
