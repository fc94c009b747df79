// CUDA element-wise primitives: pick the kernel shape (same-shape, scalar operand, one operand broadcast
// along a single block of dims, general broadcast) on the host, launch on the engine stream, check the
// launch.
#include "engine/backend/elementwise.h"

#include <type_traits>

#include "engine/cuda/launch_utils.h"
#include "kernels/elementwise.cuh"

namespace gan::cuda {

void fill(Tensor& out, double value) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT_BF16(out.dtype(), "fill", [&] {
    // bfloat16 through float, as a float32 fill rounded into bfloat16 gives it.
    const scalar_t v =
        std::is_same_v<scalar_t, bf16> ? scalar_t(static_cast<float>(value)) : static_cast<scalar_t>(value);
    GAN_CUDA_CHECK(kernels::fill<scalar_t>(out.data<scalar_t>(), out.numel(), v, on.stream));
  });
}

void arange(Tensor& out) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(out.dtype(), "arange", [&] {
    GAN_CUDA_CHECK(kernels::arange<scalar_t>(out.data<scalar_t>(), out.numel(), on.stream));
  });
}

void random_normal(Tensor& out, uint64_t seed, uint64_t draw, double mean, double std, const uint64_t* draw_on_device) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(out.dtype(), "randn", [&] {
    GAN_CUDA_CHECK(kernels::random_normal<scalar_t>(out.data<scalar_t>(), out.numel(), seed, draw, draw_on_device, mean, std, on.stream));
  });
}

void random_uniform(Tensor& out, uint64_t seed, uint64_t draw, double lo, double hi, const uint64_t* draw_on_device) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT(out.dtype(), "rand", [&] {
    GAN_CUDA_CHECK(kernels::random_uniform<scalar_t>(out.data<scalar_t>(), out.numel(), seed, draw, draw_on_device, lo, hi, on.stream));
  });
}

void cast_copy(const Tensor& src, Tensor& dst) {
  OnDevice on(dst);
  GAN_DISPATCH_FLOAT_BF16(src.dtype(), "cast", [&] {
    using in_t = scalar_t;
    GAN_DISPATCH_FLOAT_BF16(dst.dtype(), "cast", [&] {
      GAN_CUDA_CHECK(kernels::cast<in_t, scalar_t>(src.data<in_t>(), dst.data<scalar_t>(), src.numel(), on.stream));
    });
  });
}

void unary(UnaryOp op, const Tensor& x, Tensor& out, double a, double b) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT_BF16(x.dtype(), "unary", [&] {
    GAN_CUDA_CHECK(kernels::unary<scalar_t>(op, x.data<scalar_t>(), out.data<scalar_t>(), x.numel(), a, b, on.stream));
  });
}

void binary(BinaryOp op, const Tensor& x, const Tensor& y, Tensor& out, double a) {
  OnDevice on(out);
  const Shape& os = out.shape();
  const int64_t n = out.numel();
  GAN_DISPATCH_FLOAT_BF16(out.dtype(), "binary", [&] {
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* py = y.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    if (x.shape() == os && y.shape() == os) {
      GAN_CUDA_CHECK(kernels::binary_same<scalar_t>(op, px, py, po, n, a, on.stream));
    } else if (x.shape() == os && y.numel() == 1) {
      GAN_CUDA_CHECK(kernels::binary_scalar<scalar_t>(op, px, py, /*scalar_first=*/false, po, n, a, on.stream));
    } else if (y.shape() == os && x.numel() == 1) {
      GAN_CUDA_CHECK(kernels::binary_scalar<scalar_t>(op, py, px, /*scalar_first=*/true, po, n, a, on.stream));
    } else if (int64_t inner = 0, mid = 0; x.shape() == os && broadcast_run(y.shape(), os, inner, mid)) {
      GAN_CUDA_CHECK(kernels::binary_run<scalar_t>(op, px, py, /*small_first=*/false, po, n, inner, mid, a, on.stream));
    } else if (y.shape() == os && broadcast_run(x.shape(), os, inner, mid)) {
      GAN_CUDA_CHECK(kernels::binary_run<scalar_t>(op, py, px, /*small_first=*/true, po, n, inner, mid, a, on.stream));
    } else {
      auto idx = make_strided_index(os, broadcast_strides(x.shape(), os), broadcast_strides(y.shape(), os), "binary");
      GAN_CUDA_CHECK(kernels::binary_strided<scalar_t>(op, px, py, po, idx, n, a, on.stream));
    }
  });
}

void add_inplace(Tensor& out, const Tensor& x, double alpha) {
  OnDevice on(out);
  GAN_DISPATCH_FLOAT_BF16(out.dtype(), "add_inplace", [&] {
    GAN_CUDA_CHECK(kernels::add_inplace<scalar_t>(out.data<scalar_t>(), x.data<scalar_t>(), out.numel(), alpha, on.stream));
  });
}

}  // namespace gan::cuda
