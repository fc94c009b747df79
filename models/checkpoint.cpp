#include "models/checkpoint.h"

#include <nlohmann/json.hpp>

namespace gan::models {

using nlohmann::json;

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

nn::StateValue state_value(const io::StoredTensor& t) {
  return t.is_integer() ? nn::StateValue::of_counter(t.to_int64()) : nn::StateValue::of(t.to_tensor());
}

std::string meta(const io::SafetensorsFile& f, const std::string& key, const std::string& src) {
  auto it = f.metadata.find(key);
  GAN_CHECK(it != f.metadata.end(), src << ": checkpoint metadata lacks '" << key << "'");
  return it->second;
}

json meta_json(const io::SafetensorsFile& f, const std::string& key, const std::string& src) {
  try {
    return json::parse(meta(f, key, src));
  } catch (const json::exception&) {
    GAN_FAIL(src << ": checkpoint metadata '" << key << "' is not valid JSON");
  }
}

int64_t parse_int(const std::string& s, const std::string& what, const std::string& src) {
  try {
    size_t pos;
    long long v = std::stoll(s, &pos);
    if (pos == s.size()) return v;
  } catch (...) {
  }
  GAN_FAIL(src << ": checkpoint metadata '" << what << "' is not an integer: '" << s << "'");
}

}  // namespace

io::SafetensorsFile write_checkpoint(const CheckpointState& s) {
  io::SafetensorsFile f;
  for (const auto& [name, net] : s.networks)
    for (const auto& [k, v] : net->state_dict()) {
      if (v.is_counter) f.add_int64(name + "." + k, v.counter);
      else f.add(name + "." + k, v.tensor);
    }
  for (const auto& [name, opt] : s.optimizers) {
    for (const auto& [k, t] : opt->state_tensors()) f.add("optim." + name + "." + k, t);
    for (const auto& [k, v] : opt->state_counters()) f.add_int64("optim." + name + "." + k, v);
  }
  f.metadata["format"] = kCheckpointFormat;
  f.metadata["format_version"] = "1";
  f.metadata["arch"] = s.config->model.arch;
  f.metadata["optimizer"] = s.optimizers.front().second->kind();
  f.metadata["step"] = std::to_string(s.step);
  f.metadata["config"] = to_json(*s.config).dump();
  f.metadata["loader"] = json{{"epoch", s.data.epoch}, {"position", s.data.position}}.dump();
  json rng{{"noise_seed", s.noise_seed}, {"noise_draws", s.noise_draws}};
  if (s.data.draws) rng["data_draws"] = *s.data.draws;
  f.metadata["rng"] = rng.dump();
  return f;
}

bool is_checkpoint(const io::SafetensorsFile& f) {
  auto fmt = f.metadata.find("format");
  return fmt != f.metadata.end() && fmt->second == kCheckpointFormat;
}

TrainConfig checkpoint_config(const io::SafetensorsFile& f, const std::string& src) {
  GAN_CHECK(is_checkpoint(f), src << ": not a checkpoint of this engine (no '" << kCheckpointFormat << "' metadata)");
  return parse_train_config(meta(f, "config", src), src + " metadata 'config'");
}

CheckpointState read_checkpoint(const io::SafetensorsFile& f, const CheckpointState& into, const std::string& src) {
  const TrainConfig saved = checkpoint_config(f, src), &cfg = *into.config;
  GAN_CHECK(to_json(saved.model) == to_json(cfg.model),
            src << ": checkpoint holds a " << saved.model.arch << " model " << to_json(saved.model).dump()
                << ", this run builds " << cfg.model.arch << " " << to_json(cfg.model).dump());
  const std::string kind = into.optimizers.front().second->kind();
  GAN_CHECK(meta(f, "optimizer", src) == kind,
            src << ": checkpoint optimizer is " << meta(f, "optimizer", src) << ", this run uses " << kind);
  CheckpointState out = into;
  out.step = parse_int(meta(f, "step", src), "step", src);
  GAN_CHECK(out.step >= 0, src << ": negative step " << out.step);
  json loader = meta_json(f, "loader", src), rng = meta_json(f, "rng", src);
  try {
    out.data.epoch = loader.at("epoch").get<int64_t>();
    out.data.position = loader.at("position").get<int64_t>();
    out.noise_seed = rng.at("noise_seed").get<uint64_t>();
    out.noise_draws = rng.at("noise_draws").get<uint64_t>();
    out.data.draws.reset();
    if (rng.contains("data_draws")) out.data.draws = rng.at("data_draws").get<uint64_t>();
  } catch (const json::exception&) {
    GAN_FAIL(src << ": checkpoint metadata 'loader' or 'rng' lacks its fields");
  }

  std::map<std::string, std::map<std::string, nn::StateValue>> nets;
  std::map<std::string, std::map<std::string, Tensor>> slots;
  std::map<std::string, std::map<std::string, int64_t>> counts;
  for (const auto& [name, t] : f.tensors) {
    bool known = false;
    for (const auto& [net, m] : into.networks)
      if (starts_with(name, net + ".")) {
        nets[net][name.substr(net.size() + 1)] = state_value(t);
        known = true;
      }
    for (const auto& [group, o] : into.optimizers)
      if (starts_with(name, "optim." + group + ".")) {
        std::string key = name.substr(group.size() + 7);
        if (t.is_integer()) counts[group][key] = t.to_int64();
        else slots[group][key] = t.to_tensor();
        known = true;
      }
    GAN_CHECK(known, src << ": unexpected tensor '" << name << "' in checkpoint");
  }
  for (const auto& [net, m] : into.networks) m->load_state_dict(nets[net], src);
  for (const auto& [group, o] : into.optimizers) o->load_state(slots[group], counts[group], src);
  return out;
}

bool has_network(const io::SafetensorsFile& f, const std::string& network) {
  const std::string prefix = network + ".";
  for (const auto& [name, t] : f.tensors)
    if (starts_with(name, prefix)) return true;
  return false;
}

std::map<std::string, nn::StateValue> network_state(const io::SafetensorsFile& f, const std::string& network,
                                                    const std::string& src) {
  const std::string prefix = network + ".";
  bool prefixed = false;
  for (const auto& [name, t] : f.tensors) prefixed |= starts_with(name, prefix);
  std::map<std::string, nn::StateValue> state;
  for (const auto& [name, t] : f.tensors) {
    if (!prefixed) state[name] = state_value(t);
    else if (starts_with(name, prefix)) state[name.substr(prefix.size())] = state_value(t);
  }
  GAN_CHECK(!state.empty(), src << ": holds no " << network << " tensors");
  return state;
}

}  // namespace gan::models
