// Spatial primitives over NCHW images: pixel shuffle and its inverse, nearest upsampling and its
// block-sum gradient, reflection padding and its gather-sum gradient, and per-sample translation,
// horizontal flip and cutout masks.
//
// Shuffle, upsampling and padding see an image batch as P = (leading dims) x channels planes of H x W; every
// output element is written (none is skipped, none accumulated into). Per-sample parameters
// (shifts, flip flags, cutout centers) are float tensors of either float dtype, independent of the
// image's, holding integers (kernels/spatial_params.h). A bad parameter is never read as another
// value: both backends write NaN over its sample's whole output. The ops check CPU parameters
// first and throw instead (a CUDA op cannot look at them without a host sync).
#pragma once
#include "engine/backend/declare.h"
#include "engine/core/tensor.h"

#define GAN_SPATIAL_PRIMITIVES                                                                        \
  /* x [.., C r r, H, W] -> out [.., C, H r, W r]: out[p, h r + i, w r + j] = x[p r r + i r + j, h, w] */ \
  void pixel_shuffle(const Tensor& x, int64_t r, Tensor& out);                                        \
  /* The inverse: x [.., C, H r, W r] -> out [.., C r r, H, W].                                      */ \
  void pixel_unshuffle(const Tensor& x, int64_t r, Tensor& out);                                      \
  /* x [N, C, H, W] -> out [N, C, H s, W s]: out[p, y, x] = x[p, y / s, x / s].                     */ \
  void upsample_nearest2d(const Tensor& x, int64_t s, Tensor& out);                                   \
  /* g [N, C, H s, W s] -> out [N, C, H, W]: out[p, y, x] = sum over the s x s block of g at (y s,   */ \
  /* x s), added row by row, left to right (the same order on both backends).                        */ \
  void upsample_nearest2d_backward(const Tensor& g, int64_t s, Tensor& out);                          \
  /* x [N, C, H, W] -> out [N, C, H + t + b, W + l + r]: out[p, i, j] = x[p, m(i - t, H), m(j - l, W)], */ \
  /* m(k, L) = |k| below L, 2 (L - 1) - k from L on; every pad < its extent (checked by the op).     */ \
  void reflection_pad2d(const Tensor& x, int64_t l, int64_t r, int64_t t, int64_t b, Tensor& out);    \
  /* Its adjoint, g [N, C, H', W'] -> out [N, C, H' - t - b, W' - l - r]: each element gathers the    */ \
  /* (at most 3 x 3) g values that reflect onto it, added in increasing (row, column) of g (the same  */ \
  /* order on both backends).                                                                         */ \
  void reflection_pad2d_backward(const Tensor& g, int64_t l, int64_t r, int64_t t, int64_t b, Tensor& out); \
  /* out[n, c, y, x] = x[n, c, y - dy, x - dx], 0 outside; shifts [N, 2] = (dy, dx) integers.        */ \
  /* A non-integer shift (NaN, inf, a fraction): sample n all NaN.                                   */ \
  void translate2d(const Tensor& x, const Tensor& shifts, Tensor& out);                               \
  /* out[n, c, y, x] = x[n, c, y, W - 1 - x] where mask[n] == 1, x[n, c, y, x] where it is 0;        */ \
  /* any other mask value: sample n all NaN.                                                         */ \
  void flip_horizontal(const Tensor& x, const Tensor& mask, Tensor& out);                             \
  /* out [N, 1, H, W] (its own dtype) = 0 inside sample n's size_h x size_w square starting at        */ \
  /* centers[n] - size / 2 (floor), clipped at the border, 1 elsewhere; centers [N, 2] = (cy, cx)     */ \
  /* integers. A non-integer center: sample n all NaN.                                               */ \
  void cutout_mask(const Tensor& centers, int64_t size_h, int64_t size_w, Tensor& out);

GAN_DECLARE_PRIMITIVES(GAN_SPATIAL_PRIMITIVES)
// Every output written in full, never read first (engine/backend/declare.h).
GAN_OVERWRITES_OUTPUTS(pixel_shuffle)
GAN_OVERWRITES_OUTPUTS(pixel_unshuffle)
GAN_OVERWRITES_OUTPUTS(upsample_nearest2d)
GAN_OVERWRITES_OUTPUTS(upsample_nearest2d_backward)
GAN_OVERWRITES_OUTPUTS(reflection_pad2d)
GAN_OVERWRITES_OUTPUTS(reflection_pad2d_backward)
GAN_OVERWRITES_OUTPUTS(translate2d)
GAN_OVERWRITES_OUTPUTS(flip_horizontal)
GAN_OVERWRITES_OUTPUTS(cutout_mask)
