// Error checks for CUDA runtime, cuBLAS and cuDNN calls: a failed call throws gan::Error carrying
// file:line, the call's text and the library's own description of the failure, so a failure deep in a
// training step says exactly which call broke.
//
//   GAN_CUDA_CHECK(cudaMemcpyAsync(...));
//   my_kernel<<<grid, block, 0, s>>>(...);
//   GAN_CUDA_LAUNCH_CHECK();                 // after every launch: bad configurations surface here
//   GAN_CUDA_CHECK(kernels::launch_x(...));  // launchers in kernels/ return cudaGetLastError()
//
// The macros are variadic so a call with template arguments (f<A, B>(...)) needs no extra parentheses.
// Kernel faults that happen later, while the kernel runs, surface at the next synchronising call
// (a D2H copy, synchronize()), which is checked the same way.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "engine/build_config.h"
#include "engine/core/error.h"
#ifdef GAN_WITH_CUDNN
#include <cudnn.h>
#endif

namespace gan::cuda::detail {

[[noreturn]] inline void throw_library_error(const char* library, const char* expr, const char* what, long code,
                                             const char* file, int line) {
  std::ostringstream os;
  os << library << " error " << code << " (" << what << ") at " << file << ":" << line << " in " << expr;
  throw ::gan::Error(os.str());
}

}  // namespace gan::cuda::detail

// The one shape of every check: evaluate, compare with the library's success value, and throw
// with the library's description. `on_error` runs first (the CUDA check clears a non-sticky error
// there so later calls do not report it again).
#define GAN_DETAIL_LIBRARY_CHECK(status_t, success, library, describe, on_error, expr, text)           \
  do {                                                                                                   \
    status_t gan_status_ = (expr);                                                                       \
    if (gan_status_ != (success)) {                                                                      \
      on_error;                                                                                          \
      ::gan::cuda::detail::throw_library_error(library, text, describe(gan_status_),                     \
                                               static_cast<long>(gan_status_), __FILE__, __LINE__);      \
    }                                                                                                    \
  } while (0)

#define GAN_CUDA_CHECK(...)                                                                                \
  GAN_DETAIL_LIBRARY_CHECK(cudaError_t, cudaSuccess, "CUDA", cudaGetErrorString, cudaGetLastError(), (__VA_ARGS__), \
                           #__VA_ARGS__)

// After a raw <<<...>>> launch: reports an invalid configuration or a missing kernel image.
#define GAN_CUDA_LAUNCH_CHECK() GAN_CUDA_CHECK(cudaGetLastError())

#define GAN_CUBLAS_CHECK(...)                                                                              \
  GAN_DETAIL_LIBRARY_CHECK(cublasStatus_t, CUBLAS_STATUS_SUCCESS, "cuBLAS", cublasGetStatusString, (void)0,       \
                           (__VA_ARGS__), #__VA_ARGS__)

#ifdef GAN_WITH_CUDNN
#define GAN_CUDNN_CHECK(...)                                                                               \
  GAN_DETAIL_LIBRARY_CHECK(cudnnStatus_t, CUDNN_STATUS_SUCCESS, "cuDNN", cudnnGetErrorString, (void)0,            \
                           (__VA_ARGS__), #__VA_ARGS__)
#endif
