// How an op reaches its implementation. Each op family declares its primitives once, in
// engine/backend/<family>.h, for both backends (namespaces gan::cpu and gan::cuda) with the same
// signature; engine/cpu/<family>.cpp and engine/cuda/<family>.cpp implement them. An op in
// engine/ops/ picks one with GAN_BACKEND(device, primitive, args...).
//
// Primitives take already-allocated output tensors, know nothing of autograd, and assume the
// op has checked shapes, dtypes and devices.
#pragma once

#ifdef GAN_WITH_CUDA
#define GAN_BACKEND(device, fn, ...) \
  ((device).is_cuda() ? ::gan::cuda::fn(__VA_ARGS__) : ::gan::cpu::fn(__VA_ARGS__))
#else
#define GAN_BACKEND(device, fn, ...) ::gan::cpu::fn(__VA_ARGS__)
#endif

// Declares the same primitive list in both backend namespaces.
#define GAN_DECLARE_PRIMITIVES(LIST) \
  namespace gan::cpu {               \
  LIST                               \
  }                                  \
  namespace gan::cuda {              \
  LIST                               \
  }
