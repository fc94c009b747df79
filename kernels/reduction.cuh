// Deterministic reductions: out[k] = finish(sum over r of pre(x[kept(k) + reduced(r)])).
//
// The caller describes x as two index spaces: the kept dims (row-major order of `out`) and the
// reduced dims, each with x's element strides (stride0 of a StridedIndex). No float atomics: each
// output is summed by one block (or one warp) in a fixed order, and when one output has too much work
// for one block its range is split into fixed pieces whose partial sums a second kernel adds in a
// fixed order. The same inputs on the same GPU therefore give bit-identical results on every run.
// Sums accumulate in double.
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kernels/launch.cuh"
#include "kernels/norm_act.h"

namespace gan::kernels {

enum class ReduceKind {
  Sum,            // finish(s) = s
  SumSquareSqrt,  // pre(v) = v^2, finish(s) = sqrt(s + eps): per-sample L2 norms
};

struct ReducePlan {
  StridedIndex kept, reduced;  // stride0 only
  int64_t K = 0, R = 0;        // outputs, elements per output
  enum class Mode { WarpRows, BlockRows, Columns } mode = Mode::BlockRows;
  int64_t splits = 1;  // pieces per output (> 1: partial sums in the workspace)
  int64_t chunk = 0;   // reduced elements per piece
};

// Chooses the kernel and the split for this shape on the current device.
ReducePlan make_reduce_plan(const StridedIndex& kept, const StridedIndex& reduced);
// The plan for `rows` contiguous rows of `cols` elements each, one output per row (per-sample norms
// of a [N, ...] tensor: rows = N, cols = the rest).
ReducePlan make_rows_reduce_plan(int64_t rows, int64_t cols);
// Bytes of workspace `reduce` needs for `plan` (0 when no split).
size_t reduce_workspace_bytes(const ReducePlan& plan);

// `workspace` must hold reduce_workspace_bytes(plan) bytes (may be null when that is 0).
template <class T>
cudaError_t reduce(const T* x, T* out, const ReducePlan& plan, ReduceKind kind, double eps, void* workspace,
                   cudaStream_t stream);

// The sum of a masked gradient with `plan` (x = g's shape): dx[i] = g[i] carried back through
// act's ReLU / LeakyReLU with its mask read from y[i] (kernels/norm_act.h), stored as it is
// loaded, and out = dx summed as `reduce` sums it (the same kernels, order and bits): a biased
// layer's input and bias gradients in one pass (bias_act's backward).
template <class T>
cudaError_t masked_grad_sum(const T* g, const T* y, const NormAct& act, T* dx, T* out, const ReducePlan& plan,
                            void* workspace, cudaStream_t stream);

}  // namespace gan::kernels
