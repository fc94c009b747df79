#include "engine/optim/optimizer.h"

#include <cmath>
#include <set>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/optim.h"
#include "engine/capture/step_graph.h"
#include "engine/ops/ops.h"

namespace gan::optim {

Optimizer::Optimizer(std::string kind, const NamedTensors& params) : kind_(std::move(kind)) {
  std::set<std::string> seen;
  for (const auto& [name, p] : params) {
    GAN_CHECK(p.defined(), kind_ << ": parameter '" << name << "' is undefined");
    GAN_CHECK(p.is_leaf(), kind_ << ": parameter '" << name << "' is not a leaf tensor");
    GAN_CHECK(seen.insert(name).second, kind_ << ": parameter name '" << name << "' given twice");
    if (!params_.empty())
      check_same_device_dtype(kind_.c_str(), {&params_.front().param, &p});
    params_.push_back({name, p, {}, 0});
  }
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.param.zero_grad();
}

std::vector<Optimizer::Param*> Optimizer::params_with_grad() {
  std::vector<Param*> out;
  for (auto& p : params_) {
    Tensor g = p.param.grad();
    if (!g.defined()) continue;
    GAN_CHECK(g.shape() == p.param.shape() && g.device() == p.param.device() && g.dtype() == p.param.dtype(),
              kind_ << ": gradient " << g.str() << " does not match parameter '" << p.name << "' " << p.param.str());
    out.push_back(&p);
  }
  return out;
}

Tensor& Optimizer::slot(Param& p, const std::string& name) {
  auto it = p.slots.find(name);
  if (it == p.slots.end())
    it = p.slots.emplace(name, Tensor::zeros(p.param.shape(), p.param.dtype(), p.param.device())).first;
  return it->second;
}

NamedTensors Optimizer::state_tensors() const {
  NamedTensors out;
  for (const auto& p : params_)
    for (const auto& s : slot_names()) {
      auto it = p.slots.find(s);
      if (it != p.slots.end()) out.emplace_back(p.name + "." + s, it->second);
    }
  return out;
}

std::vector<std::pair<std::string, int64_t>> Optimizer::state_counters() const {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& p : params_)
    if (p.step > 0) out.emplace_back(p.name + ".step", p.step);
  return out;
}

void Optimizer::load_state(const std::map<std::string, Tensor>& tensors, const std::map<std::string, int64_t>& counters,
                           const std::string& source, bool all_stepped) {
  std::set<std::string> known;
  for (const auto& p : params_) {
    for (const auto& s : slot_names()) {
      std::string key = p.name + "." + s;
      known.insert(key);
      auto it = tensors.find(key);
      if (it != tensors.end())
        GAN_CHECK(it->second.shape() == p.param.shape(), source << ": optimizer state '" << key << "' has shape "
                                                                << shape_str(it->second.shape())
                                                                << ", the parameter has "
                                                                << shape_str(p.param.shape()));
    }
    known.insert(p.name + ".step");
    auto c = counters.find(p.name + ".step");
    const int64_t steps = c == counters.end() ? 0 : c->second;
    if (c != counters.end()) GAN_CHECK(c->second > 0, source << ": " << kind_ << " step count '" << p.name << ".step' is "
                                                             << c->second << ", expected a positive count");
    for (const auto& s : slot_names()) {
      const bool has = tensors.count(p.name + "." + s) > 0;
      GAN_CHECK(!has || steps > 0, source << ": " << kind_ << " state '" << p.name << "." << s
                                          << "' has no step count '" << p.name << ".step'");
    }
    GAN_CHECK(!all_stepped || steps > 0, source << ": " << kind_ << " state lacks '" << p.name
                                                << ".step' (the run has trained, so every parameter has a step count)");
    if (steps > 0)
      for (const auto& s : slots_in_use())
        GAN_CHECK(tensors.count(p.name + "." + s), source << ": " << kind_ << " state lacks '" << p.name << "." << s
                                                          << "' (shape " << shape_str(p.param.shape()) << ") of a parameter that has made "
                                                          << steps << " step(s)");
  }
  for (const auto& [k, t] : tensors)
    GAN_CHECK(known.count(k), source << ": unexpected " << kind_ << " state '" << k << "'");
  for (const auto& [k, v] : counters)
    GAN_CHECK(known.count(k), source << ": unexpected " << kind_ << " state '" << k << "'");

  NoGradGuard no_grad;
  for (auto& p : params_) {
    p.slots.clear();
    for (const auto& s : slot_names()) {
      auto it = tensors.find(p.name + "." + s);
      if (it == tensors.end()) continue;
      Tensor t = Tensor::empty(p.param.shape(), p.param.dtype(), p.param.device());
      t.copy_(it->second);
      p.slots.emplace(s, t);
    }
    auto c = counters.find(p.name + ".step");
    p.step = c == counters.end() ? 0 : c->second;
  }
}

// ---- Adam ----

Adam::Adam(const NamedTensors& params, AdamOptions opt) : Optimizer("Adam", params), opt_(opt) {
  GAN_CHECK(opt.lr >= 0 && opt.eps >= 0 && opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1 &&
                opt.weight_decay >= 0,
            "Adam: invalid options lr=" << opt.lr << " betas=(" << opt.beta1 << ", " << opt.beta2
                                        << ") eps=" << opt.eps << " weight_decay=" << opt.weight_decay);
}

