// One thread per element (grid-stride). The channel of flat index i is (i / S) % C: with S = 1
// (a Linear layer's [N, C]) one division; otherwise two, by divisors fixed at launch
// (kernels/divmod.cuh) while the tensor has fewer than 2^31 elements, 64-bit ones past that.
// Memory-bound: x read once, y written once, the bias vector stays in L1/L2.
#include "kernels/bfloat16.h"
#include "kernels/bias_act.cuh"
#include "kernels/device_utils.cuh"
#include "kernels/divmod.cuh"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;

// Channel of flat index i, 32-bit: i < 2^31 is checked on the host.
struct ChannelOf32 {
  FastDivmod by_s, by_c;
  bool spatial;  // S > 1
  __device__ __forceinline__ int64_t operator()(int64_t i) const {
    uint32_t q = static_cast<uint32_t>(i), r;
    if (spatial) q = by_s.div(q);
    by_c.divmod(q, q, r);
    return r;
  }
};

// The same in 64-bit arithmetic, for tensors of 2^31 elements or more.
struct ChannelOf64 {
  int64_t S, C;
  __device__ __forceinline__ int64_t operator()(int64_t i) const { return (i / S) % C; }
};

template <class T, class Channel>
__global__ void bias_act_kernel(const T* x, const T* bias, NormActKind kind, typename NormActCompute<T>::type slope,
                                T* y, int64_t total, Channel channel_of) {
  for (int64_t i = global_thread(); i < total; i += grid_threads())
    y[i] = bias_act_value(kind, slope, x[i], bias[channel_of(i)]);
}

}  // namespace

template <class T>
cudaError_t bias_act_forward(const T* x, const T* bias, const NormAct& act, T* y, int64_t N, int64_t C, int64_t S,
                             cudaStream_t stream) {
  const int64_t total = N * C * S;
  if (total == 0) return cudaSuccess;
  using Compute = typename NormActCompute<T>::type;
  const Compute slope = static_cast<Compute>(act.slope);
  const unsigned grid = grid_for(total, kThreads);
  if (total < (int64_t{1} << 31)) {
    ChannelOf32 ch{FastDivmod(static_cast<uint32_t>(S)), FastDivmod(static_cast<uint32_t>(C)), S > 1};
    bias_act_kernel<<<grid, kThreads, 0, stream>>>(x, bias, act.kind, slope, y, total, ch);
  } else {
    bias_act_kernel<<<grid, kThreads, 0, stream>>>(x, bias, act.kind, slope, y, total, ChannelOf64{S, C});
  }
  return cudaGetLastError();
}

template cudaError_t bias_act_forward<float>(const float*, const float*, const NormAct&, float*, int64_t, int64_t,
                                             int64_t, cudaStream_t);
template cudaError_t bias_act_forward<double>(const double*, const double*, const NormAct&, double*, int64_t, int64_t,
                                              int64_t, cudaStream_t);
template cudaError_t bias_act_forward<bf16>(const bf16*, const bf16*, const NormAct&, bf16*, int64_t, int64_t,
                                            int64_t, cudaStream_t);

}  // namespace gan::kernels
