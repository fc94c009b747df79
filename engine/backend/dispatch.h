// How an op reaches its implementation: GAN_BACKEND(device, primitive, args...) calls the
// primitive of the tensor's backend, gan::cpu::primitive or gan::cuda::primitive, both declared
// once in engine/backend/<family>.h (engine/backend/declare.h). Only the sources that dispatch
// include this header, so that turning the CUDA backend on or off recompiles them alone.
#pragma once

#include "engine/build_config.h"

#ifdef GAN_WITH_CUDA
#define GAN_BACKEND(device, fn, ...) \
  ((device).is_cuda() ? ::gan::cuda::fn(__VA_ARGS__) : ::gan::cpu::fn(__VA_ARGS__))
#else
#define GAN_BACKEND(device, fn, ...) ::gan::cpu::fn(__VA_ARGS__)
#endif