void Adam::step() {
  // Bias correction depends on each parameter's own step count, so parameters are grouped by it
  // (one group in practice).
  std::map<int64_t, std::vector<Param*>> groups;
  for (Param* p : params_with_grad()) groups[p->step + 1].push_back(p);
  for (auto& [t, ps] : groups) {
    std::vector<Tensor> params, grads, m, v;
    for (Param* p : ps) {
      params.push_back(p->param);
      grads.push_back(p->param.grad());
      m.push_back(slot(*p, "exp_avg"));
      v.push_back(slot(*p, "exp_avg_sq"));
      p->step = t;
    }
    AdamHyper h{opt_.lr, opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay, t};
    const Device device = params.front().device();
    if (step_recording(device))  // each replay: these parameters' next step, at the lr set by then
      h.step_on_device = replay_value<AdamStepScalars>(device, kernels::adam_step_scalars(h.lr, h.beta1, h.beta2, t),
                                                       [this, ps = ps] {
                                                         for (Param* p : ps) ++p->step;
                                                         return kernels::adam_step_scalars(opt_.lr, opt_.beta1,
                                                                                           opt_.beta2, ps.front()->step);
                                                       });
    GAN_BACKEND(device, adam_step, params, grads, m, v, h);
  }
}

// ---- SGD ----

SGD::SGD(const NamedTensors& params, SgdOptions opt) : Optimizer("SGD", params), opt_(opt) {
  GAN_CHECK(opt.lr >= 0 && opt.momentum >= 0 && opt.weight_decay >= 0,
            "SGD: invalid options lr=" << opt.lr << " momentum=" << opt.momentum
                                       << " weight_decay=" << opt.weight_decay);
}

void SGD::step() {
  // The primitive's first_step flag is per call: parameters whose buffer exists and those that
  // start one now go in separate calls.
  std::vector<Tensor> params[2], grads[2], bufs[2];
  for (Param* p : params_with_grad()) {
    bool first = opt_.momentum != 0 && !p->slots.count("momentum_buffer");
    params[first].push_back(p->param);
    grads[first].push_back(p->param.grad());
    bufs[first].push_back(opt_.momentum != 0 ? slot(*p, "momentum_buffer") : Tensor());
    ++p->step;
  }
  for (int first = 0; first < 2; ++first) {
    if (params[first].empty()) continue;
    SgdHyper h{opt_.lr, opt_.momentum, opt_.weight_decay, first == 1};
    const Device device = params[first].front().device();
    if (step_recording(device)) {
      // A replay has every momentum buffer, so a recording made with first-step parameters would
      // replay their first step forever: the trainer records after warm-up steps.
      GAN_CHECK(first == 0, "SGD: a step being recorded starts a momentum buffer (record after a first step)");
      h.lr_on_device = replay_value<double>(device, h.lr, [this] { return opt_.lr; });
    }
    GAN_BACKEND(device, sgd_step, params[first], grads[first], bufs[first], h);
  }
  if (!params[0].empty() && step_recording(params[0].front().device()))
    on_replay(params[0].front().device(), [stepped = params_with_grad()] {
      for (Param* p : stepped) ++p->step;
    });
}

// ---- RMSprop ----

RMSprop::RMSprop(const NamedTensors& params, RmspropOptions opt) : Optimizer("RMSprop", params), opt_(opt) {
  GAN_CHECK(opt.lr >= 0 && opt.alpha >= 0 && opt.eps >= 0 && opt.momentum >= 0 && opt.weight_decay >= 0,
            "RMSprop: invalid options lr=" << opt.lr << " alpha=" << opt.alpha << " eps=" << opt.eps
                                           << " momentum=" << opt.momentum << " weight_decay=" << opt.weight_decay);
}

void RMSprop::step() {
  std::vector<Tensor> params, grads, sq, bufs;
  for (Param* p : params_with_grad()) {
    params.push_back(p->param);
    grads.push_back(p->param.grad());
    sq.push_back(slot(*p, "square_avg"));
    bufs.push_back(opt_.momentum > 0 ? slot(*p, "momentum_buffer") : Tensor());
    ++p->step;
  }
  if (params.empty()) return;
  RmspropHyper h{opt_.lr, opt_.alpha, opt_.eps, opt_.weight_decay, opt_.momentum};
  const Device device = params.front().device();
  if (step_recording(device)) {
    std::vector<Param*> stepped = params_with_grad();
    h.lr_on_device = replay_value<double>(device, h.lr, [this, stepped] {
      for (Param* p : stepped) ++p->step;
      return opt_.lr;
    });
  }
  GAN_BACKEND(device, rmsprop_step, params, grads, sq, bufs, h);
}

// ---- clipping ----

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  NoGradGuard no_grad;
  Tensor total;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor s = sum(square(g.to(DType::Float64)));
    total = total.defined() ? add(total, s) : s;
  }
  if (!total.defined()) return 0.0;
  double norm = std::sqrt(total.item());
  double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      // A fresh tensor rather than an in-place scale: the gradient may share storage with
      // another tensor of the graph.
      if (!g.defined()) continue;
      Tensor handle = p;
      handle.set_grad(mul(g, coef));
    }
  return norm;
}

void clip_weights(const std::vector<Tensor>& params, double c) {
  GAN_CHECK(c > 0, "clip_weights: clip value must be positive, got " << c);
  if (params.empty()) return;
  GAN_BACKEND(params.front().device(), clamp_params, params, c);
}

}  // namespace gan::optim
