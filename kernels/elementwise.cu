// Element-wise kernels. Contiguous maps move 16 bytes per access (float4 / double2) when every pointer
// is 16-byte aligned, with a scalar tail; grid-stride loops with int64 indices throughout. The op is
// a template parameter, chosen once per launch, so each map compiles to a tight loop.
#include <type_traits>

#include "kernels/device_utils.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/philox.h"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;

template <class T>
struct AxpyFn {  // out += alpha * x, as a binary map of (out, x)
  T alpha;
  __device__ __forceinline__ T operator()(T o, T x) const { return o + alpha * x; }
};

// The type a map computes in: float for bfloat16 data, the data's own type otherwise.
template <class T> struct ComputeOf { using type = T; };
template <> struct ComputeOf<bf16> { using type = float; };
template <class T> using compute_t = typename ComputeOf<T>::type;

// A float functor on bfloat16 data: each operand widened (exactly), the result rounded once, as the
// CPU's float32 copies (engine/backend/bf16_widening.h) compute the same map.
template <class F>
struct Bf16Map {
  F f;
  template <class... A>
  __device__ __forceinline__ bf16 operator()(A... x) const {
    return bf16(f(static_cast<float>(x)...));
  }
};
// The functor a launch runs on T data.
template <class T, class F>
__host__ __device__ auto stored_as(F f) {
  if constexpr (std::is_same_v<T, bf16>) return Bf16Map<F>{f};
  else return f;
}

// ---- kernels ----

template <int V, class T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  const int64_t nv = n / V, stride = grid_threads();
  Pack<T, V> p;
#pragma unroll
  for (int k = 0; k < V; ++k) p.v[k] = value;
  for (int64_t i = global_thread(); i < nv; i += stride) reinterpret_cast<Pack<T, V>*>(out)[i] = p;
  for (int64_t i = nv * V + global_thread(); i < n; i += stride) out[i] = value;
}

template <class T>
__global__ void arange_kernel(T* out, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) out[i] = static_cast<T>(i);
}

// mean + std z with the product and the sum rounded separately, as on the CPU (see mul_add_rounded).
template <class T>
__global__ void normal_kernel(T* out, int64_t n, uint64_t seed, uint64_t draw, const uint64_t* draw_on_device,
                              double mean, double std) {
  if (draw_on_device) draw = *draw_on_device;
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    out[i] = static_cast<T>(rng::mul_add_rounded(mean, std, rng::normal_at(seed, draw, static_cast<uint64_t>(i))));
}

// The same [lo, hi) mapping as the CPU, including the rare values that round up to hi.
template <class T>
__global__ void uniform_kernel(T* out, int64_t n, uint64_t seed, uint64_t draw, const uint64_t* draw_on_device,
                               double lo, double hi) {
  if (draw_on_device) draw = *draw_on_device;
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    out[i] = rng::uniform_in<T>(seed, draw, static_cast<uint64_t>(i), lo, hi);
}

template <class In, class Out>
__global__ void cast_kernel(const In* in, Out* out, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) out[i] = static_cast<Out>(in[i]);
}

// No __restrict__: add_inplace passes the output as an input too (same index, read before written).
template <int V, class T, class F>
__global__ void map1_kernel(const T* x, T* y, int64_t n, F f) {
  const int64_t nv = n / V, stride = grid_threads();
  for (int64_t i = global_thread(); i < nv; i += stride) {
    Pack<T, V> p = reinterpret_cast<const Pack<T, V>*>(x)[i];
#pragma unroll
    for (int k = 0; k < V; ++k) p.v[k] = f(p.v[k]);
    reinterpret_cast<Pack<T, V>*>(y)[i] = p;
  }
  for (int64_t i = nv * V + global_thread(); i < n; i += stride) y[i] = f(x[i]);
}

template <int V, class T, class F>
__global__ void map2_kernel(const T* x, const T* y, T* out, int64_t n, F f) {
  const int64_t nv = n / V, stride = grid_threads();
  for (int64_t i = global_thread(); i < nv; i += stride) {
    Pack<T, V> p = reinterpret_cast<const Pack<T, V>*>(x)[i];
    const Pack<T, V> q = reinterpret_cast<const Pack<T, V>*>(y)[i];
#pragma unroll
    for (int k = 0; k < V; ++k) p.v[k] = f(p.v[k], q.v[k]);
    reinterpret_cast<Pack<T, V>*>(out)[i] = p;
  }
  for (int64_t i = nv * V + global_thread(); i < n; i += stride) out[i] = f(x[i], y[i]);
}

template <int V, bool ScalarFirst, class T, class F>
__global__ void map2_scalar_kernel(const T* v, const T* s, T* out, int64_t n, F f) {
  const T sv = *s;
  const int64_t nv = n / V, stride = grid_threads();
  for (int64_t i = global_thread(); i < nv; i += stride) {
    Pack<T, V> p = reinterpret_cast<const Pack<T, V>*>(v)[i];
#pragma unroll
    for (int k = 0; k < V; ++k) p.v[k] = ScalarFirst ? f(sv, p.v[k]) : f(p.v[k], sv);
    reinterpret_cast<Pack<T, V>*>(out)[i] = p;
  }
  for (int64_t i = nv * V + global_thread(); i < n; i += stride) out[i] = ScalarFirst ? f(sv, v[i]) : f(v[i], sv);
}

// Where element i of a run broadcast sits: r = i % inner, m = (i / inner) % mid (the small operand's
// index). Moving by a fixed step costs two adds and two compares, so the grid-stride loop does no
// 64-bit division (each is an emulated sequence of tens of instructions on the GPU, enough to halve
// the bandwidth of a memory-bound map).
struct RunGeom {
  int64_t inner, mid;
  int64_t step_r, step_m;  // the grid-stride step (in elements) as (step % inner, (step / inner) % mid)
};

struct RunPos {
  int64_t r, m;
  __device__ __forceinline__ void advance(const RunGeom& g) {  // by one grid step
    r += g.step_r;
    const int64_t carry = r >= g.inner;
    if (carry) r -= g.inner;
    m += g.step_m + carry;  // < 2 mid: one subtraction suffices
    if (m >= g.mid) m -= g.mid;
  }
  __device__ __forceinline__ void next(const RunGeom& g) {  // by one element
    if (++r == g.inner) {
      r = 0;
      if (++m == g.mid) m = 0;
    }
  }
};

template <bool SmallFirst, class T, class F>
__device__ __forceinline__ T apply_run(const F& f, T big, T small) {
  return SmallFirst ? f(small, big) : f(big, small);
}

// Packs of V elements of `big`. Uniform (inner % V == 0): a pack never crosses a run, so it uses one
// small element; otherwise each element steps its own position.
template <int V, bool Uniform, bool SmallFirst, class T, class F>
__global__ void run2_kernel(const T* big, const T* small, T* out, int64_t n, RunGeom g, F f) {
  const int64_t nv = n / V, stride = grid_threads();
  int64_t i = global_thread();
  if (i < nv) {
    const int64_t e0 = i * V;
    RunPos p{e0 % g.inner, (e0 / g.inner) % g.mid};
    for (; i < nv; i += stride, p.advance(g)) {
      Pack<T, V> x = reinterpret_cast<const Pack<T, V>*>(big)[i];
      if constexpr (Uniform) {
        const T s = small[p.m];
#pragma unroll
        for (int k = 0; k < V; ++k) x.v[k] = apply_run<SmallFirst>(f, x.v[k], s);
      } else {
        RunPos q = p;
#pragma unroll
        for (int k = 0; k < V; ++k, q.next(g)) x.v[k] = apply_run<SmallFirst>(f, x.v[k], small[q.m]);
      }
      reinterpret_cast<Pack<T, V>*>(out)[i] = x;
    }
  }
  for (int64_t j = nv * V + global_thread(); j < n; j += stride)  // fewer than V elements
    out[j] = apply_run<SmallFirst>(f, big[j], small[(j / g.inner) % g.mid]);
}

template <class T, class F>
__global__ void strided2_kernel(const T* x, const T* y, T* out, StridedIndex idx, int64_t n, F f) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    int64_t ox, oy;
    strided_offsets(idx, i, ox, oy);
    out[i] = f(x[ox], y[oy]);
  }
}

template <class T>
__global__ void gather_kernel(const T* x, T* out, StridedIndex idx, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) out[i] = x[strided_offset0(idx, i)];
}

// ---- launch helpers ----

template <class T, class F>
cudaError_t launch_map1(const T* x, T* y, int64_t n, F f, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  constexpr int V = kPack<T>;
  if (aligned16(x) && aligned16(y))
    map1_kernel<V><<<grid_for((n + V - 1) / V, kThreads), kThreads, 0, s>>>(x, y, n, f);
  else
    map1_kernel<1><<<grid_for(n, kThreads), kThreads, 0, s>>>(x, y, n, f);
  return cudaGetLastError();
}

template <class T, class F>
cudaError_t launch_map2(const T* x, const T* y, T* out, int64_t n, F f, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  constexpr int V = kPack<T>;
  if (aligned16(x) && aligned16(y) && aligned16(out))
    map2_kernel<V><<<grid_for((n + V - 1) / V, kThreads), kThreads, 0, s>>>(x, y, out, n, f);
  else
    map2_kernel<1><<<grid_for(n, kThreads), kThreads, 0, s>>>(x, y, out, n, f);
  return cudaGetLastError();
}

template <class T, class F>
cudaError_t launch_scalar(const T* v, const T* sc, bool scalar_first, T* out, int64_t n, F f, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  constexpr int V = kPack<T>;
  const bool vec = aligned16(v) && aligned16(out);
  const unsigned grid = vec ? grid_for((n + V - 1) / V, kThreads) : grid_for(n, kThreads);
  if (vec && scalar_first) map2_scalar_kernel<V, true><<<grid, kThreads, 0, s>>>(v, sc, out, n, f);
  else if (vec) map2_scalar_kernel<V, false><<<grid, kThreads, 0, s>>>(v, sc, out, n, f);
  else if (scalar_first) map2_scalar_kernel<1, true><<<grid, kThreads, 0, s>>>(v, sc, out, n, f);
  else map2_scalar_kernel<1, false><<<grid, kThreads, 0, s>>>(v, sc, out, n, f);
  return cudaGetLastError();
}

template <class T, class F>
cudaError_t launch_strided2(const T* x, const T* y, T* out, const StridedIndex& idx, int64_t n, F f, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  strided2_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(x, y, out, idx, n, f);
  return cudaGetLastError();
}

template <int V, bool Uniform, class T, class F>
void launch_run_v(const T* big, const T* small, bool small_first, T* out, int64_t n, int64_t inner, int64_t mid, F f,
                  cudaStream_t s) {
  const unsigned grid = grid_for((n + V - 1) / V, kThreads);
  const int64_t step = static_cast<int64_t>(grid) * kThreads * V;
  const RunGeom g{inner, mid, step % inner, (step / inner) % mid};
  if (small_first) run2_kernel<V, Uniform, true><<<grid, kThreads, 0, s>>>(big, small, out, n, g, f);
  else run2_kernel<V, Uniform, false><<<grid, kThreads, 0, s>>>(big, small, out, n, g, f);
}

template <class T, class F>
cudaError_t launch_run(const T* big, const T* small, bool small_first, T* out, int64_t n, int64_t inner, int64_t mid,
                       F f, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  if (inner < 1 || mid < 1) return cudaErrorInvalidValue;
  constexpr int V = kPack<T>;
  if (!(aligned16(big) && aligned16(out))) launch_run_v<1, true>(big, small, small_first, out, n, inner, mid, f, s);
  else if (inner % V == 0) launch_run_v<V, true>(big, small, small_first, out, n, inner, mid, f, s);
  else launch_run_v<V, false>(big, small, small_first, out, n, inner, mid, f, s);
  return cudaGetLastError();
}

}  // namespace

template <class T>
cudaError_t fill(T* out, int64_t n, T value, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  constexpr int V = kPack<T>;
  if (aligned16(out)) fill_kernel<V><<<grid_for((n + V - 1) / V, kThreads), kThreads, 0, s>>>(out, n, value);
  else fill_kernel<1><<<grid_for(n, kThreads), kThreads, 0, s>>>(out, n, value);
  return cudaGetLastError();
}

template <class T>
cudaError_t arange(T* out, int64_t n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  arange_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(out, n);
  return cudaGetLastError();
}

template <class T>
cudaError_t random_normal(T* out, int64_t n, uint64_t seed, uint64_t draw, const uint64_t* draw_on_device, double mean,
                          double std, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  normal_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(out, n, seed, draw, draw_on_device, mean, std);
  return cudaGetLastError();
}

template <class T>
cudaError_t random_uniform(T* out, int64_t n, uint64_t seed, uint64_t draw, const uint64_t* draw_on_device, double lo,
                           double hi, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  uniform_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(out, n, seed, draw, draw_on_device, lo, hi);
  return cudaGetLastError();
}

template <class In, class Out>
cudaError_t cast(const In* in, Out* out, int64_t n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  cast_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(in, out, n);
  return cudaGetLastError();
}

template <class T>
cudaError_t unary(UnaryOp op, const T* x, T* y, int64_t n, double a, double b, cudaStream_t s) {
  using C = compute_t<T>;
  return visit_unary<C>(op, static_cast<C>(a), static_cast<C>(b),
                        [&](auto f) { return launch_map1(x, y, n, stored_as<T>(f), s); }, cudaErrorInvalidValue);
}

template <class T>
cudaError_t binary_same(BinaryOp op, const T* x, const T* y, T* out, int64_t n, double a, cudaStream_t s) {
  using C = compute_t<T>;
  return visit_binary<C>(op, static_cast<C>(a), [&](auto f) { return launch_map2(x, y, out, n, stored_as<T>(f), s); },
                         cudaErrorInvalidValue);
}

template <class T>
cudaError_t binary_scalar(BinaryOp op, const T* v, const T* sc, bool scalar_first, T* out, int64_t n, double a,
                          cudaStream_t s) {
  using C = compute_t<T>;
  return visit_binary<C>(op, static_cast<C>(a),
                         [&](auto f) { return launch_scalar(v, sc, scalar_first, out, n, stored_as<T>(f), s); },
                         cudaErrorInvalidValue);
}

template <class T>
cudaError_t binary_run(BinaryOp op, const T* big, const T* small, bool small_first, T* out, int64_t n, int64_t inner,
                       int64_t mid, double a, cudaStream_t s) {
  using C = compute_t<T>;
  return visit_binary<C>(op, static_cast<C>(a),
                         [&](auto f) { return launch_run(big, small, small_first, out, n, inner, mid, stored_as<T>(f), s); },
                         cudaErrorInvalidValue);
}

template <class T>
cudaError_t binary_strided(BinaryOp op, const T* x, const T* y, T* out, const StridedIndex& idx, int64_t n,
                           double a, cudaStream_t s) {
  using C = compute_t<T>;
  return visit_binary<C>(op, static_cast<C>(a),
                         [&](auto f) { return launch_strided2(x, y, out, idx, n, stored_as<T>(f), s); },
                         cudaErrorInvalidValue);
}

template <class T>
cudaError_t add_inplace(T* out, const T* x, int64_t n, double alpha, cudaStream_t s) {
  using C = compute_t<T>;
  return launch_map2(out, x, out, n, stored_as<T>(AxpyFn<C>{static_cast<C>(alpha)}), s);
}

