#include "engine/cuda/dnn.h"

#include <mutex>
#include <vector>

#include <cuda_runtime_api.h>

#include "engine/cuda/check.h"
#include "engine/cuda/memory.h"

namespace gan::cuda {

#ifdef GAN_WITH_CUDNN

// cuDNN 9 marks the legacy (non-graph) API deprecated; it is the API this backend uses on purpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

cudnnHandle_t cudnn_handle(int device) {
  static std::mutex mu;
  static std::vector<cudnnHandle_t> handles;
  cudnnHandle_t h = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (static_cast<size_t>(device) >= handles.size()) handles.resize(device + 1, nullptr);
    if (!handles[device]) {
      DeviceGuard guard(device);
      GAN_CUDNN_CHECK(cudnnCreate(&handles[device]));
    }
    h = handles[device];
  }
  GAN_CUDNN_CHECK(cudnnSetStream(h, stream(device)));
  return h;
}

cudnnDataType_t cudnn_dtype(DType t) {
  switch (t) {
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    case DType::Float32: break;
  }
  return CUDNN_DATA_FLOAT;
}

cudnnDataType_t cudnn_compute_dtype(DType t) { return t == DType::Float64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT; }

void TensorDesc::set_nchw(DType t, int64_t n, int64_t c, int64_t h, int64_t w) {
  GAN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, cudnn_dtype(t), static_cast<int>(n),
                                             static_cast<int>(c), static_cast<int>(h), static_cast<int>(w)));
}

void FilterDesc::set_kcrs(DType t, int64_t k, int64_t c, int64_t r, int64_t s) {
  GAN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, cudnn_dtype(t), CUDNN_TENSOR_NCHW, static_cast<int>(k),
                                             static_cast<int>(c), static_cast<int>(r), static_cast<int>(s)));
}

#pragma GCC diagnostic pop

#endif  // GAN_WITH_CUDNN

}  // namespace gan::cuda
