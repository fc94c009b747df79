// Planning and launching the implicit-GEMM convolution kernels (see conv.cuh).
#include "kernels/conv.cuh"

#include <algorithm>
#include <type_traits>

#include "kernels/implicit_gemm.cuh"

namespace gan::kernels {

namespace {

enum class TileId { T128x128, T128x64, T64x64, T128x16, T128x4 };

struct TileDims {
  int bm, bn;
};

TileDims tile_dims(TileId t) {
  switch (t) {
    case TileId::T128x128: return {Tile128x128::BM, Tile128x128::BN};
    case TileId::T128x64: return {Tile128x64::BM, Tile128x64::BN};
    case TileId::T64x64: return {Tile64x64::BM, Tile64x64::BN};
    case TileId::T128x16: return {Tile128x16::BM, Tile128x16::BN};
    case TileId::T128x4: return {Tile128x4::BM, Tile128x4::BN};
  }
  return {64, 64};
}

// GEMM indices are 32-bit, with room for a block tile past the end.
constexpr int64_t kIndexLimit = (int64_t{1} << 31) - (int64_t{1} << 20);
constexpr int64_t kCoordLimit = int64_t{1} << 30;  // pixel coordinates, with room for p*stride - pad
constexpr int kMaxSplits = 256;
constexpr int kGemmBK = 8;  // every tile's BK

// Backward-data from a 1x1 dy needs no phases: a plain product over K.
bool bwd_data_is_1x1(const Conv2dShape& s) { return s.P == 1 && s.Q == 1; }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Split-K partial products are kept in the accumulator type: FP32 for bfloat16 data.
size_t partial_elem_size(size_t elem_size) { return elem_size == 2 ? 4 : elem_size; }

// The product a pass computes: largest phase for backward-data.
struct GemmDims {
  int64_t M, Ng, Kg;
  int phases;
  bool splittable;  // single-phase: the reduction may be split across blocks
};

GemmDims gemm_dims(ConvPass pass, const Conv2dShape& s) {
  switch (pass) {
    case ConvPass::Forward: return {s.N * s.P * s.Q, s.K, s.C * s.R * s.S, 1, true};
    case ConvPass::BackwardWeight: return {s.K, s.C * s.R * s.S, s.N * s.P * s.Q, 1, true};
    case ConvPass::BackwardData:
      if (bwd_data_is_1x1(s)) return {s.N, s.C * s.H * s.W, s.K, 1, false};
      return {s.N * ceil_div(s.H, s.stride_h) * ceil_div(s.W, s.stride_w), s.C,
              s.K * ceil_div(s.R, s.stride_h) * ceil_div(s.S, s.stride_w), static_cast<int>(s.stride_h * s.stride_w),
              false};
  }
  return {0, 0, 0, 1, false};
}

struct GemmPlan {
  TileId tile;
  int64_t grid_m, grid_n;
  int phases, splits;
  int64_t M, Ng;
  size_t workspace_bytes;
};

// Tile: narrow products get narrow tiles (three image channels should not pay for 128 columns);
// otherwise the largest tile that still gives every multiprocessor a block. Single-phase products
// with fewer blocks than multiprocessors split their reduction until there are about two blocks
// per multiprocessor.
GemmPlan make_plan(ConvPass pass, const Conv2dShape& s, size_t elem_size, int sms) {
  const GemmDims d = gemm_dims(pass, s);
  sms = std::max(sms, 1);
  auto blocks = [&](TileId t) {
    TileDims td = tile_dims(t);
    return ceil_div(d.M, td.bm) * ceil_div(d.Ng, td.bn) * d.phases;
  };
  TileId tile;
  if (d.Ng <= 4) {
    tile = TileId::T128x4;
  } else if (d.Ng <= 16) {
    tile = TileId::T128x16;
  } else {
    TileId cands[3];
    int nc = 0;
    if (d.M <= 64 || elem_size == 8) {
      cands[nc++] = TileId::T64x64;  // double: 128-wide micro-tiles would spill registers
    } else if (d.Ng > 64) {
      cands[nc++] = TileId::T128x128, cands[nc++] = TileId::T128x64, cands[nc++] = TileId::T64x64;
    } else {
      cands[nc++] = TileId::T128x64, cands[nc++] = TileId::T64x64;
    }
    tile = cands[nc - 1];
    for (int i = 0; i < nc; ++i)
      if (blocks(cands[i]) >= sms) {
        tile = cands[i];
        break;
      }
  }
  GemmPlan p{};
  p.tile = tile;
  TileDims td = tile_dims(tile);
  p.grid_m = ceil_div(d.M, td.bm);
  p.grid_n = ceil_div(d.Ng, td.bn);
  p.phases = d.phases;
  p.M = d.M, p.Ng = d.Ng;
  p.splits = 1;
  const int64_t nblocks = blocks(tile);
  const int64_t ktiles = ceil_div(d.Kg, kGemmBK);
  if (d.splittable && nblocks < sms && ktiles >= 8) {
    int64_t want = ceil_div(2 * sms, nblocks);
    p.splits = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({want, ktiles / 4, kMaxSplits})));
  }
  p.workspace_bytes = p.splits > 1 ? static_cast<size_t>(p.splits) * d.M * d.Ng * partial_elem_size(elem_size) : 0;
  return p;
}

