// Fused binary cross-entropy on logits: the summed loss and the logits' gradient in one pass.
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace gan::kernels {

// Doubles of workspace bce_with_logits needs for n elements (one partial sum per block).
size_t bce_with_logits_workspace_bytes(int64_t n);

// loss_sum[0] = sum_i max(x_i, 0) - x_i t_i + log1p(exp(-|x_i|)) with t_i = targets[i] (targets may be
// null: t_i = target); dlogits[i] = (sigmoid(x_i) - t_i) * grad_scale. The sum is deterministic
// (fixed per-block partials added in fixed order by a second kernel).
template <class T>
cudaError_t bce_with_logits(const T* logits, const T* targets, double target, int64_t n, T* loss_sum, T* dlogits,
                            double grad_scale, void* workspace, cudaStream_t stream);

// Bytes of workspace softmax_cross_entropy needs for `rows` rows (one partial sum per block).
size_t softmax_cross_entropy_workspace_bytes(int64_t rows);

// Softmax cross-entropy over the rows of logits [n, k], one warp per row (grid-stride over rows),
// with class-id targets [n] (I: float or double) and target distribution
// q = (1 - label_smoothing) onehot(t) + label_smoothing / k:
//   loss_i = logsumexp(x_i) - sum_j q_j x_ij,   dlogits_ij = (softmax(x_i)_j - q_j) * grad_scale.
// Any of loss_rows ([n]: each row's loss), loss_sum (one value: their sum, deterministic: fixed
// per-block partials added in fixed order), dlogits may be null. targets null: q = 0 (dlogits is
// softmax * grad_scale; loss pointers must be null). A target that is not an integer in [0, k)
// makes its row's loss, the sum and its dlogits row NaN.
template <class T, class I>
cudaError_t softmax_cross_entropy(const T* logits, const I* targets, int64_t n, int64_t k, double label_smoothing,
                                  T* loss_rows, T* loss_sum, T* dlogits, double grad_scale, void* workspace,
                                  cudaStream_t stream);

}  // namespace gan::kernels
