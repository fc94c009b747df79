// CUDA pooling and bilinear resize (kernels/pool.cu): shapes become a PoolGeom, nothing is read
// back to the host.
#include "engine/backend/pool.h"

#include "engine/cuda/launch_utils.h"
#include "kernels/pool.cuh"

namespace gan::cuda {

namespace {

hd::PoolGeom geom(const Tensor& in, const Tensor& out, const Pool2dParams& p) {
  return {in.size(0) * in.size(1), in.size(2), in.size(3), out.size(2), out.size(3), p.kernel_h, p.kernel_w,
          p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.count_include_pad};
}

}  // namespace

void max_pool2d_gather(const Tensor& key, const Tensor& src, const Pool2dParams& p, Tensor& out) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(key.dtype(), "max_pool2d", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::max_pool2d_gather<T>(key.data<T>(), src.data<T>(), geom(key, out, p), out.data<T>(),
                                                 on.stream));
  });
}

void max_pool2d_scatter(const Tensor& key, const Tensor& grad, const Pool2dParams& p, Tensor& out) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(key.dtype(), "max_pool2d_backward", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::max_pool2d_scatter<T>(key.data<T>(), grad.data<T>(), geom(key, grad, p), out.data<T>(),
                                                  on.stream));
  });
}

void avg_pool2d(const Tensor& x, const Pool2dParams& p, Tensor& out) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(x.dtype(), "avg_pool2d", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::avg_pool2d<T>(x.data<T>(), geom(x, out, p), out.data<T>(), on.stream));
  });
}

void avg_pool2d_backward(const Tensor& grad, const Pool2dParams& p, Tensor& out) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(grad.dtype(), "avg_pool2d_backward", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::avg_pool2d_backward<T>(grad.data<T>(), geom(out, grad, p), out.data<T>(), on.stream));
  });
}

void resize_bilinear(const Tensor& x, Tensor& out) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(x.dtype(), "resize_bilinear", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::resize_bilinear<T>(x.data<T>(), x.size(0) * x.size(1), x.size(2), x.size(3), out.size(2),
                                               out.size(3), out.data<T>(), on.stream));
  });
}

void resize_bilinear_backward(const Tensor& grad, Tensor& out) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(grad.dtype(), "resize_bilinear_backward", [&] {
    using T = scalar_t;
    GAN_CUDA_CHECK(kernels::resize_bilinear_backward<T>(grad.data<T>(), out.size(0) * out.size(1), out.size(2),
                                                        out.size(3), grad.size(2), grad.size(3), out.data<T>(),
                                                        on.stream));
  });
}

}  // namespace gan::cuda
