// CUDA reductions and data movement. Sums are deterministic (see kernels/reduction.cuh); broadcast
// copies and permutations are one gather kernel over merged dims; slices are one 2-D memcpy.
#include "engine/backend/reduction.h"

#include "engine/cuda/launch_utils.h"
#include "engine/cuda/sum_plan.h"
#include "kernels/elementwise.cuh"
#include "kernels/reduction.cuh"

namespace gan::cuda {

namespace {

// Splits x's dims into kept and reduced index spaces (x's strides), merging neighbours of one kind.
void split_dims(const Shape& xs, const Shape& os, kernels::StridedIndex& kept, kernels::StridedIndex& reduced) {
  auto st = contiguous_strides(xs);
  Shape ke, re;
  std::vector<int64_t> ks, rs;
  for (size_t d = 0; d < xs.size(); ++d) {
    const bool red = os[d] == 1 && xs[d] != 1;
    (red ? re : ke).push_back(xs[d]);
    (red ? rs : ks).push_back(st[d]);
  }
  kept = make_strided_index(ke, ks, {}, "sum_to");
  reduced = make_strided_index(re, rs, {}, "sum_to");
}

template <class T>
void run_reduce(const T* x, T* out, const kernels::ReducePlan& plan, kernels::ReduceKind kind, double eps,
                const OnDevice& on) {
  Workspace ws(kernels::reduce_workspace_bytes(plan), on.device);
  GAN_CUDA_CHECK(kernels::reduce<T>(x, out, plan, kind, eps, ws.get(), on.stream));
}

}  // namespace

kernels::ReducePlan sum_to_plan(const Shape& xs, const Shape& os) {
  kernels::StridedIndex kept, reduced;
  split_dims(xs, os, kept, reduced);
  return kernels::make_reduce_plan(kept, reduced);
}

void sum_to(const Tensor& x, Tensor& out) {
  OnDevice on(out);
  if (out.numel() == x.numel()) {  // nothing summed: reduced dims all have extent 1
    GAN_CUDA_CHECK(cudaMemcpyAsync(out.raw_data(), x.raw_data(), x.nbytes(), cudaMemcpyDeviceToDevice, on.stream));
    return;
  }
  const auto plan = sum_to_plan(x.shape(), out.shape());
  GAN_DISPATCH_FLOAT_BF16(x.dtype(), "sum", [&] {
    run_reduce<scalar_t>(x.data<scalar_t>(), out.data<scalar_t>(), plan, kernels::ReduceKind::Sum, 0.0, on);
  });
}

void broadcast_copy(const Tensor& x, Tensor& out) {
  OnDevice on(out);
  if (x.shape() == out.shape()) {
    GAN_CUDA_CHECK(cudaMemcpyAsync(out.raw_data(), x.raw_data(), x.nbytes(), cudaMemcpyDeviceToDevice, on.stream));
    return;
  }
  auto idx = make_strided_index(out.shape(), broadcast_strides(x.shape(), out.shape()), {}, "broadcast_to");
  GAN_DISPATCH_FLOAT_BF16(x.dtype(), "broadcast_to", [&] {
    GAN_CUDA_CHECK(kernels::gather<scalar_t>(x.data<scalar_t>(), out.data<scalar_t>(), idx, out.numel(), on.stream));
  });
}

void permute(const Tensor& x, Tensor& out, const std::vector<int64_t>& perm) {
  OnDevice on(out);
  auto xst = contiguous_strides(x.shape());
  std::vector<int64_t> st(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) st[i] = xst[perm[i]];
  auto idx = make_strided_index(out.shape(), st, {}, "permute");
  GAN_DISPATCH_FLOAT_BF16(x.dtype(), "permute", [&] {
    GAN_CUDA_CHECK(kernels::gather<scalar_t>(x.data<scalar_t>(), out.data<scalar_t>(), idx, out.numel(), on.stream));
  });
}

void slice_copy(const Tensor& src, Tensor& dst, int64_t dim, int64_t src_start, int64_t dst_start, int64_t length) {
  OnDevice on(dst);
  const size_t es = dtype_size(src.dtype());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= src.shape()[d];
  for (int64_t d = dim + 1; d < src.dim(); ++d) inner *= src.shape()[d];
  if (outer == 0 || length * inner == 0) return;
  const size_t src_pitch = static_cast<size_t>(src.shape()[dim] * inner) * es;
  const size_t dst_pitch = static_cast<size_t>(dst.shape()[dim] * inner) * es;
  const size_t width = static_cast<size_t>(length * inner) * es;
  const char* ps = static_cast<const char*>(src.raw_data()) + static_cast<size_t>(src_start * inner) * es;
  char* pd = static_cast<char*>(dst.raw_data()) + static_cast<size_t>(dst_start * inner) * es;
  // One strided copy: `outer` rows of `width` bytes.
  GAN_CUDA_CHECK(cudaMemcpy2DAsync(pd, dst_pitch, ps, src_pitch, width, static_cast<size_t>(outer),
                                   cudaMemcpyDeviceToDevice, on.stream));
}

void per_sample_norm(const Tensor& x, Tensor& out, double eps) {
  OnDevice on(out);
  const int64_t n = x.shape()[0], m = n ? x.numel() / n : 0;
  const auto plan = kernels::make_rows_reduce_plan(n, m);
  GAN_DISPATCH_FLOAT_BF16(x.dtype(), "per_sample_norm", [&] {
    run_reduce<scalar_t>(x.data<scalar_t>(), out.data<scalar_t>(), plan, kernels::ReduceKind::SumSquareSqrt, eps, on);
  });
}

}  // namespace gan::cuda
