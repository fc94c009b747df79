// Spatial image ops on NCHW tensors: sub-pixel (pixel shuffle) and nearest upsampling, reflection
// padding (CycleGAN's ResNet generator), and the per-sample transforms of differentiable
// augmentation (translation, horizontal flip, cutout, brightness, saturation, contrast; the last
// four as Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training", define
// them).
//
// Every op here is linear in its image (brightness and the others are affine in it), so each
// gradient is another op of this file or a composite of engine ops, and any derivative order works.
// Per-sample parameters (shifts, flip flags, cutout centers) are float tensors of either float
// dtype on the image's device, holding integers; they get no gradient (the maps are piecewise
// constant in them). The caller draws them (from its own seeded Generator), so the ops themselves
// are deterministic. On the CPU a bad parameter (not an integer, a flag other than 0 or 1) throws
// an error naming the op, position and value; on CUDA the op never reads parameters on the host
// (that would sync it): the bad parameter's sample comes out all NaN instead, so a training run's
// NaN guard stops on it.
#pragma once
#include "engine/core/tensor.h"

namespace gan {

// x [*, C r^2, H, W] -> [*, C, H r, W r]: out[.., c, h r + i, w r + j] = x[.., c r^2 + i r + j, h, w].
// torch.nn.functional.pixel_shuffle(x, r). Gradient: pixel_unshuffle(g, r).
//   Tensor y = pixel_shuffle(Tensor::randn({2, 12, 5, 7}), 2);  // [2, 3, 10, 14]
Tensor pixel_shuffle(const Tensor& x, int64_t r);

// The inverse, x [*, C, H r, W r] -> [*, C r^2, H, W]: out[.., c r^2 + i r + j, h, w] = x[.., c, h r + i, w r + j].
// torch.nn.functional.pixel_unshuffle(x, r). Gradient: pixel_shuffle(g, r).
Tensor pixel_unshuffle(const Tensor& x, int64_t r);

// x [N, C, H, W] -> [N, C, H s, W s]: out[n, c, y, x] = x[n, c, floor(y / s), floor(x / s)], integer s >= 1.
// torch.nn.Upsample(scale_factor=s, mode='nearest'). Gradient: upsample_nearest2d_backward(g, s).
Tensor upsample_nearest2d(const Tensor& x, int64_t scale);

// Its gradient, an op of its own (one kernel, not reshape + sum): g [N, C, H s, W s] -> [N, C, H, W],
// out[n, c, y, x] = sum_{0 <= i, j < s} g[n, c, y s + i, x s + j]. torch: F.avg_pool2d(g, s) * s^2
// (or g.reshape(N, C, H, s, W, s).sum((3, 5))). Gradient: upsample_nearest2d(g, s).
Tensor upsample_nearest2d_backward(const Tensor& grad, int64_t scale);

// x [N, C, H, W] -> [N, C, H + top + bottom, W + left + right], mirrored at each border without
// repeating the edge: out[n, c, i, j] = x[n, c, r(i - top, H), r(j - left, W)] with r(k, L) = |k| for
// k < L and 2 (L - 1) - k beyond. Each pad >= 0 and < the extent it pads (so one mirror suffices).
// torch.nn.ReflectionPad2d((left, right, top, bottom)), F.pad(x, (left, right, top, bottom),
// mode='reflect'). Gradient: reflection_pad2d_backward(g, left, right, top, bottom).
//   Tensor y = reflection_pad2d(Tensor::randn({1, 3, 256, 256}), 3);  // [1, 3, 262, 262]
Tensor reflection_pad2d(const Tensor& x, int64_t left, int64_t right, int64_t top, int64_t bottom);
Tensor reflection_pad2d(const Tensor& x, int64_t pad);

// Its gradient, the adjoint, an op of its own: g [N, C, H', W'] -> [N, C, H' - top - bottom,
// W' - left - right], each input element the sum of the (at most 3 x 3) output positions that
// reflect onto it. torch: the autograd of F.pad(mode='reflect') (reflection_pad2d_backward).
// Gradient: reflection_pad2d(g, left, right, top, bottom).
Tensor reflection_pad2d_backward(const Tensor& grad, int64_t left, int64_t right, int64_t top, int64_t bottom);

// x [N, C, H, W], shifts [N, 2] = (dy, dx) integers per sample:
// out[n, c, y, x] = x[n, c, y - dy, x - dx], 0 where that falls outside the image (zero padding).
// torch: torch.roll(x[n], (dy, dx), (1, 2)) with the wrapped-around rows/columns zeroed.
// Gradient (its adjoint): translate2d(g, -shifts).
Tensor translate2d(const Tensor& x, const Tensor& shifts);

// x [N, C, H, W], mask [N] of 0/1: out[n] = mask[n] ? x[n, :, :, W - 1 - x] : x[n] (left-right mirror).
// torch: torch.where(mask.view(N, 1, 1, 1) == 1, x.flip(3), x). Gradient: flip_horizontal(g, mask).
Tensor flip_horizontal(const Tensor& x, const Tensor& mask);

// A cutout mask [N, 1, H, W] in centers' dtype and device: 0 where
// cy - size_h / 2 <= y < cy - size_h / 2 + size_h and likewise in x (floor division; the square is
// clipped at the border), 1 elsewhere; centers [N, 2] = (cy, cx) integers (any value: a square
// outside the image cuts nothing). Not differentiable (piecewise constant in centers): never
// recorded. torch: the cited paper's cutout mask, its offsets (cy, cx).
Tensor cutout_mask(int64_t n, int64_t h, int64_t w, const Tensor& centers, int64_t size_h, int64_t size_w);
Tensor cutout_mask(int64_t n, int64_t h, int64_t w, const Tensor& centers, int64_t size);

// x * cutout_mask(N, H, W, centers, size_h, size_w) (the mask cast to x's dtype, broadcast over
// channels): a composite of mul, so its gradient is g * mask. torch: x * mask.unsqueeze(1).
Tensor cutout(const Tensor& x, const Tensor& centers, int64_t size_h, int64_t size_w);
Tensor cutout(const Tensor& x, const Tensor& centers, int64_t size);

// The colour transforms take one factor per sample, r [N] (or [N, 1, .., 1]) in x's dtype, usually
// drawn uniform in [0, 1); composites of add, mul and mean, differentiable in both x and r.
// out = x + (r - 0.5).                      torch: x + (r.view(N, 1, 1, 1) - 0.5)
Tensor adjust_brightness(const Tensor& x, const Tensor& r);
// out = (x - m) * (2 r) + m, m = mean over channels (dim 1, kept).
//                                           torch: m = x.mean(1, keepdim=True); (x - m) * (2 * r) + m
Tensor adjust_saturation(const Tensor& x, const Tensor& r);
// out = (x - m) * (r + 0.5) + m, m = mean over each sample (dims 1.., kept).
//                                           torch: m = x.mean((1, 2, 3), keepdim=True); (x - m) * (r + 0.5) + m
Tensor adjust_contrast(const Tensor& x, const Tensor& r);

}  // namespace gan
