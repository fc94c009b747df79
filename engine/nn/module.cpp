#include "engine/nn/module.h"

#include <atomic>
#include <set>
#include <sstream>

#include "engine/autograd/grad_mode.h"

namespace gan::nn {

void Module::check_new_name(const std::string& name) const {
  GAN_CHECK(!name.empty() && name.find('.') == std::string::npos,
            type_name_ << ": invalid member name '" << name << "' (must be non-empty, without '.')");
  auto taken = [&](const auto& list) {
    for (const auto& e : list)
      if (e.first == name) return true;
    return false;
  };
  GAN_CHECK(!taken(params_) && !taken(buffers_) && !taken(counters_) && !taken(children_),
            type_name_ << ": member name '" << name << "' registered twice");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name(name);
  GAN_CHECK(t.defined(), type_name_ << ": parameter '" << name << "' is undefined");
  GAN_CHECK(t.is_leaf(), type_name_ << ": parameter '" << name << "' must be a leaf tensor");
  t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

void Module::rename_parameter(const std::string& from, const std::string& to) {
  check_new_name(to);
  for (auto& [name, t] : params_)
    if (name == from) {
      name = to;
      return;
    }
  GAN_FAIL(type_name_ << ": no parameter '" << from << "' to rename");
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name);
  GAN_CHECK(t.defined(), type_name_ << ": buffer '" << name << "' is undefined");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::register_counter(const std::string& name, int64_t* value) {
  check_new_name(name);
  counters_.emplace_back(name, value);
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name);
  GAN_CHECK(m, type_name_ << ": child module '" << name << "' is null");
  children_.emplace_back(name, std::move(m));
}

static std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  std::function<void(const std::string&, Module*)> walk = [&](const std::string& prefix, Module* m) {
    out.emplace_back(prefix, m);
    for (auto& [n, c] : m->children_) walk(join(prefix, n), c.get());
  };
  walk("", this);
  return out;
}

Module::NamedTensors Module::named_tensors(NamedTensors Module::*table) const {
  NamedTensors out;
  std::function<void(const std::string&, const Module*)> walk = [&](const std::string& prefix, const Module* m) {
    for (const auto& [n, t] : m->*table) out.emplace_back(join(prefix, n), t);
    for (const auto& [n, c] : m->children_) walk(join(prefix, n), c.get());
  };
  walk("", this);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const { return named_tensors(&Module::params_); }

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const { return named_tensors(&Module::buffers_); }

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

// PyTorch's Module._save_to_state_dict order: parameters, then buffers (counters are buffers
// there, registered after running_var), then children.
void Module::collect_state(const std::string& prefix, StateDict& out) const {
  for (const auto& [n, t] : params_) out.emplace_back(join(prefix, n), StateValue::of(t));
  for (const auto& [n, t] : buffers_) out.emplace_back(join(prefix, n), StateValue::of(t));
  for (const auto& [n, v] : counters_) out.emplace_back(join(prefix, n), StateValue::of_counter(*v));
  for (const auto& [n, c] : children_) c->collect_state(join(prefix, n), out);
}

StateDict Module::state_dict() const {
  StateDict out;
  collect_state("", out);
  return out;
}

void Module::load_state_dict(const std::map<std::string, StateValue>& state, const std::string& source) {
  // Check everything first so that a bad file leaves the module untouched.
  std::set<std::string> expected;
  std::function<void(const std::string&, Module*)> check = [&](const std::string& prefix, Module* m) {
    auto check_tensor = [&](const std::string& n, const Tensor& t) {
      std::string key = join(prefix, n);
      expected.insert(key);
      auto it = state.find(key);
      GAN_CHECK(it != state.end(), source << ": missing tensor '" << key << "' (expected shape "
                                          << shape_str(t.shape()) << ")");
      GAN_CHECK(!it->second.is_counter && it->second.tensor.defined(),
                source << ": '" << key << "' is an integer, expected a tensor of shape " << shape_str(t.shape()));
      GAN_CHECK(it->second.tensor.shape() == t.shape(), source << ": tensor '" << key << "' has shape "
                                                               << shape_str(it->second.tensor.shape())
                                                               << ", the model expects " << shape_str(t.shape()));
    };
    for (auto& [n, t] : m->params_) check_tensor(n, t);
    for (auto& [n, t] : m->buffers_) check_tensor(n, t);
    for (auto& [n, v] : m->counters_) {
      std::string key = join(prefix, n);
      expected.insert(key);
      auto it = state.find(key);
      if (it != state.end())
        GAN_CHECK(it->second.is_counter || (it->second.tensor.defined() && it->second.tensor.numel() == 1),
                  source << ": '" << key << "' should be a single integer");
    }
    for (auto& [n, c] : m->children_) check(join(prefix, n), c.get());
  };
  check("", this);
  for (const auto& [key, v] : state)
    GAN_CHECK(expected.count(key), source << ": unexpected entry '" << key << "' (not part of this " << type_name_
                                          << ")");

  NoGradGuard no_grad;
  std::function<void(const std::string&, Module*)> load = [&](const std::string& prefix, Module* m) {
    for (auto& [n, t] : m->params_) t.copy_(state.at(join(prefix, n)).tensor);
    for (auto& [n, t] : m->buffers_) t.copy_(state.at(join(prefix, n)).tensor);
    for (auto& [n, v] : m->counters_) {
      auto it = state.find(join(prefix, n));
      if (it == state.end()) continue;
      *v = it->second.is_counter ? it->second.counter : static_cast<int64_t>(it->second.tensor.item());
    }
    for (auto& [n, c] : m->children_) load(join(prefix, n), c.get());
  };
  load("", this);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& [n, p] : named_parameters()) p.zero_grad();
}

