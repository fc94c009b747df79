// Reduction kernels. Three shapes of work:
//   WarpRows   short reductions (R <= 512): one warp per output, lanes stride over r.
//   BlockRows  the innermost x dim is reduced: one 256-thread block per (output, piece); consecutive
//              threads read consecutive r, so loads are coalesced.
//   Columns    the innermost x dim is kept (column sums, [N, C] -> [1, C]): a 32 x 8 block covers 32
//              neighbouring outputs (coalesced across lanes) and 8 rows of r at a time.
// Pieces (splits) are sized so the whole GPU has work even when there are few outputs (a full sum,
// per-channel sums over a large batch); their partial sums are added by finish_kernel in fixed order.
// float, double and bfloat16 (read as such, summed in double like the others).
#include <algorithm>
#include <type_traits>

#include "kernels/bfloat16.h"
#include "kernels/device_utils.cuh"
#include "kernels/reduction.cuh"

namespace gan::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int kColX = 32, kColY = 8;
constexpr int64_t kWarpRowsMax = 512;     // longest reduction a single warp takes on
constexpr int64_t kMinRowPiece = 4096;    // fewest elements a block-row piece is worth
constexpr int64_t kMinColPiece = 16 * kColY;
constexpr int64_t kMaxSplits = 1024;

template <ReduceKind Kind>
__device__ __forceinline__ double pre(double d) {
  return Kind == ReduceKind::Sum ? d : d * d;
}

// What a reduction loads at x's offset i, as a double: the value itself, or (MaskedGrad) the
// gradient carried back through a ReLU / LeakyReLU, stored to dx as it is loaded. Every offset is
// loaded exactly once, so the masked sum is sum_to's of the stored dx, bit for bit.
template <class T>
struct PlainLoad {
  const T* x;
  __device__ __forceinline__ double operator()(int64_t i) const { return static_cast<double>(x[i]); }
};
template <class T>
struct MaskedGrad {
  const T* g;
  const T* y;
  T* dx;
  NormActKind kind;
  typename NormActCompute<T>::type slope;
  __device__ __forceinline__ double operator()(int64_t i) const {
    const T v = norm_act_backward_stored(kind, slope, g[i], y[i]);
    dx[i] = v;
    return static_cast<double>(v);
  }
};

// The double sum stored as T. bfloat16 goes through float, as the float32 kernel's result rounded
// into bfloat16 (the copies engine/backend/bf16_widening.h would otherwise make) gives it.
template <class T>
__device__ __forceinline__ T store_as(double v) {
  if constexpr (std::is_same_v<T, bf16>) return bf16(static_cast<float>(v));
  else return static_cast<T>(v);
}

template <ReduceKind Kind, class T>
__device__ __forceinline__ T finish(double s, double eps) {
  return store_as<T>(Kind == ReduceKind::Sum ? s : sqrt(s + eps));
}

template <ReduceKind Kind, class T, class Load>
__global__ void warp_rows_kernel(Load x, T* out, StridedIndex kept, StridedIndex red, int64_t K, int64_t R,
                                 double eps) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = grid_threads() / 32;
  for (int64_t k = global_thread() / 32; k < K; k += warps) {
    const int64_t base = strided_offset0(kept, k);
    double acc = 0;
    for (int64_t r = lane; r < R; r += 32) acc += pre<Kind>(x(base + strided_offset0(red, r)));
    acc = warp_sum(acc);
    if (lane == 0) out[k] = finish<Kind, T>(acc, eps);
  }
}

template <ReduceKind Kind, class T, class Load>
__global__ void block_rows_kernel(Load x, T* out, double* partial, StridedIndex kept, StridedIndex red,
                                  int64_t K, int64_t R, int64_t splits, int64_t chunk, double eps) {
  __shared__ double scratch[32];
  const int64_t units = K * splits;
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const int64_t k = u / splits, piece = u - k * splits;
    const int64_t base = strided_offset0(kept, k);
    const int64_t r1 = min(R, (piece + 1) * chunk);
    double acc = 0;
    for (int64_t r = piece * chunk + threadIdx.x; r < r1; r += blockDim.x)
      acc += pre<Kind>(x(base + strided_offset0(red, r)));
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) {
      if (splits == 1) out[k] = finish<Kind, T>(acc, eps);
      else partial[u] = acc;
    }
  }
}

