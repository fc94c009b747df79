// CUDA fused BCE-with-logits: loss sum and dlogits in one pass (kernels/loss.cu).
#include "engine/backend/loss.h"

#include "engine/cuda/launch_utils.h"
#include "kernels/loss.cuh"

namespace gan::cuda {

void bce_with_logits_fused(const Tensor& logits, const Tensor& targets, double target, Tensor& loss_sum,
                           Tensor& dlogits, double grad_scale) {
  OnDevice on(logits);
  const int64_t n = logits.numel();
  Workspace ws(kernels::bce_with_logits_workspace_bytes(n), on.device);
  GAN_DISPATCH_FLOAT(logits.dtype(), "bce_with_logits", [&] {
    GAN_CUDA_CHECK(kernels::bce_with_logits<scalar_t>(
        logits.data<scalar_t>(), targets.defined() ? targets.data<scalar_t>() : nullptr, target, n,
        loss_sum.data<scalar_t>(), dlogits.defined() ? dlogits.data<scalar_t>() : nullptr, grad_scale, ws.get(),
        on.stream));
  });
}

}  // namespace gan::cuda
