// Multi-tensor optimizer kernels. Each tensor is cut into chunks of kChunk elements; block b walks the
// chunks b, b + gridDim.x, ... and finds a chunk's tensor by binary search over the chunk prefix sums
// held in the argument block (the same address for every thread: a broadcast read). Within a chunk
// each thread moves 16 bytes per operand when all of that tensor's pointers are 16-byte aligned.
#include <cmath>

#include "kernels/device_utils.cuh"
#include "kernels/host_device.h"
#include "kernels/optim.cuh"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 8192;  // a multiple of every pack width

// One launch's tensors. Kept under the classic 4 KB kernel-argument limit.
template <int N>
struct TensorList {
  void* ptr[N][kMaxTensorsPerLaunch];
  int64_t numel[kMaxTensorsPerLaunch];
  int64_t chunk_begin[kMaxTensorsPerLaunch + 1];
  bool aligned[kMaxTensorsPerLaunch];
  int count;
};

// Operands: p, g, exp_avg, exp_avg_sq.
template <class T>
struct AdamFn {
  static constexpr int N = 4;
  static constexpr unsigned kStore = 0b1101;
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, step_size, bias_correction2_sqrt;
  const AdamStepScalars* on_device;
  __device__ __forceinline__ void resolve() {
    if (!on_device) return;
    step_size = static_cast<T>(on_device->step_size);
    bias_correction2_sqrt = static_cast<T>(on_device->bias_correction2_sqrt);
  }
  __device__ __forceinline__ void operator()(T (&v)[N]) const {
    T p = v[0], g = v[1];
    if (weight_decay != T(0)) g = g + weight_decay * p;
    const T m = beta1 * v[2] + one_minus_beta1 * g;
    const T s = beta2 * v[3] + one_minus_beta2 * (g * g);
    const T denom = hd::sqrt(s) / bias_correction2_sqrt + eps;
    v[0] = p - step_size * (m / denom);
    v[2] = m;
    v[3] = s;
  }
};

// Operands: p, g, momentum buffer (absent when momentum == 0).
template <class T>
struct SgdFn {
  static constexpr int N = 3;
  static constexpr unsigned kStore = 0b101;
  T lr, momentum, weight_decay;
  bool use_momentum, first_step;
  const double* lr_on_device;
  __device__ __forceinline__ void resolve() {
    if (lr_on_device) lr = static_cast<T>(*lr_on_device);
  }
  __device__ __forceinline__ void operator()(T (&v)[N]) const {
    T p = v[0], g = v[1];
    if (weight_decay != T(0)) g = g + weight_decay * p;
    if (use_momentum) {
      g = first_step ? g : momentum * v[2] + g;
      v[2] = g;
    }
    v[0] = p - lr * g;
  }
};

// Operands: p, g, square_avg, momentum buffer (absent when momentum == 0).
template <class T>
struct RmspropFn {
  static constexpr int N = 4;
  static constexpr unsigned kStore = 0b1101;
  T lr, alpha, one_minus_alpha, eps, weight_decay, momentum;
  bool use_momentum;
  const double* lr_on_device;
  __device__ __forceinline__ void resolve() {
    if (lr_on_device) lr = static_cast<T>(*lr_on_device);
  }
  __device__ __forceinline__ void operator()(T (&v)[N]) const {
    T p = v[0], g = v[1];
    if (weight_decay != T(0)) g = g + weight_decay * p;
    const T sq = alpha * v[2] + one_minus_alpha * (g * g);
    v[2] = sq;
    const T avg = hd::sqrt(sq) + eps;
    if (use_momentum) {
      const T buf = momentum * v[3] + g / avg;
      v[3] = buf;
      v[0] = p - lr * buf;
    } else {
      v[0] = p - lr * (g / avg);
    }
  }
};

template <class T>
struct ClampFn {
  static constexpr int N = 1;
  static constexpr unsigned kStore = 0b1;
  T c;
  __device__ __forceinline__ void resolve() {}
  __device__ __forceinline__ void operator()(T (&v)[N]) const {
    const T lo = v[0] < -c ? -c : v[0];
    v[0] = c < lo ? c : lo;
  }
};

