// CUDA convolution primitives (engine/backend/conv.h): conv2d forward, backward-data and
// backward-weight, and conv_transpose2d forward. Each runs the hand-written implicit-GEMM kernels
// (kernels/conv.cu) or cuDNN's legacy convolution API, chosen at run time (kernel_select.h). When
// the chosen path cannot run a shape, the other one does, and verbose mode says so once; bfloat16
// data neither can run is computed from float32 copies (engine/backend/bf16_widening.h).
// allow_tf32() switches both paths to TF32 tensor cores for float32; off, both are strict FP32.
//
// cuDNN: algorithms come from cudnnFind*Ex (timed on the real shape), cached per shape, dtype,
// device and math mode; the fastest deterministic one wins, so reruns give the same bits. Float32
// runs CUDNN_FMA_MATH (strict FP32, what the CPU reference computes) unless TF32 is allowed
// (allow_tf32()), then CUDNN_DEFAULT_MATH, which lets Ampere-and-later tensor cores run TF32.
// Note the finder runs kernels and synchronises: the first call per shape must happen outside
// CUDA-graph capture (a warm-up step does it).
#include "engine/backend/conv.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <tuple>

#include "engine/backend/bf16_widening.h"
#include "engine/cuda/check.h"
#include "engine/cuda/dnn.h"
#include "engine/cuda/kernel_select.h"
#include "engine/cuda/launch_utils.h"
#include "engine/cuda/memory.h"
#include "kernels/conv.cuh"

