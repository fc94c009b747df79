// Optimizers with torch.optim's update rules, run as one fused primitive per step
// (engine/backend/optim.h: multi-tensor on CUDA).
//
// Each optimizer holds named parameters (the names of Module::named_parameters) and, per
// parameter, its state slots named as torch.optim names them ("exp_avg", "exp_avg_sq",
// "momentum_buffer", "square_avg") plus a step count. Parameters without a gradient are skipped
// and their step count does not advance, as in PyTorch. The state is exportable for checkpoints
// as "<param name>.<slot>" tensors and "<param name>.step" integers.
//
//   optim::Adam opt(G.named_parameters(), {.lr = 2e-4, .beta1 = 0.5});
//   opt.zero_grad(); loss.backward(); opt.step();
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  Optimizer(std::string kind, const NamedTensors& params);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Applies one update to every parameter that has a gradient.
  virtual void step() = 0;
  // Drops every gradient (set_to_none, PyTorch's default).
  void zero_grad();

  const std::string& kind() const { return kind_; }
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  size_t size() const { return params_.size(); }
  const std::string& param_name(size_t i) const { return params_[i].name; }

  // ---- state for checkpoints ----
  // "<param>.<slot>" -> tensor (only slots that exist: state is created on a parameter's first step).
  NamedTensors state_tensors() const;
  // "<param>.step" -> count, for every parameter that has stepped.
  std::vector<std::pair<std::string, int64_t>> state_counters() const;
  // Restores state written by state_tensors()/state_counters() of an optimizer of the same kind
  // over the same parameters. Checks names, shapes and completeness first (nothing changes on
  // error); messages name `source` and the entry. A parameter that has stepped (count > 0) must
  // bring every slot its update uses, and a slot without a step count is refused: either would
  // silently restart that parameter's moments. With `all_stepped` (the saved run made at least one
  // step), every parameter must have a count.
  void load_state(const std::map<std::string, Tensor>& tensors, const std::map<std::string, int64_t>& counters,
                  const std::string& source, bool all_stepped = false);

 protected:
  struct Param {
    std::string name;
    Tensor param;
    std::map<std::string, Tensor> slots;
    int64_t step = 0;
  };
  // The slot names this optimizer creates (for load_state validation).
  virtual std::vector<std::string> slot_names() const = 0;
  // The slots one update creates with these options (SGD without momentum: none).
  virtual std::vector<std::string> slots_in_use() const { return slot_names(); }
  // Parameters whose gradient is defined, checked to match the parameter's device/dtype/shape.
  std::vector<Param*> params_with_grad();
  Tensor& slot(Param& p, const std::string& name);  // zeros on first use

  std::string kind_;
  std::vector<Param> params_;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

// torch.optim.Adam (amsgrad = False): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps); weight decay added to g.
class Adam : public Optimizer {
 public:
  Adam(const NamedTensors& params, AdamOptions opt = {});
  void step() override;
  double lr() const override { return opt_.lr; }
  void set_lr(double lr) override { opt_.lr = lr; }
  const AdamOptions& options() const { return opt_; }

 protected:
  std::vector<std::string> slot_names() const override { return {"exp_avg", "exp_avg_sq"}; }

 private:
  AdamOptions opt_;
};

struct SgdOptions {
  double lr = 1e-2, momentum = 0.0, weight_decay = 0.0;
};

// torch.optim.SGD (dampening 0, no Nesterov): b = g on the first step, then b = mu b + g;
// p -= lr b (p -= lr g without momentum).
class SGD : public Optimizer {
 public:
  SGD(const NamedTensors& params, SgdOptions opt = {});
  void step() override;
  double lr() const override { return opt_.lr; }
  void set_lr(double lr) override { opt_.lr = lr; }

 protected:
  std::vector<std::string> slot_names() const override { return {"momentum_buffer"}; }
  std::vector<std::string> slots_in_use() const override {
    return opt_.momentum != 0 ? slot_names() : std::vector<std::string>{};
  }

 private:
  SgdOptions opt_;
};

struct RmspropOptions {
  double lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0.0, momentum = 0.0;
};

// torch.optim.RMSprop (centered = False): s = a s + (1 - a) g^2; with momentum
// b = mu b + g / (sqrt(s) + eps), p -= lr b; without, p -= lr g / (sqrt(s) + eps).
class RMSprop : public Optimizer {
 public:
  RMSprop(const NamedTensors& params, RmspropOptions opt = {});
  void step() override;
  double lr() const override { return opt_.lr; }
  void set_lr(double lr) override { opt_.lr = lr; }

 protected:
  std::vector<std::string> slot_names() const override { return {"square_avg", "momentum_buffer"}; }
  std::vector<std::string> slots_in_use() const override {
    if (opt_.momentum > 0) return slot_names();
    return {"square_avg"};
  }

 private:
  RmspropOptions opt_;
};

// torch.nn.utils.clip_grad_norm_: scales every gradient by min(1, max_norm / (total + 1e-6)),
// total being the L2 norm of all gradients together. Returns the total norm before clipping.
// Reads one scalar back from the device.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// p = clamp(p, -c, c) for every parameter (the original WGAN's weight clipping).
void clip_weights(const std::vector<Tensor>& params, double c);

}  // namespace gan::optim