// One product: the tiled kernel over every phase and reduction split (on tensor cores: TF32 for
// float, BF16 for bfloat16; or as FP32/FP64 fused multiply-adds), then, when the reduction was
// split, the kernel that sums the partial products in split order.
template <class T, class Tile, bool TensorCores, Walk AW, Walk BW, class Prob>
cudaError_t launch_tile(const Prob& prob, const GemmPlan& pl, const ConvLaunch& l) {
  acc_t<T>* partial = static_cast<acc_t<T>*>(l.workspace);
  dim3 grid(static_cast<unsigned>(pl.grid_m), static_cast<unsigned>(pl.grid_n),
            static_cast<unsigned>(pl.phases * pl.splits));
  if constexpr (TensorCores)
    implicit_gemm_mma<T, Tile, AW, BW, Prob><<<grid, Tile::THREADS, 0, l.stream>>>(prob, pl.splits, partial);
  else
    implicit_gemm_fma<T, Tile, AW, BW, Prob><<<grid, Tile::THREADS, 0, l.stream>>>(prob, pl.splits, partial);
  if (pl.splits > 1) {
    const int64_t mn = pl.M * pl.Ng;
    const int64_t nb = std::min<int64_t>(ceil_div(mn, 256), int64_t{8} * l.sms);
    implicit_gemm_splitk_reduce<T, Prob><<<static_cast<unsigned>(nb), 256, 0, l.stream>>>(prob, partial, pl.splits);
  }
  return cudaGetLastError();
}

// The wide tiles run on tensor cores: always for bfloat16, with tf32 for float. The narrow ones
// (<= 16 columns, little work to gain) stay on the FP32 kernel.
template <class T, Walk AW, Walk BW, class Prob>
cudaError_t launch_gemm(const Prob& prob, const GemmPlan& pl, const ConvLaunch& l, bool tf32) {
  if constexpr (std::is_same_v<T, bf16>) {
    switch (pl.tile) {
      case TileId::T128x128: return launch_tile<T, Bf16Tile128x128, true, AW, BW>(prob, pl, l);
      case TileId::T128x64: return launch_tile<T, Bf16Tile128x64, true, AW, BW>(prob, pl, l);
      case TileId::T64x64: return launch_tile<T, Bf16Tile64x64, true, AW, BW>(prob, pl, l);
      default: break;
    }
  } else if constexpr (std::is_same_v<T, float>) {
    if (tf32) switch (pl.tile) {
        case TileId::T128x128: return launch_tile<T, Tf32Tile128x128, true, AW, BW>(prob, pl, l);
        case TileId::T128x64: return launch_tile<T, Tf32Tile128x64, true, AW, BW>(prob, pl, l);
        case TileId::T64x64: return launch_tile<T, Tf32Tile64x64, true, AW, BW>(prob, pl, l);
        default: break;
      }
  }
  switch (pl.tile) {
    case TileId::T128x128:
      if constexpr (std::is_same_v<T, float>) return launch_tile<T, Tile128x128, false, AW, BW>(prob, pl, l);
      break;
    case TileId::T128x64:
      if constexpr (std::is_same_v<T, float>) return launch_tile<T, Tile128x64, false, AW, BW>(prob, pl, l);
      break;
    case TileId::T64x64:
      if constexpr (!std::is_same_v<T, bf16>) return launch_tile<T, Tile64x64, false, AW, BW>(prob, pl, l);
      break;
    case TileId::T128x16: return launch_tile<T, Tile128x16, false, AW, BW>(prob, pl, l);
    case TileId::T128x4: return launch_tile<T, Tile128x4, false, AW, BW>(prob, pl, l);
  }
  return cudaErrorInvalidValue;  // a plan make_plan never produces
}

