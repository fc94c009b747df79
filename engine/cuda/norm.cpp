// CUDA batch-norm primitives (engine/backend/norm.h): the hand-written kernels
// (kernels/batchnorm.cu) or cuDNN's spatial batch norm, chosen at run time (kernel_select.h),
// each falling back to the other for shapes it cannot run (said once in verbose mode).
//
// A fused activation (kernels/norm_act.h) runs inside the hand kernels; on the cuDNN path it is
// an element-wise pass after the forward and before the backward (cuDNN's own BN + ReLU fusion
// wants NHWC and ReLU only).
//
// cuDNN and the primitives agree on the statistics: save_invstd = 1/sqrt(biased var + eps), and
// running_var moves towards the unbiased batch variance, as in PyTorch. cuDNN insists on scale,
// bias and gradient buffers that the primitives allow to be absent; those are supplied here.
#include "engine/backend/norm.h"

#include "engine/backend/elementwise.h"

#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/dnn.h"
#include "engine/cuda/kernel_select.h"
#include "engine/cuda/launch_utils.h"
#include "engine/cuda/memory.h"
#include "kernels/batchnorm.cuh"

namespace gan::cuda {

namespace {

using kernels::BatchNormShape;

BatchNormShape shape_of(const char* op, const Tensor& x) {
  GAN_CHECK(x.dim() >= 2, op << ": expected input [N, C, ...], got " << x.str());
  BatchNormShape s;
  s.N = x.size(0), s.C = x.size(1), s.S = 1;
  for (int64_t d = 2; d < x.dim(); ++d) s.S *= x.size(d);
  return s;
}

std::string describe(const BatchNormShape& s) {
  std::ostringstream os;
  os << "x viewed as [N " << s.N << ", C " << s.C << ", S " << s.S << "]";
  return os.str();
}

template <class T>
const T* cptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}
template <class T>
T* mptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

// What every primitive starts with: its name, x's shape, x's device made current, and that
// device's multiprocessor count.
struct BnCall {
  const char* op;
  BatchNormShape s;
  int dev;
  DeviceGuard guard;
  int sms;
  BnCall(const char* name, const Tensor& x)
      : op(name), s(shape_of(name, x)), dev(x.device().index), guard(dev), sms(kernels::sm_count()) {}
};

// Runs the chosen implementation, or the other one (saying so) when the chosen one cannot.
template <class Hand, class Cudnn>
void choose(const BnCall& c, const std::string& cudnn_why, Hand&& hand, Cudnn&& cudnn) {
  run_chosen(OpFamily::BatchNorm, c.op, describe(c.s), kernels::batchnorm_hand_unsupported(c.s), cudnn_why, hand,
             cudnn);
}

#ifdef GAN_WITH_CUDNN
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

std::string cudnn_unsupported(const BatchNormShape& s, double eps, bool training) {
  if (s.N < 1 || s.C < 1 || s.S < 1) return "empty dimension";
  if (s.N * s.C * s.S >= (int64_t{1} << 31)) return "more than 2^31 elements (legacy cuDNN descriptors)";
  if (eps < CUDNN_BN_MIN_EPSILON) return "eps below CUDNN_BN_MIN_EPSILON";
  if (training && s.N * s.S < 2) return "one value per channel";
  return {};
}

// A device buffer of at least n ones of `dtype`, kept for the process (it stands in for an absent
// batch-norm weight, which cuDNN requires). Filled once, outside any training step's hot path.
const void* ones(DType dtype, int64_t n, int device) {
  static std::mutex mu;
  struct Buf {
    void* p = nullptr;
    int64_t n = 0;
  };
  static std::map<std::pair<int, int>, Buf> bufs;
  std::lock_guard<std::mutex> lock(mu);
  Buf& b = bufs[{device, static_cast<int>(dtype)}];
  if (b.n < n) {
    std::vector<double> h64(static_cast<size_t>(n), 1.0);
    std::vector<float> h32(static_cast<size_t>(n), 1.0f);
    void* p = device_alloc(static_cast<size_t>(n) * dtype_size(dtype), device);
    const void* src = dtype == DType::Float64 ? static_cast<const void*>(h64.data()) : h32.data();
    copy(p, Device::cuda(device), src, Device::cpu(), static_cast<size_t>(n) * dtype_size(dtype));
    synchronize(device);  // the host vectors die here
    if (b.p) device_free(b.p, device);
    b.p = p, b.n = n;
  }
  return b.p;
}

struct BnDescs {
  TensorDesc x, bn;
  BnDescs(DType dtype, const BatchNormShape& s) {
    x.set_nchw(dtype, s.N, s.C, s.S, 1);
    GAN_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(bn.d, x.d, CUDNN_BATCHNORM_SPATIAL));
  }
};