namespace gan::cuda {

namespace {

using kernels::Conv2dShape;
using kernels::ConvPass;

// The four primitives (engine/backend/conv.h): the name fallback notes and errors use, and the
// kernel pass each one runs. conv_transpose2d's forward is the backward-data product, on the hand
// kernels (conv_transpose2d_fwd_implicit_gemm) and on cuDNN (cudnnConvolutionBackwardData) alike.
enum class ConvOp { Conv2dForward, Conv2dBackwardData, Conv2dBackwardWeight, ConvTranspose2dForward };

const char* op_name(ConvOp op) {
  switch (op) {
    case ConvOp::Conv2dForward: return "conv2d forward";
    case ConvOp::Conv2dBackwardData: return "conv2d backward-data";
    case ConvOp::Conv2dBackwardWeight: return "conv2d backward-weight";
    case ConvOp::ConvTranspose2dForward: return "conv_transpose2d forward";
  }
  return "conv";
}

ConvPass pass_of(ConvOp op) {
  switch (op) {
    case ConvOp::Conv2dForward: return ConvPass::Forward;
    case ConvOp::Conv2dBackwardWeight: return ConvPass::BackwardWeight;
    case ConvOp::Conv2dBackwardData:
    case ConvOp::ConvTranspose2dForward: return ConvPass::BackwardData;
  }
  return ConvPass::Forward;
}

Conv2dShape shape_of(const char* op, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p) {
  GAN_CHECK(x.dim() == 4 && w.dim() == 4 && y.dim() == 4,
            op << ": expected 4-D input, weight and output, got " << x.str() << ", " << w.str() << ", " << y.str());
  Conv2dShape s;
  s.N = x.size(0), s.C = x.size(1), s.H = x.size(2), s.W = x.size(3);
  s.K = w.size(0), s.R = w.size(2), s.S = w.size(3);
  s.P = y.size(2), s.Q = y.size(3);
  s.stride_h = p.stride_h, s.stride_w = p.stride_w, s.pad_h = p.pad_h, s.pad_w = p.pad_w;
  GAN_CHECK(w.size(1) == s.C && y.size(0) == s.N && y.size(1) == s.K,
            op << ": inconsistent shapes input " << x.str() << ", weight " << w.str() << ", output " << y.str());
  return s;
}

std::string describe(const Conv2dShape& s) {
  std::ostringstream os;
  os << "x[" << s.N << ", " << s.C << ", " << s.H << ", " << s.W << "] w[" << s.K << ", " << s.C << ", " << s.R << ", "
     << s.S << "] y[" << s.N << ", " << s.K << ", " << s.P << ", " << s.Q << "] stride (" << s.stride_h << ", "
     << s.stride_w << ") pad (" << s.pad_h << ", " << s.pad_w << ")";
  return os.str();
}

// The three tensors of one computation in conv2d roles: x, w, y (y or dy, x or dx, w or dw).
struct ConvArgs {
  ConvOp op;
  Conv2dShape s;
  DType dtype;
  int device;
  const void* x;   // x (forward, backward-weight); unused in backward-data
  const void* w;   // w (forward, backward-data); unused in backward-weight
  const void* dy;  // dy (backward-*); conv_transpose2d's input
  void* out;       // y, dx (conv_transpose2d's output) or dw
  ConvPass pass() const { return pass_of(op); }
};

// ---- hand-written kernels ----

// Float32 runs the TF32 tensor-core kernels when allow_tf32() is on, else strict FP32; bfloat16
// runs the BF16 ones.
void run_hand(const ConvArgs& a, int sms) {
  Workspace ws(kernels::conv2d_workspace_bytes(a.pass(), a.s, dtype_size(a.dtype), sms), a.device);
  const kernels::ConvLaunch l{
      a.dtype == DType::Float32 && allow_tf32() ? kernels::ConvMath::Tf32 : kernels::ConvMath::Strict, ws.get(), sms,
      stream(a.device)};
  GAN_DISPATCH_FLOAT_BF16(a.dtype, op_name(a.op), [&] {
    using T = scalar_t;
    const T* x = static_cast<const T*>(a.x);
    const T* w = static_cast<const T*>(a.w);
    const T* dy = static_cast<const T*>(a.dy);
    T* out = static_cast<T*>(a.out);
    cudaError_t launched = cudaErrorInvalidValue;
    switch (a.op) {
      case ConvOp::Conv2dForward: launched = kernels::conv2d_fwd_implicit_gemm<T>(x, w, out, a.s, l); break;
      case ConvOp::Conv2dBackwardData: launched = kernels::conv2d_bwd_data_implicit_gemm<T>(dy, w, out, a.s, l); break;
      case ConvOp::Conv2dBackwardWeight:
        launched = kernels::conv2d_bwd_weight_implicit_gemm<T>(x, dy, out, a.s, l);
        break;
      case ConvOp::ConvTranspose2dForward:
        launched = kernels::conv_transpose2d_fwd_implicit_gemm<T>(dy, w, out, a.s, l);
        break;
    }
    GAN_CUDA_CHECK(launched);  // the launch of op_name(a.op)'s kernel just above
  });
}

// ---- cuDNN ----

#ifdef GAN_WITH_CUDNN
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

constexpr int64_t kCudnnIndexLimit = int64_t{1} << 31;
constexpr size_t kSearchWorkspaceMax = size_t{256} << 20;

std::string cudnn_unsupported(const Conv2dShape& s) {
  for (int64_t v : {s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.P, s.Q})
    if (v < 1) return "empty dimension";
  if (s.pad_h < 0 || s.pad_w < 0 || s.stride_h < 1 || s.stride_w < 1) return "negative padding or stride below 1";
  if (s.N * s.C * s.H * s.W >= kCudnnIndexLimit || s.N * s.K * s.P * s.Q >= kCudnnIndexLimit ||
      s.K * s.C * s.R * s.S >= kCudnnIndexLimit)
    return "a tensor above 2^31 elements (legacy cuDNN descriptors)";
  // cuDNN derives the output size itself and needs it to match.
  if ((s.H + 2 * s.pad_h - s.R) / s.stride_h + 1 != s.P || (s.W + 2 * s.pad_w - s.S) / s.stride_w + 1 != s.Q)
    return "output size not the one cuDNN derives";
  return {};
}

struct ConvKey {
  int pass, dtype, device;
  bool tf32;
  int64_t N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;
  auto tie() const { return std::tie(pass, dtype, device, tf32, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw); }
  bool operator<(const ConvKey& o) const { return tie() < o.tie(); }
};

// Descriptors and the chosen algorithm of one shape; immutable once built.
struct ConvPlanCudnn {
  TensorDesc xd, yd;
  FilterDesc wd;
  ConvDesc cd;
  int algo = 0;
  size_t workspace = 0;
  // False when cuDNN offered no algorithm for bfloat16 data of this shape: the primitive then
  // computes from float32 copies instead (for float32 and float64 that is an error).
  bool usable = true;
};

// Results come fastest first: the first deterministic success, else the first success. Under
// strict FP32 a result timed with tensor-op math is never taken (the descriptor keeps FMA math).
template <class Perf>
const Perf* pick(const Perf* perf, int n, bool strict) {
  auto usable = [&](const Perf& p) {
    return p.status == CUDNN_STATUS_SUCCESS &&
           !(strict && (p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION));
  };
  for (int i = 0; i < n; ++i)
    if (usable(perf[i]) && perf[i].determinism == CUDNN_DETERMINISTIC) return &perf[i];
  for (int i = 0; i < n; ++i)
    if (usable(perf[i])) return &perf[i];
  return nullptr;
}

size_t search_workspace_bytes(int device) {
  size_t free_b = 0, total_b = 0;
  DeviceGuard guard(device);
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return std::min(kSearchWorkspaceMax, free_b / 2);
}

// Runs one cuDNN finder over up to Count algorithms, keeps the best usable one in `pl` and returns
// the math type it was timed with.
template <class Perf, int Count, class Find>
cudnnMathType_t choose_algo(ConvPlanCudnn& pl, const ConvArgs& a, bool strict, Find&& find) {
  Perf perf[Count];
  int returned = 0;
  const cudnnStatus_t found = find(perf, Count, &returned);
  const Perf* best = found == CUDNN_STATUS_SUCCESS ? pick(perf, returned, strict) : nullptr;
  if (!best && a.dtype == DType::BFloat16) {
    pl.usable = false;
    return CUDNN_DEFAULT_MATH;
  }
  GAN_CUDNN_CHECK(found);
  GAN_CHECK(best, op_name(a.op) << ": cuDNN found no working algorithm for " << describe(a.s));
  pl.algo = best->algo;
  pl.workspace = best->memory;
  return best->mathType;
}

std::unique_ptr<ConvPlanCudnn> build_plan(const ConvArgs& a, bool tf32) {
  auto pl = std::make_unique<ConvPlanCudnn>();
  const Conv2dShape& s = a.s;
  pl->xd.set_nchw(a.dtype, s.N, s.C, s.H, s.W);
  pl->yd.set_nchw(a.dtype, s.N, s.K, s.P, s.Q);
  pl->wd.set_kcrs(a.dtype, s.K, s.C, s.R, s.S);
  GAN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(pl->cd.d, static_cast<int>(s.pad_h), static_cast<int>(s.pad_w),
                                                  static_cast<int>(s.stride_h), static_cast<int>(s.stride_w), 1, 1,
                                                  CUDNN_CROSS_CORRELATION, cudnn_compute_dtype(a.dtype)));
  const bool strict = a.dtype == DType::Float32 && !tf32;
  GAN_CUDNN_CHECK(cudnnSetConvolutionMathType(pl->cd.d, strict ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH));

