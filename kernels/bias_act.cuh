// Bias + activation in one pass: y = act(x + bias[c]) over x viewed as [N, C, S] (S = H W, or 1
// for x [N, C]), the step after a matrix product or a convolution without its own bias. act is
// none, ReLU or LeakyReLU (kernels/norm_act.h), and each value is computed as add then the
// activation compute it (bias_act_value), so a fused layer gives the unfused layers' bits.
// T: float, double or bfloat16 (stored as such, computed in float). y may be x (in place).
// Raw pointers, sizes and a stream.
#pragma once
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/norm_act.h"

namespace gan::kernels {

template <class T>
cudaError_t bias_act_forward(const T* x, const T* bias, const NormAct& act, T* y, int64_t N, int64_t C, int64_t S,
                             cudaStream_t stream);

}  // namespace gan::kernels
