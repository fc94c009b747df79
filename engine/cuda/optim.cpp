// CUDA optimizer steps: the tensor lists become host arrays of device pointers, and one multi-tensor
// launch updates them all (kernels/optim.cu).
#include "engine/backend/optim.h"

#include "engine/cuda/launch_utils.h"
#include "kernels/optim.cuh"

namespace gan::cuda {

namespace {

// Device pointers of a tensor list (null for undefined entries or an empty list).
template <class T>
std::vector<T*> pointers(const std::vector<Tensor>& ts, size_t count) {
  std::vector<T*> p(count, nullptr);
  for (size_t i = 0; i < ts.size() && i < count; ++i)
    if (ts[i].defined()) p[i] = ts[i].data<T>();
  return p;
}

std::vector<int64_t> sizes(const std::vector<Tensor>& ts) {
  std::vector<int64_t> n(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) n[i] = ts[i].numel();
  return n;
}

}  // namespace

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& exp_avg,
               const std::vector<Tensor>& exp_avg_sq, const AdamHyper& h) {
  if (params.empty()) return;
  optim_checks::adam(params, grads, exp_avg, exp_avg_sq, h);
  OnDevice on(params[0]);
  const size_t n = params.size();
  auto numel = sizes(params);
  const kernels::AdamArgs a{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.step, h.step_on_device};
  GAN_DISPATCH_FLOAT(params[0].dtype(), "adam_step", [&] {
    using T = scalar_t;
    auto p = pointers<T>(params, n), g = pointers<T>(grads, n), m = pointers<T>(exp_avg, n),
         v = pointers<T>(exp_avg_sq, n);
    std::vector<const T*> gc(g.begin(), g.end());
    GAN_CUDA_CHECK(kernels::adam_step<T>(p.data(), gc.data(), m.data(), v.data(), numel.data(), static_cast<int>(n), a,
                                         on.stream));
  });
}

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buf, const SgdHyper& h) {
  if (params.empty()) return;
  optim_checks::sgd(params, grads, momentum_buf, h);
  OnDevice on(params[0]);
  const size_t n = params.size();
  auto numel = sizes(params);
  const kernels::SgdArgs a{h.lr, h.momentum, h.weight_decay, h.first_step, h.lr_on_device};
  GAN_DISPATCH_FLOAT(params[0].dtype(), "sgd_step", [&] {
    using T = scalar_t;
    auto p = pointers<T>(params, n), g = pointers<T>(grads, n), b = pointers<T>(momentum_buf, n);
    std::vector<const T*> gc(g.begin(), g.end());
    GAN_CUDA_CHECK(kernels::sgd_step<T>(p.data(), gc.data(), b.data(), numel.data(), static_cast<int>(n), a, on.stream));
  });
}

void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avg, const std::vector<Tensor>& momentum_buf,
                  const RmspropHyper& h) {
  if (params.empty()) return;
  optim_checks::rmsprop(params, grads, square_avg, momentum_buf, h);
  OnDevice on(params[0]);
  const size_t n = params.size();
  auto numel = sizes(params);
  const kernels::RmspropArgs a{h.lr, h.alpha, h.eps, h.weight_decay, h.momentum, h.lr_on_device};
  GAN_DISPATCH_FLOAT(params[0].dtype(), "rmsprop_step", [&] {
    using T = scalar_t;
    auto p = pointers<T>(params, n), g = pointers<T>(grads, n), sq = pointers<T>(square_avg, n),
         b = pointers<T>(momentum_buf, n);
    std::vector<const T*> gc(g.begin(), g.end());
    GAN_CUDA_CHECK(kernels::rmsprop_step<T>(p.data(), gc.data(), sq.data(), b.data(), numel.data(), static_cast<int>(n),
                                            a, on.stream));
  });
}

void clamp_params(const std::vector<Tensor>& params, double c) {
  if (params.empty()) return;
  optim_checks::clamp(c);
  OnDevice on(params[0]);
  auto numel = sizes(params);
  GAN_DISPATCH_FLOAT(params[0].dtype(), "clamp_params", [&] {
    auto p = pointers<scalar_t>(params, params.size());
    GAN_CUDA_CHECK(kernels::clamp_params<scalar_t>(p.data(), numel.data(), static_cast<int>(params.size()), c, on.stream));
  });
}

}  // namespace gan::cuda
