// Differentiable 2-D pooling and bilinear resize over NCHW tensors, defined as PyTorch defines
// them (torch.nn.functional.max_pool2d and avg_pool2d with ceil_mode false, interpolate with
// mode "bilinear" and align_corners false), so a network written with them matches its PyTorch
// twin to rounding. Padding is at most half the kernel, as PyTorch requires: every window then
// holds at least one real pixel.
//
//   Tensor x = Tensor::randn({2, 3, 35, 35});
//   Tensor m = max_pool2d(x, 3, 2);                       // [2, 3, 17, 17]
//   Tensor a = avg_pool2d(x, 3, 1, 1, false);             // [2, 3, 35, 35], padding not counted
//   Tensor r = resize_bilinear(x, 299, 299);              // [2, 3, 299, 299]
#pragma once
#include "engine/backend/pool.h"
#include "engine/core/tensor.h"

namespace gan {

// Window maxima. Differentiable to every order: the gradient goes to each window's argmax (the
// first maximum in row-major window order; a NaN counts as the maximum).
Tensor max_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0);
// src's values at the positions of key's window maxima (max_pool2d(x) is max_pool2d_at(x, x)).
// Differentiable in src; the argmax is piecewise constant in key, which gets no gradient.
Tensor max_pool2d_at(const Tensor& key, const Tensor& src, const Pool2dParams& p);
// The gradient of max_pool2d at x for upstream g [N, C, OH, OW]: [N, C, H, W]. Linear in g (its
// own gradient is max_pool2d_at(x, G)); x gets no gradient (piecewise constant).
Tensor max_pool2d_backward(const Tensor& g, const Tensor& x, const Pool2dParams& p);

// Window means; count_include_pad false divides by the real pixels of each window only.
// Linear: its gradient avg_pool2d_backward is itself differentiable, to every order.
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0,
                  bool count_include_pad = true);
// The adjoint of avg_pool2d (its gradient) for an input of in_h x in_w; its own gradient is
// avg_pool2d.
Tensor avg_pool2d_backward(const Tensor& g, const Pool2dParams& p, int64_t in_h, int64_t in_w);

// Bilinear resize to out_h x out_w, align_corners false (pixel centres aligned, no antialiasing,
// edge pixels repeated), weights computed in the tensor's dtype as PyTorch does. Linear: its
// gradient resize_bilinear_backward is differentiable, to every order.
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w);
// The adjoint of resize_bilinear (its gradient) for an input of in_h x in_w. On CUDA the sums use
// float atomics, so their last bits may vary between runs.
Tensor resize_bilinear_backward(const Tensor& g, int64_t in_h, int64_t in_w);

}  // namespace gan