template <ReduceKind Kind, class T, class Load>
__global__ void columns_kernel(Load x, T* out, double* partial, StridedIndex kept, StridedIndex red, int64_t K,
                               int64_t R, int64_t splits, int64_t chunk, double eps) {
  __shared__ double sh[kColY][kColX + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t tiles = (K + kColX - 1) / kColX, units = tiles * splits;
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const int64_t tile = u / splits, piece = u - tile * splits;
    const int64_t k = tile * kColX + tx;
    double acc = 0;
    if (k < K) {
      const int64_t base = strided_offset0(kept, k);
      const int64_t r1 = min(R, (piece + 1) * chunk);
      for (int64_t r = piece * chunk + ty; r < r1; r += kColY) acc += pre<Kind>(x(base + strided_offset0(red, r)));
    }
    sh[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && k < K) {
      double s = 0;
#pragma unroll
      for (int j = 0; j < kColY; ++j) s += sh[j][tx];
      if (splits == 1) out[k] = finish<Kind, T>(s, eps);
      else partial[k * splits + piece] = s;
    }
    __syncthreads();
  }
}

// out[k] = finish(sum of partial[k * splits + 0 .. splits - 1]); one warp per output.
template <ReduceKind Kind, class T>
__global__ void finish_kernel(const double* partial, T* out, int64_t K, int64_t splits, double eps) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = grid_threads() / 32;
  for (int64_t k = global_thread() / 32; k < K; k += warps) {
    double acc = 0;
    for (int64_t s = lane; s < splits; s += 32) acc += partial[k * splits + s];
    acc = warp_sum(acc);
    if (lane == 0) out[k] = finish<Kind, T>(acc, eps);
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <ReduceKind Kind, class T, class Load>
cudaError_t run(Load x, T* out, const ReducePlan& p, double eps, double* ws, cudaStream_t s) {
  using Mode = ReducePlan::Mode;
  if (p.mode == Mode::WarpRows) {
    warp_rows_kernel<Kind, T><<<grid_for(p.K * 32, kThreads), kThreads, 0, s>>>(x, out, p.kept, p.reduced, p.K, p.R,
                                                                               eps);
    return cudaGetLastError();
  }
  const int64_t max_blocks = static_cast<int64_t>(sm_count()) * (2048 / kThreads);
  if (p.mode == Mode::BlockRows) {
    const int64_t units = p.K * p.splits;
    block_rows_kernel<Kind, T><<<static_cast<unsigned>(std::min(units, max_blocks)), kThreads, 0, s>>>(
        x, out, ws, p.kept, p.reduced, p.K, p.R, p.splits, p.chunk, eps);
  } else {
    const int64_t units = ceil_div(p.K, kColX) * p.splits;
    columns_kernel<Kind, T><<<static_cast<unsigned>(std::min(units, max_blocks)), dim3(kColX, kColY), 0, s>>>(
        x, out, ws, p.kept, p.reduced, p.K, p.R, p.splits, p.chunk, eps);
  }
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || p.splits == 1) return e;
  finish_kernel<Kind><<<grid_for(p.K * 32, kThreads), kThreads, 0, s>>>(ws, out, p.K, p.splits, eps);
  return cudaGetLastError();
}

}  // namespace