// Scale and bias for cuDNN: the tensors, or ones / zeros standing in for absent ones.
struct Affine {
  const void* w;
  const void* b;
  size_t zero_bytes;
  Workspace zeros;
  Affine(const Tensor& weight, const Tensor& bias, DType dtype, int64_t C, int device)
      : zero_bytes(bias.defined() ? 0 : static_cast<size_t>(C) * dtype_size(dtype)), zeros(zero_bytes, device) {
    w = weight.defined() ? weight.raw_data() : ones(dtype, C, device);
    if (bias.defined()) {
      b = bias.raw_data();
    } else {
      GAN_CUDA_CHECK(cudaMemsetAsync(zeros.get(), 0, zero_bytes, stream(device)));
      b = zeros.get();
    }
  }
};

#pragma GCC diagnostic pop
#else
std::string cudnn_unsupported(const BatchNormShape&, double, bool) { return "this build has no cuDNN"; }
[[noreturn]] void no_cudnn(const char* op) { GAN_FAIL(op << ": this build has no cuDNN"); }
#endif

// y = act(y) in place: the element-wise table's relu / leaky_relu rows, the formulas the hand
// kernels apply.
void apply_act_in_place(const kernels::NormAct& act, Tensor& y) {
  if (act.kind == kernels::NormActKind::Relu) unary(UnaryOp::Relu, y, y, 0, 0);
  if (act.kind == kernels::NormActKind::LeakyRelu) unary(UnaryOp::LeakyRelu, y, y, act.slope, 0);
}

}  // namespace

#ifdef GAN_WITH_CUDNN
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif

void batch_norm_forward_train(const Tensor& x, const Tensor& weight, const Tensor& bias, const kernels::NormAct& act,
                              Tensor& y, Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps) {
  const BnCall c("batch_norm forward (training)", x);
  const BatchNormShape& s = c.s;
  const int dev = c.dev, sms = c.sms;
  auto hand = [&] {
    Workspace ws(kernels::batchnorm_workspace_bytes(s, sms), dev);
    GAN_DISPATCH_FLOAT(x.dtype(), c.op, [&] {
      using T = scalar_t;
      GAN_CUDA_CHECK(kernels::batchnorm_fwd_train_v1<T>(cptr<T>(x), cptr<T>(weight), cptr<T>(bias), act, mptr<T>(y),
                                                        mptr<T>(save_mean), mptr<T>(save_invstd),
                                                        mptr<T>(running_mean), mptr<T>(running_var), s, momentum, eps,
                                                        ws.get(), sms, stream(dev)));
    });
  };
  auto cudnn = [&] {
#ifdef GAN_WITH_CUDNN
    BnDescs d(x.dtype(), s);
    Affine af(weight, bias, x.dtype(), s.C, dev);
    BlendFactors bf(x.dtype());
    const bool track = running_mean.defined() && running_var.defined();
    GAN_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        cudnn_handle(dev), CUDNN_BATCHNORM_SPATIAL, bf.one(), bf.zero(), d.x.d, x.raw_data(), d.x.d, y.raw_data(),
        d.bn.d, af.w, af.b, momentum, track ? running_mean.raw_data() : nullptr,
        track ? running_var.raw_data() : nullptr, eps, save_mean.raw_data(), save_invstd.raw_data()));
    apply_act_in_place(act, y);
#else
    no_cudnn(c.op);
#endif
  };
  choose(c, cudnn_unsupported(s, eps, true), hand, cudnn);
}

void batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, Tensor& y, double eps) {
  const BnCall c("batch_norm forward (eval)", x);
  const BatchNormShape& s = c.s;
  const int dev = c.dev, sms = c.sms;
  auto hand = [&] {
    GAN_DISPATCH_FLOAT(x.dtype(), c.op, [&] {
      using T = scalar_t;
      GAN_CUDA_CHECK(kernels::batchnorm_fwd_eval_v1<T>(cptr<T>(x), cptr<T>(weight), cptr<T>(bias),
                                                       cptr<T>(running_mean), cptr<T>(running_var), mptr<T>(y), s, eps,
                                                       sms, stream(dev)));
    });
  };
  auto cudnn = [&] {
#ifdef GAN_WITH_CUDNN
    BnDescs d(x.dtype(), s);
    Affine af(weight, bias, x.dtype(), s.C, dev);
    BlendFactors bf(x.dtype());
    GAN_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
        cudnn_handle(dev), CUDNN_BATCHNORM_SPATIAL, bf.one(), bf.zero(), d.x.d, x.raw_data(), d.x.d, y.raw_data(),
        d.bn.d, af.w, af.b, running_mean.raw_data(), running_var.raw_data(), eps));
#else
    no_cudnn(c.op);
#endif
  };
  choose(c, cudnn_unsupported(s, eps, false), hand, cudnn);
}

void batch_norm_backward(const Tensor& dy, const kernels::NormAct& act, const Tensor& y, const Tensor& x,
                         const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx,
                         Tensor& dweight, Tensor& dbias) {
  const BnCall c("batch_norm backward", x);
  const BatchNormShape& s = c.s;
  const int dev = c.dev, sms = c.sms;
  auto hand = [&] {
    Workspace ws(kernels::batchnorm_workspace_bytes(s, sms), dev);
    GAN_DISPATCH_FLOAT(x.dtype(), c.op, [&] {
      using T = scalar_t;
      GAN_CUDA_CHECK(kernels::batchnorm_bwd_v1<T>(cptr<T>(dy), act, cptr<T>(y), cptr<T>(x), cptr<T>(weight),
                                                  cptr<T>(save_mean), cptr<T>(save_invstd), mptr<T>(dx),
                                                  mptr<T>(dweight), mptr<T>(dbias), s, ws.get(), sms, stream(dev)));
    });
  };
  auto cudnn = [&] {
#ifdef GAN_WITH_CUDNN
    BnDescs d(x.dtype(), s);
    const size_t es = dtype_size(x.dtype());
    // cuDNN writes every result; absent ones go to scratch.
    Workspace dx_tmp(dx.defined() ? 0 : x.nbytes(), dev);
    Workspace dw_tmp(dweight.defined() ? 0 : static_cast<size_t>(s.C) * es, dev);
    Workspace db_tmp(dbias.defined() ? 0 : static_cast<size_t>(s.C) * es, dev);
    const void* w = weight.defined() ? weight.raw_data() : ones(x.dtype(), s.C, dev);
    // The gradient reaching the normalised value: dy carried back through the activation first.
    Tensor gz = dy;
    if (act.kind != kernels::NormActKind::None) {
      gz = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
      binary(BinaryOp::LeakyReluBackward, dy, y, gz, act.kind == kernels::NormActKind::Relu ? 0.0 : act.slope);
    }
    BlendFactors bf(x.dtype());
    // eps only matters when cuDNN recomputes the statistics; the saved ones are passed.
    GAN_CUDNN_CHECK(cudnnBatchNormalizationBackward(
        cudnn_handle(dev), CUDNN_BATCHNORM_SPATIAL, bf.one(), bf.zero(), bf.one(), bf.zero(), d.x.d, x.raw_data(),
        d.x.d, gz.raw_data(), d.x.d, dx.defined() ? dx.raw_data() : dx_tmp.get(), d.bn.d, w,
        dweight.defined() ? dweight.raw_data() : dw_tmp.get(), dbias.defined() ? dbias.raw_data() : db_tmp.get(),
        1e-5, save_mean.raw_data(), save_invstd.raw_data()));
#else
    no_cudnn(c.op);
#endif
  };
  choose(c, cudnn_unsupported(s, 1e-5, true), hand, cudnn);
}

#ifdef GAN_WITH_CUDNN
#pragma GCC diagnostic pop
#endif

}  // namespace gan::cuda
