// Differentiable normalisation layers.
#pragma once
#include <functional>
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/norm_act.h"

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

// Training-mode batch_norm followed by relu or leaky_relu, in one pass forward and one backward
// (the conv -> batch norm -> activation chains of DCGAN's generator and discriminator):
//   batch_norm_act(x, w, b, rm, rv, {NormActKind::LeakyRelu, 0.2})
//     == leaky_relu(batch_norm(x, w, b, rm, rv, true), 0.2), bit for bit, running stats alike.
// It keeps x and its own output y (the mask's source; kernels/norm_act.h), never the normalised
// value between them, so a layer holds one activation-sized tensor fewer. The slope must be >= 0.
// Differentiable twice, like batch_norm: the second derivative is the composition's.
using kernels::NormAct;
using kernels::NormActKind;
Tensor batch_norm_act(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                      Tensor running_var, const NormAct& act, double momentum = 0.1, double eps = 1e-5);
// Its gradient for upstream gradient g of y: batch_norm_backward of leaky_relu_backward(g, y,
// slope), in one fused pass ({dx, dweight, dbias}); mean/invstd as batch_norm_backward's.
std::vector<Tensor> batch_norm_act_backward(const Tensor& g, const Tensor& y, const NormAct& act, const Tensor& x,
                                            const Tensor& weight, double eps = 1e-5, const Tensor& mean = Tensor(),
                                            const Tensor& invstd = Tensor());
// The same gradient in differentiable ops (the reference the fused op is tested against).
std::vector<Tensor> batch_norm_act_backward_reference(const Tensor& g, const Tensor& y, const NormAct& act,
                                                      const Tensor& x, const Tensor& weight, double eps = 1e-5);

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

// Replaces each per-channel tensor of the list by its sum over the processes that share a batch
// (an all-reduce; engine/dist): how batch_norm_across sees the rest of the batch.
using SumAcross = std::function<void(std::vector<Tensor>& per_channel)>;

// Training-mode batch norm over a batch split across processes (torch.nn.SyncBatchNorm): each
// process passes its part x and gets its part of what batch_norm gives on the whole batch. Forward:
// the count and per-channel sums of x, summed across, give the mean; then the sums of squared
// deviations from it, the variance (two passes, as the kernel: no cancellation in float32).
// Backward: sum(g) and sum(g xhat), summed across, give the input gradient; weight and bias get this
// part's gradient, which the caller averages across processes like any other parameter's. The
// running statistics are updated from the global ones (the same on every process). Built from
// engine ops (slower than the fused kernel); first derivative only (a second one, as the gradient
// penalty takes, is refused). Every process must call it at the same point (it is a collective).
Tensor batch_norm_across(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                         Tensor running_var, const SumAcross& sum_across, double momentum = 0.1, double eps = 1e-5);

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