ReducePlan make_reduce_plan(const StridedIndex& kept, const StridedIndex& reduced) {
  ReducePlan p;
  p.kept = kept;
  p.reduced = reduced;
  p.K = 1;
  p.R = 1;
  for (int d = 0; d < kept.ndim; ++d) p.K *= kept.extent[d];
  for (int d = 0; d < reduced.ndim; ++d) p.R *= reduced.extent[d];
  const bool inner_kept = kept.ndim > 0 && kept.stride0[kept.ndim - 1] == 1 &&
                          (reduced.ndim == 0 || reduced.stride0[reduced.ndim - 1] != 1);
  const int64_t target = static_cast<int64_t>(sm_count()) * (2048 / kThreads);
  if (inner_kept && p.R > 1 && p.K > 1) {
    p.mode = ReducePlan::Mode::Columns;
    const int64_t tiles = ceil_div(p.K, kColX);
    p.splits = tiles >= target ? 1 : std::min({ceil_div(target, tiles), ceil_div(p.R, kMinColPiece), kMaxSplits});
  } else if (p.R <= kWarpRowsMax) {
    p.mode = ReducePlan::Mode::WarpRows;
    p.splits = 1;
  } else {
    p.mode = ReducePlan::Mode::BlockRows;
    p.splits = p.K >= target ? 1 : std::min({ceil_div(target, p.K), ceil_div(p.R, kMinRowPiece), kMaxSplits});
  }
  if (p.splits < 1) p.splits = 1;
  p.chunk = ceil_div(p.R, p.splits);
  // Rounding the chunk up can leave trailing pieces empty; drop them.
  if (p.chunk > 0) p.splits = ceil_div(p.R, p.chunk);
  if (p.splits < 1) p.splits = 1;
  return p;
}

ReducePlan make_rows_reduce_plan(int64_t rows, int64_t cols) {
  StridedIndex kept, reduced;
  kept.ndim = 1;
  kept.extent[0] = rows;
  kept.stride0[0] = cols;
  reduced.ndim = 1;
  reduced.extent[0] = cols;
  reduced.stride0[0] = 1;
  return make_reduce_plan(kept, reduced);
}

size_t reduce_workspace_bytes(const ReducePlan& plan) {
  return plan.splits > 1 ? static_cast<size_t>(plan.K * plan.splits) * sizeof(double) : 0;
}

template <class T>
cudaError_t reduce(const T* x, T* out, const ReducePlan& plan, ReduceKind kind, double eps, void* workspace,
                   cudaStream_t s) {
  if (plan.K <= 0) return cudaSuccess;
  if (plan.splits > 1 && !workspace) return cudaErrorInvalidValue;
  double* ws = static_cast<double*>(workspace);
  const PlainLoad<T> load{x};
  return kind == ReduceKind::Sum ? run<ReduceKind::Sum>(load, out, plan, eps, ws, s)
                                 : run<ReduceKind::SumSquareSqrt>(load, out, plan, eps, ws, s);
}

template <class T>
cudaError_t masked_grad_sum(const T* g, const T* y, const NormAct& act, T* dx, T* out, const ReducePlan& plan,
                            void* workspace, cudaStream_t s) {
  if (plan.K <= 0) return cudaSuccess;
  if (plan.splits > 1 && !workspace) return cudaErrorInvalidValue;
  const MaskedGrad<T> load{g, y, dx, act.kind, static_cast<typename NormActCompute<T>::type>(act.slope)};
  return run<ReduceKind::Sum>(load, out, plan, 0.0, static_cast<double*>(workspace), s);
}

template cudaError_t reduce<float>(const float*, float*, const ReducePlan&, ReduceKind, double, void*, cudaStream_t);
template cudaError_t reduce<double>(const double*, double*, const ReducePlan&, ReduceKind, double, void*,
                                    cudaStream_t);
// bfloat16 read as such (exactly widened), summed in double, rounded once through float.
template cudaError_t reduce<bf16>(const bf16*, bf16*, const ReducePlan&, ReduceKind, double, void*, cudaStream_t);
template cudaError_t masked_grad_sum<float>(const float*, const float*, const NormAct&, float*, float*,
                                            const ReducePlan&, void*, cudaStream_t);
template cudaError_t masked_grad_sum<double>(const double*, const double*, const NormAct&, double*, double*,
                                             const ReducePlan&, void*, cudaStream_t);
template cudaError_t masked_grad_sum<bf16>(const bf16*, const bf16*, const NormAct&, bf16*, bf16*, const ReducePlan&,
                                           void*, cudaStream_t);

}  // namespace gan::kernels