template <class T, class Fn>
__device__ __forceinline__ void apply_scalar(T* const (&ptr)[Fn::N], int64_t i, const Fn& fn) {
  T v[Fn::N];
#pragma unroll
  for (int k = 0; k < Fn::N; ++k) v[k] = ptr[k] ? ptr[k][i] : T(0);
  fn(v);
#pragma unroll
  for (int k = 0; k < Fn::N; ++k)
    if (((Fn::kStore >> k) & 1u) && ptr[k]) ptr[k][i] = v[k];
}

template <class T, class Fn>
__global__ void multi_tensor_kernel(TensorList<Fn::N> list, Fn fn) {
  fn.resolve();  // per-step values from device memory, when the launch has them there
  constexpr int V = kPack<T>;
  using P = Pack<T, V>;
  const int64_t total = list.chunk_begin[list.count];
  for (int64_t c = blockIdx.x; c < total; c += gridDim.x) {
    int lo = 0, hi = list.count - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (list.chunk_begin[mid] <= c) lo = mid;
      else hi = mid - 1;
    }
    const int t = lo;
    T* ptr[Fn::N];
#pragma unroll
    for (int k = 0; k < Fn::N; ++k) ptr[k] = static_cast<T*>(list.ptr[k][t]);
    const int64_t begin = (c - list.chunk_begin[t]) * kChunk;
    const int64_t end = min(list.numel[t], begin + kChunk);
    int64_t scalar_from = begin;
    if (list.aligned[t]) {
      const int64_t packs = (end - begin) / V;  // begin is a multiple of V: so is each pack's start
      for (int64_t j = threadIdx.x; j < packs; j += blockDim.x) {
        const int64_t i = begin / V + j;
        P in[Fn::N];
#pragma unroll
        for (int k = 0; k < Fn::N; ++k)
          if (ptr[k]) in[k] = reinterpret_cast<const P*>(ptr[k])[i];
#pragma unroll
        for (int e = 0; e < V; ++e) {
          T v[Fn::N];
#pragma unroll
          for (int k = 0; k < Fn::N; ++k) v[k] = ptr[k] ? in[k].v[e] : T(0);
          fn(v);
#pragma unroll
          for (int k = 0; k < Fn::N; ++k) in[k].v[e] = v[k];
        }
#pragma unroll
        for (int k = 0; k < Fn::N; ++k)
          if (((Fn::kStore >> k) & 1u) && ptr[k]) reinterpret_cast<P*>(ptr[k])[i] = in[k];
      }
      scalar_from = begin + packs * V;
    }
    for (int64_t i = scalar_from + threadIdx.x; i < end; i += blockDim.x) apply_scalar<T>(ptr, i, fn);
  }
}

