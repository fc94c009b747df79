// Differentiable losses.
#pragma once
#include "engine/core/tensor.h"

namespace gan {

enum class Reduction { None, Mean, Sum };

// Binary cross-entropy on logits: max(x,0) - x t + log(1 + exp(-|x|)), element-wise, then reduced.
// Stable for any logit; the gradient w.r.t. logits is sigmoid(x) - t (scaled by the reduction).
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, Reduction reduction = Reduction::Mean);
// Same with a constant target everywhere (1 for real, 0 for fake): no target tensor is built.
Tensor bce_with_logits(const Tensor& logits, double target, Reduction reduction = Reduction::Mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// |input - target| element-wise, then reduced: torch.nn.L1Loss(reduction=...) (F.l1_loss). A
// composite of sub, abs and the reduction; abs's rule g sign(x) gives sign(input - target), 0 where
// they are equal, as torch. Its second derivative is 0 almost everywhere (sign's rule). CycleGAN's
// cycle-consistency and identity terms.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

// Cross-entropy of logits [N, K] against class ids targets [N] (a float tensor of either dtype
// holding integers in [0, K)), as PyTorch's CrossEntropyLoss(label_smoothing = s): the target
// distribution is q = (1 - s) onehot(t) + s / K and each row's loss is
//   -sum_k q_k log softmax(x)_k = logsumexp(x) - sum_k q_k x_k    (logsumexp taken from the row max).
// Mean averages over the N rows, None gives [N]. One fused pass computes the loss and
// d/dlogits = (softmax(x) - q) * scale; that gradient is the differentiable op
// softmax_cross_entropy_backward, whose own backward is softmax's, so a critic or classifier head
// under a double backward (WGAN-GP) gets exact second and higher derivatives. Targets get no
// gradient. A CPU target outside [0, K) or not an integer throws naming it; on CUDA (no host
// sync) such a row's loss and gradient are NaN, so a Mean/Sum loss is NaN.
//   Tensor logits = Tensor::randn({4, 10}).requires_grad_();
//   Tensor y = Tensor::from_vector(std::vector<float>{3, 0, 9, 3}, {4});
//   softmax_cross_entropy(logits, y, 0.1).backward();
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing = 0.0,
                             Reduction reduction = Reduction::Mean);

// softmax over the K columns of logits [N, K] (the probabilities softmax_cross_entropy compares with
// its targets), from the row max, in the same fused kernel. Differentiable to any order: the
// backward is y (g - sum_k g_k y_k), written with ops and y itself.
Tensor softmax(const Tensor& logits);

// Negative log-likelihood of x under N(mean, exp(log_var)), element-wise:
//   0.5 (log(2 pi) + log_var + (x - mean)^2 exp(-log_var)),
// then reduced (Mean: over all elements, as PyTorch's GaussianNLLLoss(full=True) does with
// var = exp(log_var)). log_var undefined means unit variance: 0.5 (x - mean)^2 + 0.5 log(2 pi).
// mean has x's shape; log_var has x's shape or broadcasts to it (one variance per code dimension,
// [C] for x [N, C]). InfoGAN's continuous-code term. A composite of element-wise ops and a
// reduction, so all its derivatives (in x, mean and log_var, any order) come from theirs.
Tensor gaussian_nll(const Tensor& x, const Tensor& mean, const Tensor& log_var,
                    Reduction reduction = Reduction::Mean);

}  // namespace gan
