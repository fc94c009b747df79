// CUDA bias + activation (kernels/bias_act.cu): one pass, float, double or bfloat16 stored as such.
#include "engine/backend/bias_act.h"

#include "engine/cuda/launch_utils.h"
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

}  // namespace gan::cuda
