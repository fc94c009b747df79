// Each op family declares its primitives once, in engine/backend/<family>.h, for both backends
// (namespaces gan::cpu and gan::cuda) with the same signature; engine/cpu/<family>.cpp and
// engine/cuda/<family>.cpp implement them, and an op in engine/ops/ picks one with GAN_BACKEND
// (engine/backend/dispatch.h).
//
// Primitives take already-allocated output tensors, know nothing of autograd, and assume the
// op has checked shapes, dtypes and devices.
#pragma once

// Declares the same primitive list in both backend namespaces.
#define GAN_DECLARE_PRIMITIVES(LIST) \
  namespace gan::cpu {               \
  LIST                               \
  }                                  \
  namespace gan::cuda {              \
  LIST                               \
  }

// A primitive that reads and writes bfloat16 tensors itself (rather than through the float32
// copies of engine/backend/bf16_widening.h) says so after its declaration:
//   GAN_STORES_BF16(cuda, conv2d_forward)
namespace gan::backend {
template <auto Fn> inline constexpr bool kStoresBf16 = false;
}
#define GAN_STORES_BF16(ns, fn) \
  template <>                   \
  inline constexpr bool gan::backend::kStoresBf16<&::gan::ns::fn> = true;

// A primitive whose every Tensor& argument is an output written in full and never read first
// (not an accumulator, a partial copy or running statistics) says so after its declaration, for
// both backends at once:
//   GAN_OVERWRITES_OUTPUTS(unary)
// Called on float32 copies of bfloat16 arguments, such an output is then not widened before the
// call, only rounded back after it: one cast pass fewer per output.
namespace gan::backend {
template <auto Fn> inline constexpr bool kOverwritesOutputs = false;
}
#define GAN_OVERWRITES_OUTPUTS(fn)                                               \
  template <>                                                                    \
  inline constexpr bool gan::backend::kOverwritesOutputs<&::gan::cpu::fn> = true; \
  template <>                                                                    \
  inline constexpr bool gan::backend::kOverwritesOutputs<&::gan::cuda::fn> = true;
