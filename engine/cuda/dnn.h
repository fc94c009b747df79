// Host-side helpers shared by the CUDA convolution and normalisation primitives: the device's
// multiprocessor count (kernel planning), stream-ordered scratch memory, and, in cuDNN builds,
// one cuDNN handle per device plus RAII descriptors.
#pragma once
#include <cstddef>

#include "engine/core/dtype.h"

#ifdef GAN_WITH_CUDNN
#include <cudnn.h>
#endif

namespace gan::cuda {

// Streaming multiprocessors of `device` (cached after the first call).
int sm_count(int device);

// Device scratch from the stream-ordered pool, returned to it (after the queued work) on scope exit.
class Scratch {
 public:
  Scratch(size_t nbytes, int device);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* get() const { return ptr_; }
  size_t size() const { return nbytes_; }

 private:
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;
  int device_ = 0;
};

#ifdef GAN_WITH_CUDNN
// The cuDNN handle of `device`, bound to its engine stream. Created on first use, never destroyed
// (tensors freed at exit may still be queued behind it).
cudnnHandle_t cudnn_handle(int device);

cudnnDataType_t cudnn_dtype(DType t);

// Owning wrappers: created in the constructor, destroyed in the destructor.
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc();
  ~TensorDesc();
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  void set_nchw(DType t, int64_t n, int64_t c, int64_t h, int64_t w);
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc();
  ~FilterDesc();
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
  void set_kcrs(DType t, int64_t k, int64_t c, int64_t r, int64_t s);
};

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc();
  ~ConvDesc();
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

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