// Outputs with no elements need nothing; outputs of an empty reduction are zeros.
bool trivial(int64_t out_elems, int64_t reduction, void* out, size_t elem_size, cudaStream_t stream,
             cudaError_t& err) {
  if (out_elems == 0) {
    err = cudaSuccess;
    return true;
  }
  if (reduction == 0) {
    err = cudaMemsetAsync(out, 0, static_cast<size_t>(out_elems) * elem_size, stream);
    return true;
  }
  return false;
}

}  // namespace

const char* conv2d_hand_unsupported(ConvPass pass, const Conv2dShape& s, size_t elem_size, int sms) {
  if (elem_size != 2 && elem_size != 4 && elem_size != 8) return "only bfloat16, float32 and float64";
  if (s.N < 1 || s.C < 1 || s.H < 1 || s.W < 1 || s.K < 1 || s.R < 1 || s.S < 1 || s.P < 1 || s.Q < 1)
    return "empty dimension";
  if (s.stride_h < 1 || s.stride_w < 1 || s.pad_h < 0 || s.pad_w < 0) return "stride below 1 or negative padding";
  if (s.H + 2 * s.pad_h >= kCoordLimit || s.W + 2 * s.pad_w >= kCoordLimit || s.P * s.stride_h >= kCoordLimit ||
      s.Q * s.stride_w >= kCoordLimit || s.R >= kCoordLimit || s.S >= kCoordLimit)
    return "spatial extent above 2^30";
  const GemmDims d = gemm_dims(pass, s);
  if (d.M >= kIndexLimit || d.Ng >= kIndexLimit || d.Kg >= kIndexLimit)
    return "implicit GEMM dimension of 2^31 or more";
  // Per-image offsets inside the problems are 32-bit products h * W + w; whole offsets are 64-bit.
  if (s.H * s.W >= kIndexLimit || s.P * s.Q >= kIndexLimit || s.C * s.R * s.S >= kIndexLimit)
    return "plane or filter of 2^31 or more elements";
  if (pass == ConvPass::BackwardData && !bwd_data_is_1x1(s) && s.stride_h * s.stride_w > kMaxConvPhases)
    return "backward-data stride phases above 16 (stride_h * stride_w)";
  const GemmPlan pl = make_plan(pass, s, elem_size, sms);
  if (pl.grid_n > 65535 || pl.grid_m >= kIndexLimit) return "grid too large";
  return nullptr;
}

size_t conv2d_workspace_bytes(ConvPass pass, const Conv2dShape& s, size_t elem_size, int sms) {
  if (conv2d_hand_unsupported(pass, s, elem_size, sms)) return 0;
  return make_plan(pass, s, elem_size, sms).workspace_bytes;
}

