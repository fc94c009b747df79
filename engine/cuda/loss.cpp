// CUDA fused losses: BCE-with-logits and softmax cross-entropy, each the loss and dlogits in one
// pass (kernels/loss.cu). No host sync: targets are never read on the host.
#include "engine/backend/loss.h"

#include <type_traits>

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

void softmax_cross_entropy_fused(const Tensor& logits, const Tensor& targets, double label_smoothing, Tensor& loss,
                                 Tensor& dlogits, double grad_scale) {
  OnDevice on(logits);
  const int64_t n = logits.shape()[0], k = logits.shape()[1];
  const bool sum_out = loss.defined() && loss.dim() == 0;
  Workspace ws(sum_out ? kernels::softmax_cross_entropy_workspace_bytes(n) : 0, on.device);
  GAN_DISPATCH_FLOAT(logits.dtype(), "softmax_cross_entropy", [&] {
    using T = scalar_t;
    auto run = [&](const auto* ids) {
      using I = std::remove_const_t<std::remove_pointer_t<decltype(ids)>>;
      GAN_CUDA_CHECK(kernels::softmax_cross_entropy<T, I>(
          logits.data<T>(), ids, n, k, label_smoothing, loss.defined() && !sum_out ? loss.data<T>() : nullptr,
          sum_out ? loss.data<T>() : nullptr, dlogits.defined() ? dlogits.data<T>() : nullptr, grad_scale, ws.get(),
          on.stream));
    };
    if (targets.defined())
      GAN_DISPATCH_FLOAT(targets.dtype(), "softmax_cross_entropy", [&] { run(targets.data<scalar_t>()); });
    else
      run(static_cast<const T*>(nullptr));
  });
}

}  // namespace gan::cuda
