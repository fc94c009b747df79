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

}  // namespace gan::kernels