namespace {

// What every pass does before its product: reject a precision the type cannot run (TF32 takes float
// operands; bfloat16 runs BF16 whatever the launch says), settle empty outputs and empty
// reductions, plan the product. Then launch(plan, tf32) starts it.
template <class T, class Launch>
cudaError_t run_pass(ConvPass pass, const Conv2dShape& s, T* out, int64_t out_elems, int64_t reduction,
                     const ConvLaunch& l, Launch&& launch) {
  if (l.math == ConvMath::Tf32 && std::is_same_v<T, double>) return cudaErrorInvalidValue;
  cudaError_t err;
  if (trivial(out_elems, reduction, out, sizeof(T), l.stream, err)) return err;
  return launch(make_plan(pass, s, sizeof(T), l.sms), l.math == ConvMath::Tf32);
}

}  // namespace

template <class T>
cudaError_t conv2d_fwd_implicit_gemm(const T* x, const T* w, T* y, const Conv2dShape& s, const ConvLaunch& l) {
  return run_pass<T>(ConvPass::Forward, s, y, s.N * s.K * s.P * s.Q, s.C * s.R * s.S, l,
                     [&](const GemmPlan& pl, bool tf32) {
                       // Rows walk along output pixels (contiguous x reads for stride 1); weights along C R S.
                       return launch_gemm<T, Walk::Rows, Walk::K>(make_fwd_problem(s, x, w, y), pl, l, tf32);
                     });
}

template <class T>
cudaError_t conv2d_bwd_data_implicit_gemm(const T* dy, const T* w, T* dx, const Conv2dShape& s, const ConvLaunch& l) {
  return run_pass<T>(ConvPass::BackwardData, s, dx, s.N * s.C * s.H * s.W, s.K, l, [&](const GemmPlan& pl, bool tf32) {
    if (bwd_data_is_1x1(s))
      return launch_gemm<T, Walk::K, Walk::Rows>(make_bwd_data_1x1_problem(s, dy, w, dx), pl, l, tf32);
    return launch_gemm<T, Walk::Rows, Walk::K>(make_bwd_data_problem(s, dy, w, dx), pl, l, tf32);
  });
}

template <class T>
cudaError_t conv2d_bwd_weight_implicit_gemm(const T* x, const T* dy, T* dw, const Conv2dShape& s, const ConvLaunch& l) {
  return run_pass<T>(ConvPass::BackwardWeight, s, dw, s.K * s.C * s.R * s.S, s.N * s.P * s.Q, l,
                     [&](const GemmPlan& pl, bool tf32) {
                       // Both operands walk the reduction (n, p, q): dy and x are contiguous along q.
                       return launch_gemm<T, Walk::K, Walk::K>(make_bwd_weight_problem(s, x, dy, dw), pl, l, tf32);
                     });
}

template <class T>
cudaError_t conv_transpose2d_fwd_implicit_gemm(const T* x, const T* w, T* y, const Conv2dShape& s,
                                               const ConvLaunch& l) {
  // conv_transpose2d's input plays dy, its output dx.
  return conv2d_bwd_data_implicit_gemm(x, w, y, s, l);
}

#define GAN_INSTANTIATE_CONV(T)                                                                                   \
  template cudaError_t conv2d_fwd_implicit_gemm<T>(const T*, const T*, T*, const Conv2dShape&, const ConvLaunch&); \
  template cudaError_t conv2d_bwd_data_implicit_gemm<T>(const T*, const T*, T*, const Conv2dShape&,               \
                                                        const ConvLaunch&);                                       \
  template cudaError_t conv2d_bwd_weight_implicit_gemm<T>(const T*, const T*, T*, const Conv2dShape&,             \
                                                          const ConvLaunch&);                                     \
  template cudaError_t conv_transpose2d_fwd_implicit_gemm<T>(const T*, const T*, T*, const Conv2dShape&,          \
                                                             const ConvLaunch&);
GAN_INSTANTIATE_CONV(float)
GAN_INSTANTIATE_CONV(double)
GAN_INSTANTIATE_CONV(bf16)
#undef GAN_INSTANTIATE_CONV

}  // namespace gan::kernels