  cudnnHandle_t h = cudnn_handle(a.device);
  const size_t search_bytes = search_workspace_bytes(a.device);
  Workspace search(search_bytes, a.device);
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  // The finders write the output while timing; the chosen algorithm overwrites it afterwards.
  switch (a.pass()) {
    case ConvPass::Forward: {
      auto find = [&](auto* perf, int n, int* returned) {
        return cudnnFindConvolutionForwardAlgorithmEx(h, pl->xd.d, a.x, pl->wd.d, a.w, pl->cd.d, pl->yd.d, a.out, n,
                                                      returned, perf, search.get(), search_bytes);
      };
      math = choose_algo<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT>(*pl, a, strict, find);
      break;
    }
    case ConvPass::BackwardData: {
      auto find = [&](auto* perf, int n, int* returned) {
        return cudnnFindConvolutionBackwardDataAlgorithmEx(h, pl->wd.d, a.w, pl->yd.d, a.dy, pl->cd.d, pl->xd.d, a.out,
                                                           n, returned, perf, search.get(), search_bytes);
      };
      math =
          choose_algo<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT>(*pl, a, strict, find);
      break;
    }
    case ConvPass::BackwardWeight: {
      auto find = [&](auto* perf, int n, int* returned) {
        return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, pl->xd.d, a.x, pl->yd.d, a.dy, pl->cd.d, pl->wd.d,
                                                             a.out, n, returned, perf, search.get(), search_bytes);
      };
      math = choose_algo<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT>(*pl, a, strict,
                                                                                                        find);
      break;
    }
  }
  // An algorithm runs with the math type it was timed with; strict FP32 keeps FMA math.
  if (!strict && pl->usable) GAN_CUDNN_CHECK(cudnnSetConvolutionMathType(pl->cd.d, math));
  return pl;
}

const ConvPlanCudnn& cudnn_plan(const ConvArgs& a, bool tf32) {
  static std::mutex mu;
  static std::map<ConvKey, std::unique_ptr<ConvPlanCudnn>> cache;
  const Conv2dShape& s = a.s;
  ConvKey key{static_cast<int>(a.pass()), static_cast<int>(a.dtype), a.device, tf32, s.N, s.C, s.H, s.W, s.K, s.R,
              s.S, s.P, s.Q, s.stride_h, s.stride_w, s.pad_h, s.pad_w};
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  auto pl = build_plan(a, tf32);
  return *cache.emplace(key, std::move(pl)).first->second;
}

