// CPU optimizer steps: the reference for the CUDA multi-tensor kernels. Formulas follow torch.optim
// (single-tensor path) operation by operation, computed in the parameters' dtype.
#include "engine/backend/optim.h"

#include <cmath>

#include "engine/cpu/parallel.h"

namespace gan::cpu {

namespace {

// Applies f(i, ptrs...) over every element of every tensor, each tensor split across threads.
template <class F>
void for_each_param(const std::vector<Tensor>& params, F f) {
  for (size_t t = 0; t < params.size(); ++t)
    parallel_for(params[t].numel(), [&](int64_t b, int64_t e) { f(t, b, e); });
}

// One chunk of the Adam update, a function of its own with restrict pointers and hyperparameters by
// value: inside the parallel lambda the captured-by-reference scalars may alias the stored arrays
// and the loop stayed scalar (a third of the MLP GAN step's instructions). sqrt vectorises only
// because the CPU backend is built with -fno-math-errno (engine/CMakeLists.txt).
template <class T>
void adam_range(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t b, int64_t e, T b1,
                T omb1, T b2, T omb2, T eps, T wd, T step_size, T bc2_sqrt) {
  for (int64_t i = b; i < e; ++i) {
    T gi = g[i];
    if (wd != T(0)) gi = gi + wd * p[i];
    m[i] = b1 * m[i] + omb1 * gi;
    v[i] = b2 * v[i] + omb2 * (gi * gi);
    const T denom = std::sqrt(v[i]) / bc2_sqrt + eps;
    p[i] = p[i] - step_size * (m[i] / denom);
  }
}

}  // namespace

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& exp_avg,
               const std::vector<Tensor>& exp_avg_sq, const AdamHyper& h) {
  GAN_CHECK(!h.step_on_device, "adam_step: the CPU backend takes its step values from the host only");
  if (params.empty()) return;
  optim_checks::adam(params, grads, exp_avg, exp_avg_sq, h);
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(h.step));
  GAN_DISPATCH_FLOAT(params[0].dtype(), "adam_step", [&] {
    using T = scalar_t;
    const T b1 = T(h.beta1), omb1 = T(1.0 - h.beta1), b2 = T(h.beta2), omb2 = T(1.0 - h.beta2), eps = T(h.eps),
            wd = T(h.weight_decay), step_size = T(h.lr / bc1), bc2_sqrt = T(std::sqrt(bc2));
    for_each_param(params, [&](size_t t, int64_t b, int64_t e) {
      adam_range(params[t].data<T>(), grads[t].data<T>(), exp_avg[t].data<T>(), exp_avg_sq[t].data<T>(), b, e, b1,
                 omb1, b2, omb2, eps, wd, step_size, bc2_sqrt);
    });
  });
}

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buf, const SgdHyper& h) {
  GAN_CHECK(!h.lr_on_device, "sgd_step: the CPU backend takes its learning rate from the host only");
  if (params.empty()) return;
  const bool use_momentum = h.momentum != 0.0;
  optim_checks::sgd(params, grads, momentum_buf, h);
  GAN_DISPATCH_FLOAT(params[0].dtype(), "sgd_step", [&] {
    using T = scalar_t;
    const T lr = T(h.lr), mom = T(h.momentum), wd = T(h.weight_decay);
    for_each_param(params, [&](size_t t, int64_t b, int64_t e) {
      T* p = params[t].data<T>();
      const T* g = grads[t].data<T>();
      T* buf = use_momentum ? momentum_buf[t].data<T>() : nullptr;
      for (int64_t i = b; i < e; ++i) {
        T gi = g[i];
        if (wd != T(0)) gi = gi + wd * p[i];
        if (use_momentum) {
          buf[i] = h.first_step ? gi : mom * buf[i] + gi;
          gi = buf[i];
        }
        p[i] = p[i] - lr * gi;
      }
    });
  });
}

void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avg, const std::vector<Tensor>& momentum_buf,
                  const RmspropHyper& h) {
  GAN_CHECK(!h.lr_on_device, "rmsprop_step: the CPU backend takes its learning rate from the host only");
  if (params.empty()) return;
  const bool use_momentum = h.momentum > 0.0;
  optim_checks::rmsprop(params, grads, square_avg, momentum_buf, h);
  GAN_DISPATCH_FLOAT(params[0].dtype(), "rmsprop_step", [&] {
    using T = scalar_t;
    const T lr = T(h.lr), alpha = T(h.alpha), oma = T(1.0 - h.alpha), eps = T(h.eps), wd = T(h.weight_decay),
            mom = T(h.momentum);
    for_each_param(params, [&](size_t t, int64_t b, int64_t e) {
      T* p = params[t].data<T>();
      const T* g = grads[t].data<T>();
      T* sq = square_avg[t].data<T>();
      T* buf = use_momentum ? momentum_buf[t].data<T>() : nullptr;
      for (int64_t i = b; i < e; ++i) {
        T gi = g[i];
        if (wd != T(0)) gi = gi + wd * p[i];
        sq[i] = alpha * sq[i] + oma * (gi * gi);
        const T avg = std::sqrt(sq[i]) + eps;
        if (use_momentum) {
          buf[i] = mom * buf[i] + gi / avg;
          p[i] = p[i] - lr * buf[i];
        } else {
          p[i] = p[i] - lr * (gi / avg);
        }
      }
    });
  });
}

void clamp_params(const std::vector<Tensor>& params, double c) {
  if (params.empty()) return;
  optim_checks::clamp(c);
  GAN_DISPATCH_FLOAT(params[0].dtype(), "clamp_params", [&] {
    using T = scalar_t;
    const T hi = T(c), lo = T(-c);
    for_each_param(params, [&](size_t t, int64_t b, int64_t e) {
      T* p = params[t].data<T>();
      for (int64_t i = b; i < e; ++i) p[i] = std::min(std::max(p[i], lo), hi);
    });
  });
}

}  // namespace gan::cpu
