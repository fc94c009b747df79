// CUDA embedding gather, scatter-add and one-hot (kernels/embedding.cu). No host sync: ids are
// never read on the host, so a bad id shows up as NaN in the output (engine/backend/embedding.h).
#include "engine/backend/embedding.h"

#include "engine/cuda/launch_utils.h"
#include "kernels/embedding.cuh"

namespace gan::cuda {

namespace {

template <class F>
void dispatch2(DType data, DType ids, const char* op, F&& f) {
  GAN_DISPATCH_FLOAT(data, op, [&] {
    using T = scalar_t;
    GAN_DISPATCH_FLOAT(ids, op, [&] { f(T{}, scalar_t{}); });
  });
}

}  // namespace

void embedding_gather(const Tensor& weight, const Tensor& indices, Tensor& out) {
  OnDevice on(out);
  dispatch2(weight.dtype(), indices.dtype(), "embedding", [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    GAN_CUDA_CHECK(kernels::embedding_gather<T, I>(weight.data<T>(), indices.data<I>(), indices.numel(),
                                                   weight.shape()[0], weight.shape()[1], out.data<T>(), on.stream));
  });
}

void embedding_scatter_add(const Tensor& grad, const Tensor& indices, Tensor& out) {
  OnDevice on(out);
  dispatch2(grad.dtype(), indices.dtype(), "embedding_backward", [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    GAN_CUDA_CHECK(kernels::embedding_scatter_add<T, I>(grad.data<T>(), indices.data<I>(), indices.numel(),
                                                        out.shape()[0], out.shape()[1], out.data<T>(), on.stream));
  });
}

void one_hot(const Tensor& indices, Tensor& out) {
  OnDevice on(out);
  dispatch2(out.dtype(), indices.dtype(), "one_hot", [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    GAN_CUDA_CHECK(kernels::one_hot<T, I>(indices.data<I>(), indices.numel(), out.shape()[1], out.data<T>(),
                                          on.stream));
  });
}

}  // namespace gan::cuda