// Packs the tensors into argument blocks of up to kMaxTensorsPerLaunch and launches each.
// ptrs[k][i] is operand k of tensor i (ptrs[k] itself may be null: an absent operand).
template <class T, class Fn>
cudaError_t launch_lists(void* const* const* ptrs, const int64_t* numel, int count, const Fn& fn, cudaStream_t s) {
  constexpr int N = Fn::N;
  for (int first = 0; first < count; first += kMaxTensorsPerLaunch) {
    TensorList<N> list{};
    int m = 0;
    int64_t chunks = 0;
    for (int i = first; i < count && i < first + kMaxTensorsPerLaunch; ++i) {
      if (numel[i] <= 0) continue;
      bool al = true;
      for (int k = 0; k < N; ++k) {
        void* p = ptrs[k] ? ptrs[k][i] : nullptr;
        list.ptr[k][m] = p;
        if (p && !aligned16(p)) al = false;
      }
      list.numel[m] = numel[i];
      list.aligned[m] = al;
      list.chunk_begin[m] = chunks;
      chunks += (numel[i] + kChunk - 1) / kChunk;
      ++m;
    }
    if (m == 0) continue;
    list.chunk_begin[m] = chunks;
    list.count = m;
    const int64_t cap = static_cast<int64_t>(sm_count()) * (2048 / kThreads);
    multi_tensor_kernel<T><<<static_cast<unsigned>(chunks < cap ? chunks : cap), kThreads, 0, s>>>(list, fn);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template <class T>
void* const* as_void(T* const* p) {
  return reinterpret_cast<void* const*>(p);
}
template <class T>
void* const* as_void(const T* const* p) {
  return reinterpret_cast<void* const*>(const_cast<T* const*>(p));
}

}  // namespace

template <class T>
cudaError_t adam_step(T* const* params, const T* const* grads, T* const* exp_avg, T* const* exp_avg_sq,
                      const int64_t* numel, int count, const AdamArgs& a, cudaStream_t s) {
  const AdamStepScalars k = adam_step_scalars(a.lr, a.beta1, a.beta2, a.step);
  AdamFn<T> fn{static_cast<T>(a.beta1),        static_cast<T>(1.0 - a.beta1), static_cast<T>(a.beta2),
               static_cast<T>(1.0 - a.beta2),  static_cast<T>(a.eps),         static_cast<T>(a.weight_decay),
               static_cast<T>(k.step_size),    static_cast<T>(k.bias_correction2_sqrt), a.step_on_device};
  void* const* ptrs[4] = {as_void(params), as_void(grads), as_void(exp_avg), as_void(exp_avg_sq)};
  return launch_lists<T>(ptrs, numel, count, fn, s);
}

template <class T>
cudaError_t sgd_step(T* const* params, const T* const* grads, T* const* momentum_buf, const int64_t* numel, int count,
                     const SgdArgs& a, cudaStream_t s) {
  const bool use_momentum = a.momentum != 0.0;
  SgdFn<T> fn{static_cast<T>(a.lr), static_cast<T>(a.momentum), static_cast<T>(a.weight_decay), use_momentum,
              a.first_step, a.lr_on_device};
  void* const* ptrs[3] = {as_void(params), as_void(grads), use_momentum ? as_void(momentum_buf) : nullptr};
  return launch_lists<T>(ptrs, numel, count, fn, s);
}

template <class T>
cudaError_t rmsprop_step(T* const* params, const T* const* grads, T* const* square_avg, T* const* momentum_buf,
                         const int64_t* numel, int count, const RmspropArgs& a, cudaStream_t s) {
  const bool use_momentum = a.momentum > 0.0;
  RmspropFn<T> fn{static_cast<T>(a.lr),  static_cast<T>(a.alpha),        static_cast<T>(1.0 - a.alpha),
                  static_cast<T>(a.eps), static_cast<T>(a.weight_decay), static_cast<T>(a.momentum),
                  use_momentum,          a.lr_on_device};
  void* const* ptrs[4] = {as_void(params), as_void(grads), as_void(square_avg),
                          use_momentum ? as_void(momentum_buf) : nullptr};
  return launch_lists<T>(ptrs, numel, count, fn, s);
}

template <class T>
cudaError_t clamp_params(T* const* params, const int64_t* numel, int count, double c, cudaStream_t s) {
  void* const* ptrs[1] = {as_void(params)};
  return launch_lists<T>(ptrs, numel, count, ClampFn<T>{static_cast<T>(c)}, s);
}

#define GAN_INSTANTIATE(T)                                                                                          \
  template cudaError_t adam_step<T>(T* const*, const T* const*, T* const*, T* const*, const int64_t*, int,          \
                                    const AdamArgs&, cudaStream_t);                                                 \
  template cudaError_t sgd_step<T>(T* const*, const T* const*, T* const*, const int64_t*, int, const SgdArgs&,      \
                                   cudaStream_t);                                                                   \
  template cudaError_t rmsprop_step<T>(T* const*, const T* const*, T* const*, T* const*, const int64_t*, int,       \
                                       const RmspropArgs&, cudaStream_t);                                           \
  template cudaError_t clamp_params<T>(T* const*, const int64_t*, int, double, cudaStream_t);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels
