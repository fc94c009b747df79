// bfloat16 tensors on primitives that compute in float32.
//
// --precision bf16 stores activations and weight copies in bfloat16, and every op computes in
// float32 and rounds its result once (docs/PERFORMANCE.md, "bfloat16"). A primitive that has no
// bfloat16 kernel of its own gets exactly that from here: GAN_BACKEND calls it through
// call_primitive, which, when any tensor argument is bfloat16, hands the primitive float32 copies
// (every const Tensor& widened; every Tensor& widened, then rounded back into the caller's tensor
// after the call) and leaves every other argument as it is. The rounding is the one a bfloat16
// kernel makes at its store, so results do not depend on which primitives have their own. A
// primitive marked GAN_OVERWRITES_OUTPUTS gets fresh float32 outputs instead of widened ones (it
// writes them in full before reading them), which saves one cast pass per output.
//
// A primitive that reads and writes bfloat16 itself (casts; the cuDNN and cuBLAS products on the
// GPU) says so with GAN_STORES_BF16 (engine/backend/declare.h) and is called directly; where it
// cannot (no cuDNN in the build), it hands itself float32 copies with call_widened. Tensor lists (the optimizers' parameters
// and states) are never widened: they hold float32 master weights, and a bfloat16 entry is refused.
#pragma once
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/backend/elementwise.h"
#include "engine/build_config.h"
#include "engine/core/tensor.h"

namespace gan::backend {

// Primitive calls on this thread so far: on a GPU, about one kernel launch each, which is what a
// launch-bound step pays for (benchmarks report it per step). Reset it by assigning 0.
inline int64_t& primitive_calls() {
  thread_local int64_t n = 0;
  return n;
}

// What the float32 copies cost on this thread so far: tensors widened into copies, copies rounded
// back, and the bytes those casts read and wrote. A diagnostic (benchmarks report it per step);
// reset it by assigning {}.
struct WideningCounts {
  int64_t widened = 0, rounded = 0, bytes = 0;
};
inline WideningCounts& widening_counts() {
  thread_local WideningCounts c;
  return c;
}

namespace bf16_detail {

inline bool is_bf16(const Tensor& t) { return t.defined() && t.dtype() == DType::BFloat16; }
template <class T> bool any_bf16(const char*, const T&) { return false; }
inline bool any_bf16(const char*, const Tensor& t) { return is_bf16(t); }
inline bool any_bf16(const char* op, const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts)
    GAN_CHECK(!is_bf16(t), op << ": " << t.str() << " in a tensor list; lists hold float32 master weights and "
                                  "optimizer states, never bfloat16");
  return false;
}

inline void cast_on_device(const Tensor& src, Tensor& dst) {
#ifdef GAN_WITH_CUDA
  if (src.is_cuda()) return ::gan::cuda::cast_copy(src, dst);
#endif
  ::gan::cpu::cast_copy(src, dst);
}

inline Tensor widened(const Tensor& t) {
  Tensor w = Tensor::empty(t.shape(), DType::Float32, t.device());
  cast_on_device(t, w);
  WideningCounts& c = widening_counts();
  ++c.widened;
  c.bytes += static_cast<int64_t>(t.nbytes() + w.nbytes());
  return w;
}

inline void round_back(const Tensor& wide, Tensor& orig) {
  cast_on_device(wide, orig);
  WideningCounts& c = widening_counts();
  ++c.rounded;
  c.bytes += static_cast<int64_t>(wide.nbytes() + orig.nbytes());
}

// What the primitive receives for one argument, by the primitive's own parameter type P.
// ReadsOutputs: whether a Tensor& argument may be read (so its copy starts as its widened value).
template <class P, class A, bool ReadsOutputs> class Held {  // not a tensor: passed on as it came
 public:
  explicit Held(A&& a) : a_(&a) {}
  A&& get() { return static_cast<A&&>(*a_); }
  void write_back() {}

 private:
  std::remove_reference_t<A>* a_;
};
template <class A, bool ReadsOutputs> class Held<const Tensor&, A, ReadsOutputs> {
 public:
  explicit Held(const Tensor& t) : orig_(t), wide_(is_bf16(t) ? widened(t) : Tensor()) {}
  const Tensor& get() { return wide_.defined() ? wide_ : orig_; }
  void write_back() {}

 private:
  const Tensor& orig_;
  Tensor wide_;
};
template <class A, bool ReadsOutputs> class Held<Tensor&, A, ReadsOutputs> {  // an output, or in and out
 public:
  explicit Held(Tensor& t)
      : orig_(t),
        wide_(!is_bf16(t)      ? Tensor()
              : ReadsOutputs ? widened(t)
                             : Tensor::empty(t.shape(), DType::Float32, t.device())) {}
  Tensor& get() { return wide_.defined() ? wide_ : orig_; }
  void write_back() {
    if (wide_.defined()) round_back(wide_, orig_);
  }

 private:
  Tensor& orig_;
  Tensor wide_;
};

template <class F> struct Signature;
template <class R, class... P> struct Signature<R (*)(P...)> {
  using Params = std::tuple<P...>;
};

template <auto Fn, class Call, class... A, size_t... I>
decltype(auto) call_in_float32(std::index_sequence<I...>, Call&& call, A&&... a) {
  using Params = typename Signature<decltype(Fn)>::Params;
  constexpr bool reads_outputs = !kOverwritesOutputs<Fn>;
  std::tuple<Held<std::tuple_element_t<I, Params>, A, reads_outputs>...> held(std::forward<A>(a)...);
  using R = decltype(call(std::get<I>(held).get()...));
  if constexpr (std::is_void_v<R>) {
    call(std::get<I>(held).get()...);
    (std::get<I>(held).write_back(), ...);
  } else {
    R r = call(std::get<I>(held).get()...);
    (std::get<I>(held).write_back(), ...);
    return r;
  }
}

}  // namespace bf16_detail

// Fn names the primitive (its parameter types say which tensors are outputs); `call` calls it by
// name, so that its default arguments still apply.
template <auto Fn, class Call, class... A>
decltype(auto) call_primitive(const char* name, Call&& call, A&&... a) {
  ++primitive_calls();
  if constexpr (kStoresBf16<Fn>) {
    return call(std::forward<A>(a)...);
  } else {
    if (!(bf16_detail::any_bf16(name, a) || ...)) return call(std::forward<A>(a)...);
    return bf16_detail::call_in_float32<Fn>(std::index_sequence_for<A...>{}, call, std::forward<A>(a)...);
  }
}

// Fn on float32 copies of its bfloat16 arguments, unconditionally: for a primitive that stores
// bfloat16 where it can and not elsewhere. Fn(args...) is then called with float32 tensors.
template <auto Fn, class... A>
void call_widened(A&&... a) {
  bf16_detail::call_in_float32<Fn>(std::index_sequence_for<A...>{}, [](auto&&... x) { Fn(std::forward<decltype(x)>(x)...); },
                                   std::forward<A>(a)...);
}

}  // namespace gan::backend