void Module::set_requires_grad(bool on) {
  for (auto& [n, p] : named_parameters()) p.requires_grad_(on);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  auto move = [&](Tensor& t) {
    if (t.device() == device) return;
    Tensor moved = t.detach().to(device);
    t.impl().storage = moved.impl().storage;
    t.impl().offset = moved.impl().offset;
    t.zero_grad();
  };
  apply([&](Module& m) {
    for (auto& [n, t] : m.params_) move(t);
    for (auto& [n, t] : m.buffers_) move(t);
  });
}

Device Module::device() const {
  for (const auto& [n, p] : named_parameters()) return p.device();
  for (const auto& [n, b] : named_buffers()) return b.device();
  return Device::cpu();
}

void Module::apply(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [n, c] : children_) c->apply(fn);
}

void Module::describe_into(std::string& out, const std::string& name, int indent) const {
  std::string pad(static_cast<size_t>(indent) * 2, ' ');
  out += pad + (name.empty() ? "" : "(" + name + "): ") + type_name_ + "(" + extra_repr();
  if (children_.empty()) {
    out += ")\n";
    return;
  }
  out += "\n";
  for (const auto& [n, c] : children_) c->describe_into(out, n, indent + 1);
  out += pad + ")\n";
}

std::string Module::describe() const {
  std::string out;
  describe_into(out, "", 0);
  std::ostringstream os;
  os << "parameters: " << num_parameters() << "\n";
  return out + os.str();
}

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& layers) : Sequential() {
  for (auto& l : layers) push_back(l);
}

void Sequential::push_back(std::shared_ptr<Module> m) {
  register_module(std::to_string(children().size()), std::move(m));
}

bool Module::forward_fused(Module&, const Tensor&, Tensor&) { return false; }

Tensor Module::forward_in_compute_dtype(const Tensor& x) {
  Tensor y = forward(x.to(compute_dtype_));
  return y.dtype() == compute_dtype_ ? y.to(x.dtype()) : y;
}

namespace {
std::atomic<bool> g_layer_fusion{true};
}

void set_layer_fusion(bool on) { g_layer_fusion.store(on); }
bool layer_fusion() { return g_layer_fusion.load(); }

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  const auto& layers = children();
  const bool fuse = layer_fusion();
  for (size_t i = 0; i < layers.size(); ++i) {
    Module& layer = *layers[i].second;
    Tensor fused;
    if (fuse && i + 1 < layers.size() && layer.forward_fused(*layers[i + 1].second, y, fused)) {
      layers[++i].second->call_forward_hook(fused);
      y = fused;
      continue;
    }
    y = layer(y);
  }
  return y;
}

StateDict prefixed(const StateDict& sd, const std::string& prefix) {
  StateDict out;
  out.reserve(sd.size());
  for (const auto& [k, v] : sd) out.emplace_back(prefix + k, v);
  return out;
}

}  // namespace gan::nn
