// Modules: trees of layers that own named parameters and buffers, as torch.nn.Module does.
//
// Names follow PyTorch's state_dict exactly: a child registered as "main" holding a Sequential
// whose element 1 is a BatchNorm2d yields `main.1.weight`, `main.1.bias`, `main.1.running_mean`,
// `main.1.running_var` and `main.1.num_batches_tracked`, in PyTorch's order (each module's own
// parameters, then its own buffers, then its children in registration order). A state dict
// written here therefore loads into the equivalent PyTorch module with load_state_dict().
//
// num_batches_tracked is an int64 counter in PyTorch. It lives here as a host-side integer (a
// "counter") rather than a tensor, so that it never costs a device round trip; state_dict()
// reports it as an integer entry and checkpoints store it as an I64 tensor. Loading tolerates a
// missing counter, as PyTorch does for checkpoints that predate it.
//
//   auto net = std::make_shared<nn::Sequential>();
//   net->push_back(std::make_shared<nn::Linear>(784, 256, gen));
//   net->push_back(std::make_shared<nn::LeakyReLU>(0.2));
//   Tensor y = net->forward(x);            // x: [N, 784]
//   for (auto& [name, p] : net->named_parameters()) ...   // "0.weight", "0.bias"
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::nn {

// One entry of a state dict: a tensor (parameter or buffer) or an integer counter.
struct StateValue {
  Tensor tensor;           // undefined for counters
  bool is_counter = false;
  int64_t counter = 0;

  static StateValue of(Tensor t) { return {std::move(t), false, 0}; }
  static StateValue of_counter(int64_t v) { return {Tensor(), true, v}; }
};
using StateDict = std::vector<std::pair<std::string, StateValue>>;  // ordered as PyTorch's

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  // forward(x), then the forward hook (if any) sees the output. Containers call their children
  // this way, so a hook on a layer sees it wherever the layer sits. With a compute dtype set
  // (set_compute_dtype), a float32 x is cast to it first and a result in it is cast back.
  Tensor operator()(const Tensor& x) {
    const bool cast = compute_dtype_ != DType::Float32 && x.defined() && x.dtype() == DType::Float32;
    Tensor y = cast ? forward_in_compute_dtype(x) : forward(x);
    call_forward_hook(y);
    return y;
  }
  // --precision bf16: the whole network runs on bfloat16 activations from a float32 input and
  // gives float32 outputs (engine/nn/precision.h: how its layers treat their float32 parameters).
  // Set on the networks a recipe calls, not on their layers. Float32 (the default) casts nothing;
  // neither does any compute dtype on inputs other than float32 (float64 gradient checks).
  void set_compute_dtype(DType dtype) { compute_dtype_ = dtype; }
  DType compute_dtype() const { return compute_dtype_; }
  // One observer of this module's outputs (activation taps, e.g. `gan trace`); an empty function
  // removes it. A hook reads the output and must not change it.
  void set_forward_hook(std::function<void(const Tensor& out)> hook) { forward_hook_ = std::move(hook); }
  bool has_forward_hook() const { return static_cast<bool>(forward_hook_); }
  // What operator() does after forward: the hook, if any, sees `out`.
  void call_forward_hook(const Tensor& out) {
    if (forward_hook_) forward_hook_(out);
  }

  // Layer fusion: when this layer followed by `next` runs as one fused op on x, sets `out` to what
  // next(this(x)) gives (the same values) and returns true; Sequential then calls next's hook with
  // it. BatchNorm2d fuses a following ReLU / LeakyReLU in training (batch_norm_act), and Linear,
  // Conv2d and ConvTranspose2d with a bias fuse one in any mode (bias_act); the default fuses nothing.
  virtual bool forward_fused(Module& next, const Tensor& x, Tensor& out);

  // The PyTorch class name ("Linear", "BatchNorm2d"): init helpers match on it as
  // pytorch/examples' weights_init does.
  const std::string& type_name() const { return type_name_; }

  // ---- named tensors (names relative to this module) ----
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // Every descendant with its dotted path ("" for this module itself), pre-order.
  std::vector<std::pair<std::string, Module*>> named_modules();
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  int64_t num_parameters() const;

  // ---- state (checkpoints) ----
  StateDict state_dict() const;
  // Copies every entry into this module's tensors (any source device/dtype; shapes must match).
  // Strict: a missing or unexpected key, or a shape mismatch, throws naming `source` and the key.
  void load_state_dict(const std::map<std::string, StateValue>& state, const std::string& source);

  // ---- modes and housekeeping ----
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  // Turns requires_grad on or off for every parameter (freezing D during the generator step
  // skips D's weight gradients, which that step never uses).
  void set_requires_grad(bool on);
  // Moves every parameter and buffer to `device` in place: tensor handles held elsewhere (by an
  // optimizer, a layer) stay valid. Gradients are dropped.
  void to(Device device);
  Device device() const;
  // Calls fn on this module and every descendant, pre-order.
  void apply(const std::function<void(Module&)>& fn);
  // A PyTorch-like printout of the tree with parameter counts.
  std::string describe() const;

 protected:
  // The returned tensor is the handle the module keeps; layers keep copies of it (same impl).
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  // Gives parameter `from` the name `to` (spectral norm's weight -> weight_orig, as PyTorch's).
  void rename_parameter(const std::string& from, const std::string& to);
  void register_counter(const std::string& name, int64_t* value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  // One line of describe() for this module's own settings ("784, 256, bias=True").
  virtual std::string extra_repr() const { return ""; }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void check_new_name(const std::string& name) const;
  void collect_state(const std::string& prefix, StateDict& out) const;
  using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
  // Entries of `table` (params_ or buffers_) of this module and its descendants, dotted names.
  NamedTensors named_tensors(NamedTensors Module::*table) const;
  void describe_into(std::string& out, const std::string& name, int indent) const;

  Tensor forward_in_compute_dtype(const Tensor& x);

  std::string type_name_;
  DType compute_dtype_ = DType::Float32;
  std::function<void(const Tensor&)> forward_hook_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, int64_t*>> counters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Whether Sequential fuses adjacent layers (Module::forward_fused); on unless switched off. Fused
// and unfused runs give the same values: the switch is for benchmarks and tests that compare them.
void set_layer_fusion(bool on);
bool layer_fusion();
// Layer fusion on or off for a scope; the previous setting comes back at its end.
class LayerFusionScope {
 public:
  explicit LayerFusionScope(bool on) : before_(layer_fusion()) { set_layer_fusion(on); }
  ~LayerFusionScope() { set_layer_fusion(before_); }
  LayerFusionScope(const LayerFusionScope&) = delete;
  LayerFusionScope& operator=(const LayerFusionScope&) = delete;

 private:
  bool before_;
};

// Layers applied in order; children are named "0", "1", ... as in torch.nn.Sequential. Adjacent
// layers that fuse (Module::forward_fused) run as one op while layer_fusion() is on.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& layers);
  void push_back(std::shared_ptr<Module> m);
  size_t size() const { return children().size(); }
  Module& operator[](size_t i) const { return *children().at(i).second; }
  Tensor forward(const Tensor& x) override;
};

// Prefixes every key of a state dict ("generator." + "main.0.weight").
StateDict prefixed(const StateDict& sd, const std::string& prefix);

}  // namespace gan::nn
