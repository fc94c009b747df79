// Reduction and data-movement primitives.
#pragma once
#include <vector>

#include "engine/backend/declare.h"
#include "engine/core/tensor.h"

#define GAN_REDUCTION_PRIMITIVES                                                                       \
  /* out has x's rank with extent 1 on every reduced dim: out = sum of x over those dims */             \
  void sum_to(const Tensor& x, Tensor& out);                                                           \
  /* out = x broadcast (NumPy rules) to out's shape */                                                 \
  void broadcast_copy(const Tensor& x, Tensor& out);                                                   \
  /* out = x with dims permuted: out.shape[i] = x.shape[perm[i]] */                                    \
  void permute(const Tensor& x, Tensor& out, const std::vector<int64_t>& perm);                        \
  /* copies `length` indices along `dim` from src[src_start...] into dst[dst_start...]; other dims equal */ \
  void slice_copy(const Tensor& src, Tensor& dst, int64_t dim, int64_t src_start, int64_t dst_start,   \
                  int64_t length);                                                                     \
  /* out[n] = sqrt(sum over sample n's elements of x^2 + eps); x viewed as [N, rest] */                \
  void per_sample_norm(const Tensor& x, Tensor& out, double eps);

GAN_DECLARE_PRIMITIVES(GAN_REDUCTION_PRIMITIVES)
// CUDA moves bfloat16 data itself (gathers and strided copies: no arithmetic, the same bits).
GAN_STORES_BF16(cuda, broadcast_copy)
GAN_STORES_BF16(cuda, permute)
GAN_STORES_BF16(cuda, slice_copy)
// CUDA sums bfloat16 itself: read as such, summed in double, rounded once (bias gradients, means).
GAN_STORES_BF16(cuda, sum_to)
GAN_STORES_BF16(cuda, per_sample_norm)
// Every output written in full, never read first (engine/backend/declare.h).
GAN_OVERWRITES_OUTPUTS(sum_to)
GAN_OVERWRITES_OUTPUTS(broadcast_copy)
GAN_OVERWRITES_OUTPUTS(permute)
GAN_OVERWRITES_OUTPUTS(per_sample_norm)