void run_cudnn(const ConvArgs& a) {
  const bool tf32 = a.dtype == DType::Float32 && allow_tf32();
  const ConvPlanCudnn& pl = cudnn_plan(a, tf32);
  cudnnHandle_t h = cudnn_handle(a.device);
  Workspace ws(pl.workspace, a.device);
  BlendFactors bf(a.dtype);
  switch (a.pass()) {
    case ConvPass::Forward:
      GAN_CUDNN_CHECK(cudnnConvolutionForward(h, bf.one(), pl.xd.d, a.x, pl.wd.d, a.w, pl.cd.d,
                                              static_cast<cudnnConvolutionFwdAlgo_t>(pl.algo), ws.get(), pl.workspace,
                                              bf.zero(), pl.yd.d, a.out));
      break;
    case ConvPass::BackwardData:
      GAN_CUDNN_CHECK(cudnnConvolutionBackwardData(h, bf.one(), pl.wd.d, a.w, pl.yd.d, a.dy, pl.cd.d,
                                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(pl.algo), ws.get(),
                                                   pl.workspace, bf.zero(), pl.xd.d, a.out));
      break;
    case ConvPass::BackwardWeight:
      GAN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, bf.one(), pl.xd.d, a.x, pl.yd.d, a.dy, pl.cd.d,
                                                     static_cast<cudnnConvolutionBwdFilterAlgo_t>(pl.algo), ws.get(),
                                                     pl.workspace, bf.zero(), pl.wd.d, a.out));
      break;
  }
}

// bfloat16 data of this shape runs in cuDNN (an algorithm was found for it).
bool bf16_in_cudnn(const ConvArgs& a) {
  if (!cudnn_unsupported(a.s).empty()) return false;
  DeviceGuard guard(a.device);
  return cudnn_plan(a, false).usable;
}

#pragma GCC diagnostic pop
#else
std::string cudnn_unsupported(const Conv2dShape&) { return "this build has no cuDNN"; }
void run_cudnn(const ConvArgs& a) { GAN_FAIL(op_name(a.op) << ": this build has no cuDNN"); }
bool bf16_in_cudnn(const ConvArgs&) { return false; }
#endif

// Runs one call on the chosen path, or the other one where the chosen cannot (run_chosen). For
// bfloat16 data cuDNN also refuses a shape it found no algorithm for; asking runs its finder, so
// it is asked only where cuDNN may be the one to run the call. False (bfloat16 only): neither
// path runs it, and the primitive computes from float32 copies instead.
bool run(const ConvArgs& a) {
  DeviceGuard guard(a.device);
  const int sms = kernels::sm_count();  // of the current device, which the guard set
  const bool bf16 = a.dtype == DType::BFloat16;
  const char* hand_why = kernels::conv2d_hand_unsupported(a.pass(), a.s, dtype_size(a.dtype), sms);
  std::string cudnn_why = cudnn_unsupported(a.s);
  if (bf16 && cudnn_why.empty()) {
    const bool hand_runs = !hand_why && kernel_impl(OpFamily::Conv, true) == KernelImpl::Hand;
    if (!hand_runs && !bf16_in_cudnn(a)) cudnn_why = "no bfloat16 algorithm found";
  }
  if (bf16 && hand_why && !cudnn_why.empty()) return false;
  run_chosen(OpFamily::Conv, op_name(a.op), describe(a.s) + " (" + dtype_name(a.dtype) + ")", hand_why, cudnn_why,
             [&] { run_hand(a, sms); }, [&] { run_cudnn(a); }, bf16);
  return true;
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dParams& p) {
  const ConvArgs a{ConvOp::Conv2dForward, shape_of("conv2d forward", x, w, y, p), x.dtype(), x.device().index,
                   x.raw_data(), w.raw_data(), nullptr, y.raw_data()};
  if (!run(a)) backend::call_widened<&conv2d_forward>(x, w, y, p);
}

void conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const Conv2dParams& p) {
  const ConvArgs a{ConvOp::Conv2dBackwardData, shape_of("conv2d backward-data", dx, w, dy, p), dy.dtype(),
                   dy.device().index, nullptr, w.raw_data(), dy.raw_data(), dx.raw_data()};
  if (!run(a)) backend::call_widened<&conv2d_backward_data>(dy, w, dx, p);
}

void conv2d_backward_weight(const Tensor& x, const Tensor& dy, Tensor& dw, const Conv2dParams& p) {
  const ConvArgs a{ConvOp::Conv2dBackwardWeight, shape_of("conv2d backward-weight", x, dw, dy, p), x.dtype(),
                   x.device().index, x.raw_data(), nullptr, dy.raw_data(), dw.raw_data()};
  if (!run(a)) backend::call_widened<&conv2d_backward_weight>(x, dy, dw, p);
}

// In the conv2d view the transposed convolution's output y is the input side and its input x the
// output side.
void conv_transpose2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dParams& p) {
  const ConvArgs a{ConvOp::ConvTranspose2dForward, shape_of("conv_transpose2d forward", y, w, x, p), x.dtype(),
                   x.device().index, nullptr, w.raw_data(), x.raw_data(), y.raw_data()};
  if (!run(a)) backend::call_widened<&conv_transpose2d_forward>(x, w, y, p);
}

}  // namespace gan::cuda
