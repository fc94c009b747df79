// Pooling and bilinear-resize primitives over NCHW planes. Window, divisor and tap rules are those
// of kernels/pool_index.h (PyTorch's), shared by both backends.
//
// Max pooling is two primitives around one argmax: max_pool2d_gather reads `src` at the position of
// each window's maximum of `key` (the forward pass is gather(key = x, src = x)), and
// max_pool2d_scatter adds a gradient back to those positions. Being adjoint to each other, they
// give max pooling derivatives of every order (engine/ops/pool.cpp).
#pragma once
#include <cstdint>

#include "engine/backend/declare.h"
#include "engine/core/tensor.h"

namespace gan {

// A 2-D pooling window walk, ceil_mode false.
struct Pool2dParams {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // avg_pool2d only: padded zeros count in the divisor
  static Pool2dParams make(int64_t kernel, int64_t stride, int64_t pad = 0, bool count_include_pad = true) {
    return {kernel, kernel, stride, stride, pad, pad, count_include_pad};
  }
};

}  // namespace gan

#define GAN_POOL_PRIMITIVES                                                                             \
  /* out [N, C, OH, OW] = src at the argmax of key over each window; key and src [N, C, H, W].       */ \
  void max_pool2d_gather(const Tensor& key, const Tensor& src, const Pool2dParams& p, Tensor& out);    \
  /* out [N, C, H, W] (overwritten) = sum of g [N, C, OH, OW] over the windows whose argmax of key   */ \
  /* is that position. CPU: in window order; CUDA: float atomics (last bits vary where windows      */ \
  /* overlap).                                                                                      */ \
  void max_pool2d_scatter(const Tensor& key, const Tensor& g, const Pool2dParams& p, Tensor& out);     \
  /* out [N, C, OH, OW] = window mean of x [N, C, H, W].                                             */ \
  void avg_pool2d(const Tensor& x, const Pool2dParams& p, Tensor& out);                                \
  /* out [N, C, H, W] (overwritten) = the adjoint of avg_pool2d applied to g [N, C, OH, OW].         */ \
  void avg_pool2d_backward(const Tensor& g, const Pool2dParams& p, Tensor& out);                       \
  /* out [N, C, OH, OW] = bilinear resize of x [N, C, H, W], align_corners false.                    */ \
  void resize_bilinear(const Tensor& x, Tensor& out);                                                  \
  /* out [N, C, H, W] (overwritten) = the adjoint of resize_bilinear applied to g [N, C, OH, OW].    */ \
  /* CPU: deterministic; CUDA: float atomics.                                                       */ \
  void resize_bilinear_backward(const Tensor& g, Tensor& out);

GAN_DECLARE_PRIMITIVES(GAN_POOL_PRIMITIVES)
// Every output written in full, never read first (engine/backend/declare.h).
GAN_OVERWRITES_OUTPUTS(max_pool2d_gather)
GAN_OVERWRITES_OUTPUTS(max_pool2d_scatter)
GAN_OVERWRITES_OUTPUTS(avg_pool2d)
GAN_OVERWRITES_OUTPUTS(avg_pool2d_backward)
GAN_OVERWRITES_OUTPUTS(resize_bilinear)
GAN_OVERWRITES_OUTPUTS(resize_bilinear_backward)
