// How layers run on bfloat16 activations (--precision bf16): each parameter stays a float32
// master that the optimizer updates, and the layer works from a bfloat16 copy of it, cast in the
// forward pass so that its gradient flows back into the master in float32. Normalisations compute
// in float32 beside their float32 parameters and running statistics, and round to bfloat16 again.
// On float32 or float64 inputs both helpers change nothing.
#pragma once
#include "engine/core/tensor.h"

namespace gan::nn {

// `p` as the layer multiplies it into x: a bfloat16 copy when x is bfloat16.
inline Tensor like_input(const Tensor& p, const Tensor& x) {
  if (!p.defined() || x.dtype() != DType::BFloat16 || p.dtype() == DType::BFloat16) return p;
  return p.to(DType::BFloat16);
}

// f(x) computed in float32 when x is bfloat16, its result rounded back to bfloat16.
template <class F> Tensor in_float32(const Tensor& x, F&& f) {
  if (x.dtype() != DType::BFloat16) return f(x);
  return f(x.to(DType::Float32)).to(DType::BFloat16);
}

}  // namespace gan::nn
