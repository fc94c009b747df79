// Differentiable normalisation layers.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace gan {

// Batch norm over (N, H, W) per channel of x[N, C, H, W] (or x[N, C]). In training it uses the
// batch statistics and updates running_mean/running_var in place (momentum as PyTorch: new =
// (1 - m) old + m batch, unbiased variance for the running estimate); in eval it uses them.
// weight/bias/running stats may be undefined (affine=false / track_running_stats=false).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// The training-mode gradient of batch_norm for upstream gradient g: {dx, dweight, dbias} (dweight
// and dbias are computed whether or not the layer has them). One fused pass; differentiable (its
// second derivative is the reference's). mean/invstd: the batch statistics of x's forward (per
// channel, invstd = 1 / sqrt(biased var + eps)); computed from x when not given.
std::vector<Tensor> batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& weight, double eps = 1e-5,
                                        const Tensor& mean = Tensor(), const Tensor& invstd = Tensor());
// The same gradient written in differentiable ops: the slow reference the fused op is tested against.
std::vector<Tensor> batch_norm_backward_reference(const Tensor& g, const Tensor& x, const Tensor& weight,
                                                  double eps = 1e-5);

// Instance norm: each (n, c) plane of x [N, C, H, W] (or [N, C, *], at least one spatial dim)
// normalised by its own statistics, then the optional per-channel affine weight/bias [C]
// (undefined = none):
//   y[n, c] = (x[n, c] - mean[n, c]) / sqrt(var[n, c] + eps) * weight[c] + bias[c],
// mean and biased var over the spatial positions of plane (n, c). torch.nn.functional.instance_norm
// (x, weight=weight, bias=bias, eps=eps) without running statistics. A composite, as PyTorch
// computes it: batch_norm in training mode on x viewed as [1, N C, *] (each plane a channel), with
// weight and bias repeated N times ([N C]). So it runs the fused batch-norm kernels on both
// devices, and its first and second derivatives are batch_norm's (broadcast_to's gradient sums the
// repeated weight's back to [C]).
//   Tensor y = instance_norm(Tensor::randn({1, 256, 64, 64}), Tensor(), Tensor());
Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

// Layer norm over the last `normalized_dims` dims of x, with optional element-wise affine
// weight/bias of those dims' shape.
Tensor layer_norm(const Tensor& x, int64_t normalized_dims, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);

// Spectral normalisation (Miyato et al. 2018) as torch.nn.utils.spectral_norm computes it. W is
// viewed as a matrix Wm [W.size(dim), rest] (dim 0; 1 for a transposed convolution's weight).
// When `update`, `iterations` power-iteration steps v = n(Wm^T u), u = n(Wm v), n(x) = x /
// max(||x||, eps), refine u [rows] and v [cols] in place, without history. Then sigma = u^T Wm v,
// differentiable in W (u and v are constants to it), and the result is W / sigma. A composite of
// matmul, sum and div, so its first and second derivatives are theirs (no kernel of its own).
Tensor spectral_normalize(const Tensor& weight, Tensor& u, Tensor& v, int64_t dim, int iterations, double eps,
                          bool update);

}  // namespace gan
