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

#define GAN_CUDA_CHECK(...)                                                                            \
  do {                                                                                                  \
    cudaError_t gan_cuda_err_ = (__VA_ARGS__);                                                                 \
    if (gan_cuda_err_ != cudaSuccess) {                                                                 \
      cudaGetLastError(); /* clear a non-sticky error so later calls do not report it again */          \
      ::gan::cuda::detail::throw_library_error("CUDA", #__VA_ARGS__, cudaGetErrorString(gan_cuda_err_),         \
                                               static_cast<long>(gan_cuda_err_), __FILE__, __LINE__);  \
    }                                                                                                   \
  } while (0)

// After a raw <<<...>>> launch: reports an invalid configuration or a missing kernel image.
#define GAN_CUDA_LAUNCH_CHECK() GAN_CUDA_CHECK(cudaGetLastError())

#define GAN_CUBLAS_CHECK(...)                                                                          \
  do {                                                                                                  \
    cublasStatus_t gan_cublas_st_ = (__VA_ARGS__);                                                             \
    if (gan_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                                        \
      ::gan::cuda::detail::throw_library_error("cuBLAS", #__VA_ARGS__, cublasGetStatusString(gan_cublas_st_),   \
                                               static_cast<long>(gan_cublas_st_), __FILE__, __LINE__); \
  } while (0)

#ifdef GAN_WITH_CUDNN
#define GAN_CUDNN_CHECK(...)                                                                           \
  do {                                                                                                  \
    cudnnStatus_t gan_cudnn_st_ = (__VA_ARGS__);                                                               \
    if (gan_cudnn_st_ != CUDNN_STATUS_SUCCESS)                                                          \
      ::gan::cuda::detail::throw_library_error("cuDNN", #__VA_ARGS__, cudnnGetErrorString(gan_cudnn_st_),       \
                                               static_cast<long>(gan_cudnn_st_), __FILE__, __LINE__);  \
  } while (0)
#endif