template <class T>
cudaError_t gather(const T* x, T* out, const StridedIndex& idx, int64_t n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  gather_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(x, out, idx, n);
  return cudaGetLastError();
}

#define GAN_INSTANTIATE(T)                                                                                  \
  template cudaError_t fill<T>(T*, int64_t, T, cudaStream_t);                                               \
  template cudaError_t arange<T>(T*, int64_t, cudaStream_t);                                                \
  template cudaError_t random_normal<T>(T*, int64_t, uint64_t, uint64_t, const uint64_t*, double, double,  \
                                        cudaStream_t);                                                      \
  template cudaError_t random_uniform<T>(T*, int64_t, uint64_t, uint64_t, const uint64_t*, double, double, \
                                         cudaStream_t);                                                     \
  template cudaError_t unary<T>(UnaryOp, const T*, T*, int64_t, double, double, cudaStream_t);            \
  template cudaError_t binary_same<T>(BinaryOp, const T*, const T*, T*, int64_t, double, cudaStream_t);   \
  template cudaError_t binary_scalar<T>(BinaryOp, const T*, const T*, bool, T*, int64_t, double,          \
                                        cudaStream_t);                                                      \
  template cudaError_t binary_run<T>(BinaryOp, const T*, const T*, bool, T*, int64_t, int64_t, int64_t,   \
                                     double, cudaStream_t);                                                 \
  template cudaError_t binary_strided<T>(BinaryOp, const T*, const T*, T*, const StridedIndex&, int64_t,  \
                                         double, cudaStream_t);                                             \
  template cudaError_t add_inplace<T>(T*, const T*, int64_t, double, cudaStream_t);                         \
  template cudaError_t gather<T>(const T*, T*, const StridedIndex&, int64_t, cudaStream_t);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE
// bfloat16: the maps (float math between a widening load and one rounding store), gathers and fills.
template cudaError_t unary<bf16>(UnaryOp, const bf16*, bf16*, int64_t, double, double, cudaStream_t);
template cudaError_t binary_same<bf16>(BinaryOp, const bf16*, const bf16*, bf16*, int64_t, double, cudaStream_t);
template cudaError_t binary_scalar<bf16>(BinaryOp, const bf16*, const bf16*, bool, bf16*, int64_t, double,
                                         cudaStream_t);
template cudaError_t binary_run<bf16>(BinaryOp, const bf16*, const bf16*, bool, bf16*, int64_t, int64_t, int64_t,
                                      double, cudaStream_t);
template cudaError_t binary_strided<bf16>(BinaryOp, const bf16*, const bf16*, bf16*, const StridedIndex&, int64_t,
                                          double, cudaStream_t);
template cudaError_t add_inplace<bf16>(bf16*, const bf16*, int64_t, double, cudaStream_t);
template cudaError_t fill<bf16>(bf16*, int64_t, bf16, cudaStream_t);
template cudaError_t gather<bf16>(const bf16*, bf16*, const StridedIndex&, int64_t, cudaStream_t);
template cudaError_t cast<float, float>(const float*, float*, int64_t, cudaStream_t);
template cudaError_t cast<float, double>(const float*, double*, int64_t, cudaStream_t);
template cudaError_t cast<double, float>(const double*, float*, int64_t, cudaStream_t);
template cudaError_t cast<double, double>(const double*, double*, int64_t, cudaStream_t);
template cudaError_t cast<float, bf16>(const float*, bf16*, int64_t, cudaStream_t);
template cudaError_t cast<double, bf16>(const double*, bf16*, int64_t, cudaStream_t);
template cudaError_t cast<bf16, float>(const bf16*, float*, int64_t, cudaStream_t);
template cudaError_t cast<bf16, double>(const bf16*, double*, int64_t, cudaStream_t);
template cudaError_t cast<bf16, bf16>(const bf16*, bf16*, int64_t, cudaStream_t);

}  // namespace gan::kernels
