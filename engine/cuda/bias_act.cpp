// CUDA bias + activation (kernels/bias_act.cu): one pass, float, double or bfloat16 stored as such.
// Its gradient is the masked gradient summed by the reduction kernels in sum_to's order
// (kernels/reduction.cuh: masked_grad_sum), one pass for dx and dbias.
#include "engine/backend/bias_act.h"

#include "engine/cuda/launch_utils.h"
#include "engine/cuda/sum_plan.h"
#include "kernels/bias_act.cuh"

namespace gan::cuda {

void bias_act_forward(const Tensor& x, const Tensor& bias, const kernels::NormAct& act, Tensor& y) {
  OnDevice on(y);
  const int64_t N = x.size(0), C = x.size(1), S = N * C > 0 ? x.numel() / (N * C) : 0;
  GAN_DISPATCH_FLOAT_BF16(x.dtype(), "bias_act", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::bias_act_forward<T>(x.data<T>(), bias.data<T>(), act, y.data<T>(), N, C, S, on.stream));
  });
}

void bias_act_backward(const Tensor& dy, const Tensor& y, const kernels::NormAct& act, Tensor& dx, Tensor& dbias) {
  OnDevice on(dx);
  Shape os(dy.dim(), 1);
  os[1] = dy.size(1);
  const kernels::ReducePlan plan = sum_to_plan(dy.shape(), os);
  Workspace ws(kernels::reduce_workspace_bytes(plan), on.device);
  GAN_DISPATCH_FLOAT_BF16(dy.dtype(), "bias_act_backward", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::masked_grad_sum<T>(dy.data<T>(), y.data<T>(), act, dx.data<T>(), dbias.data<T>(), plan,
                                               ws.get(), on.stream));
  });
  // One value per channel: sum_to adds nothing and copies (a -0.0 stays -0.0, where 0.0 + -0.0
  // would not), so the bias gradient is dx itself.
  if (dbias.numel() == dx.numel())
    GAN_CUDA_CHECK(cudaMemcpyAsync(dbias.raw_data(), dx.raw_data(), dx.nbytes(), cudaMemcpyDeviceToDevice, on.stream));
}

}  // namespace gan::cuda
