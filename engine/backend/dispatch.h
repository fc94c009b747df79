// How an op reaches its implementation: GAN_BACKEND(device, primitive, args...) calls the
// primitive of the tensor's backend, gan::cpu::primitive or gan::cuda::primitive, both declared
// once in engine/backend/<family>.h (engine/backend/declare.h). Only the sources that dispatch
// include this header, so that turning the CUDA backend on or off recompiles them alone.
#pragma once

#include "engine/backend/bf16_widening.h"
#include "engine/build_config.h"

// Through call_primitive: bfloat16 tensors reach a float32 primitive as float32 copies
// (engine/backend/bf16_widening.h); without one among the arguments, the call is direct.
#define GAN_PRIMITIVE_CALL(ns, fn, ...)                                                                 \
  ::gan::backend::call_primitive<&::gan::ns::fn>(                                                       \
      #fn, [](auto&&... gan_a) -> decltype(auto) { return ::gan::ns::fn(std::forward<decltype(gan_a)>(gan_a)...); }, \
      __VA_ARGS__)
#ifdef GAN_WITH_CUDA
#define GAN_BACKEND(device, fn, ...) \
  ((device).is_cuda() ? GAN_PRIMITIVE_CALL(cuda, fn, __VA_ARGS__) : GAN_PRIMITIVE_CALL(cpu, fn, __VA_ARGS__))
#else
#define GAN_BACKEND(device, fn, ...) GAN_PRIMITIVE_CALL(cpu, fn, __VA_ARGS__)
#endif
