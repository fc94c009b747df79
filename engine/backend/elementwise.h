// Element-wise primitives: fills, casts, random fills, unary maps and broadcasting binary maps.
#pragma once
#include <cstdint>

#include "engine/backend/declare.h"
#include "engine/core/tensor.h"
#include "kernels/elementwise_ops.h"

namespace gan {

// The unary and binary maps: one table (kernels/elementwise_ops.h) serves the engine, the CPU loops
// and the CUDA kernels. Unary maps y = f(x; a, b); binary maps z = f(x, y; a) broadcast x and y
// (NumPy rules) into z's shape.
using kernels::BinaryOp;
using kernels::UnaryOp;

}  // namespace gan

#define GAN_ELEMENTWISE_PRIMITIVES                                                               \
  void fill(Tensor& out, double value);                                                          \
  void arange(Tensor& out);                                                                      \
  /* out[i] = normal(seed, draw, i) * std + mean  (Philox: identical on every backend). CUDA:   \
     a non-null draw_on_device holds the draw number (a recorded step's per-replay draws, see  \
     engine/capture/step_graph.h); the CPU never records and refuses one. */                   \
  void random_normal(Tensor& out, uint64_t seed, uint64_t draw, double mean, double std,        \
                     const uint64_t* draw_on_device = nullptr);                                  \
  void random_uniform(Tensor& out, uint64_t seed, uint64_t draw, double lo, double hi,          \
                      const uint64_t* draw_on_device = nullptr);                                 \
  /* same device, any dtypes, same element count */                                              \
  void cast_copy(const Tensor& src, Tensor& dst);                                                \
  void unary(UnaryOp op, const Tensor& x, Tensor& out, double a, double b);                      \
  void binary(BinaryOp op, const Tensor& x, const Tensor& y, Tensor& out, double a);             \
  /* out += x, same shape (gradient accumulation, optimizer buffers) */                          \
  void add_inplace(Tensor& out, const Tensor& x, double alpha);

GAN_DECLARE_PRIMITIVES(GAN_ELEMENTWISE_PRIMITIVES)
GAN_STORES_BF16(cpu, cast_copy)
GAN_STORES_BF16(cuda, cast_copy)
// CUDA maps bfloat16 data themselves: float math between a widening load and one rounding store,
// the values the CPU's float32 copies give.
GAN_STORES_BF16(cuda, unary)
GAN_STORES_BF16(cuda, binary)
GAN_STORES_BF16(cuda, add_inplace)
GAN_STORES_BF16(cuda, fill)  // the value rounded through float, written once
// Every output written in full, never read first (engine/backend/declare.h).
GAN_OVERWRITES_OUTPUTS(fill)
GAN_OVERWRITES_OUTPUTS(arange)
GAN_OVERWRITES_OUTPUTS(random_normal)
GAN_OVERWRITES_OUTPUTS(random_uniform)
GAN_OVERWRITES_OUTPUTS(unary)
GAN_OVERWRITES_OUTPUTS(binary)
