// CPU optimizer updates, element by element in torch.optim's order of operations (so that a
// step matches PyTorch's float32 result, not only the formula).
#include "engine/backend/optim.h"

#include <algorithm>
#include <cmath>

#include "engine/cpu/parallel.h"

namespace gan::cpu {

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& exp_avg,
               const std::vector<Tensor>& exp_avg_sq, const AdamHyper& h) {
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(h.beta2, static_cast<double>(h.step)));
  for (size_t t = 0; t < params.size(); ++t) {
    GAN_DISPATCH_FLOAT(params[t].dtype(), "adam_step", [&] {
      using T = scalar_t;
      T* p = params[t].data<T>();
      const T* g = grads[t].data<T>();
      T* m = exp_avg[t].data<T>();
      T* v = exp_avg_sq[t].data<T>();
      const T b1c = T(1 - h.beta1), b2 = T(h.beta2), b2c = T(1 - h.beta2), wd = T(h.weight_decay);
      const T step_size = T(h.lr / bc1), bc2s = T(bc2_sqrt), eps = T(h.eps);
      parallel_for(params[t].numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          T gi = wd != T(0) ? g[i] + wd * p[i] : g[i];
          m[i] += b1c * (gi - m[i]);  // lerp, as torch
          v[i] = v[i] * b2 + b2c * gi * gi;
          T denom = std::sqrt(v[i]) / bc2s + eps;
          p[i] -= step_size * (m[i] / denom);
        }
      });
    });
  }
}

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buf, const SgdHyper& h) {
  for (size_t t = 0; t < params.size(); ++t) {
    GAN_DISPATCH_FLOAT(params[t].dtype(), "sgd_step", [&] {
      using T = scalar_t;
      T* p = params[t].data<T>();
      const T* g = grads[t].data<T>();
      T* buf = h.momentum != 0 ? momentum_buf[t].data<T>() : nullptr;
      const T lr = T(h.lr), mu = T(h.momentum), wd = T(h.weight_decay);
      const bool first = h.first_step;
      parallel_for(params[t].numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          T d = wd != T(0) ? g[i] + wd * p[i] : g[i];
          if (buf) {
            buf[i] = first ? d : buf[i] * mu + d;
            d = buf[i];
          }
          p[i] -= lr * d;
        }
      });
    });
  }
}

void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avg, const std::vector<Tensor>& momentum_buf,
                  const RmspropHyper& h) {
  for (size_t t = 0; t < params.size(); ++t) {
    GAN_DISPATCH_FLOAT(params[t].dtype(), "rmsprop_step", [&] {
      using T = scalar_t;
      T* p = params[t].data<T>();
      const T* g = grads[t].data<T>();
      T* s = square_avg[t].data<T>();
      T* buf = h.momentum > 0 ? momentum_buf[t].data<T>() : nullptr;
      const T lr = T(h.lr), alpha = T(h.alpha), ac = T(1 - h.alpha), eps = T(h.eps), wd = T(h.weight_decay),
              mu = T(h.momentum);
      parallel_for(params[t].numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          T gi = wd != T(0) ? g[i] + wd * p[i] : g[i];
          s[i] = s[i] * alpha + ac * gi * gi;
          T avg = std::sqrt(s[i]) + eps;
          if (buf) {
            buf[i] = buf[i] * mu + gi / avg;
            p[i] -= lr * buf[i];
          } else {
            p[i] -= lr * (gi / avg);
          }
        }
      });
    });
  }
}

void clamp_params(const std::vector<Tensor>& params, double c) {
  for (const Tensor& t : params) {
    GAN_DISPATCH_FLOAT(t.dtype(), "clamp_params", [&] {
      using T = scalar_t;
      T* p = t.data<T>();
      const T lo = T(-c), hi = T(c);
      parallel_for(t.numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) p[i] = std::min(std::max(p[i], lo), hi);
      });
    });
  }
}

}  // namespace gan::cpu
