// cuDNN plumbing shared by the CUDA convolution and normalisation primitives (cuDNN builds only):
// one cuDNN handle per device, bound to the engine stream, and RAII descriptors.
#pragma once

#include <cstdint>

#include "engine/build_config.h"
#include "engine/core/dtype.h"

#ifdef GAN_WITH_CUDNN
#include <cudnn.h>

#include "engine/cuda/check.h"
#endif

namespace gan::cuda {

#ifdef GAN_WITH_CUDNN
// The cuDNN handle of `device`, bound to its engine stream. Created on first use, never destroyed
// (tensors freed at exit may still be queued behind it).
cudnnHandle_t cudnn_handle(int device);

cudnnDataType_t cudnn_dtype(DType t);
// What a computation on `t` data accumulates in: float32 for bfloat16 and float32.
cudnnDataType_t cudnn_compute_dtype(DType t);

// cuDNN 9 marks the legacy (non-graph) API deprecated; it is the API this backend uses on purpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

// An owning cuDNN descriptor: created in the constructor, destroyed in the destructor.
template <class Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
struct Descriptor {
  Handle d = nullptr;
  Descriptor() { GAN_CUDNN_CHECK(Create(&d)); }
  ~Descriptor() { Destroy(d); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
};

struct TensorDesc
    : Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor> {
  void set_nchw(DType t, int64_t n, int64_t c, int64_t h, int64_t w);
};

struct FilterDesc
    : Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor> {
  void set_kcrs(DType t, int64_t k, int64_t c, int64_t r, int64_t s);
};

using ConvDesc =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

#pragma GCC diagnostic pop

// The alpha = 1 / beta = 0 scaling arguments cuDNN expects in the compute type of `t`.
struct BlendFactors {
  float f1 = 1.0f, f0 = 0.0f;
  double d1 = 1.0, d0 = 0.0;
  DType t;
  explicit BlendFactors(DType dtype) : t(dtype) {}
  const void* one() const { return t == DType::Float64 ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return t == DType::Float64 ? static_cast<const void*>(&d0) : &f0; }
};
#endif

}  // namespace gan::cuda
