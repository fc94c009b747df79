#include "models/checkpoint.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "engine/core/parse.h"

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

// The metadata step: a decimal integer in [0, 2^63).
int64_t parse_step(const std::string& s, const std::string& src) {
  const std::optional<int64_t> v = parse_int64(s);
  const bool digits = s.size() > (s[0] == '-' ? 1u : 0u) && s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) == std::string::npos;
  GAN_CHECK(v || !digits, src << ": checkpoint metadata 'step' is " << s << ", out of range (expected 0 to "
                              << std::numeric_limits<int64_t>::max() << ")");
  GAN_CHECK(v, src << ": checkpoint metadata 'step' is not an integer: '" << s << "'");
  GAN_CHECK(*v >= 0, src << ": checkpoint metadata 'step' is " << *v << ", expected a count of steps >= 0");
  return *v;
}

// A counter in the 'loader' or 'rng' metadata: a JSON integer >= 0 (a negative, fractional or
// string value would wrap or truncate silently when read as an unsigned number), and below `limit`.
uint64_t meta_count(const json& j, const char* object, const char* field, uint64_t limit, const std::string& src) {
  GAN_CHECK(j.is_object() && j.contains(field), src << ": checkpoint metadata '" << object << "' lacks '" << field << "'");
  const json& v = j.at(field);
  GAN_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
            src << ": checkpoint metadata '" << object << "." << field << "' is " << v.dump()
                << ", expected an integer >= 0");
  const uint64_t u = v.get<uint64_t>();
  GAN_CHECK(u < limit, src << ": checkpoint metadata '" << object << "." << field << "' is " << u
                           << ", out of range (expected below " << limit << ")");
  return u;
}

// The first value of a float tensor that is NaN or infinite, as (index, value).
std::optional<std::pair<int64_t, double>> first_non_finite(const io::StoredTensor& t) {
  if (t.is_integer()) return std::nullopt;
  const int64_t n = numel_of(t.shape);
  if (t.dtype == "F32" || t.dtype == "F64") {
    const size_t size = t.dtype == "F32" ? 4 : 8;
    for (int64_t i = 0; i < n; ++i) {
      double v;
      if (size == 4) {
        float f;
        std::memcpy(&f, t.data.data() + i * 4, 4);
        v = f;
      } else {
        std::memcpy(&v, t.data.data() + i * 8, 8);
      }
      if (!std::isfinite(v)) return std::make_pair(i, v);
    }
    return std::nullopt;
  }
  const std::vector<double> v = t.to_tensor().to_double_vector();  // F16, BF16
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return std::make_pair(static_cast<int64_t>(i), v[i]);
  return std::nullopt;
}

// NaN or infinity in weights or optimizer moments is never a state worth loading: it samples grey
// images, scores NaN and keeps a resumed run NaN. Refused naming the tensor.
void check_finite(const std::string& name, const io::StoredTensor& t, const std::string& src) {
  if (auto bad = first_non_finite(t))
    GAN_FAIL(src << ": tensor '" << name << "' holds " << (std::isnan(bad->second) ? "NaN" : bad->second > 0 ? "+inf" : "-inf")
                 << " at element " << bad->first << " of " << numel_of(t.shape)
                 << "; expected finite values (the file is damaged, or was saved from a diverged run)");
}

// Optimizer entries: "<param>.step" an integer count, every other one a float32 tensor like the
// parameters (an integer moment would be truncated, a count stored as float mistaken for a slot).
void check_optim_dtype(const std::string& name, const io::StoredTensor& t, const std::string& src) {
  const bool count = name.size() > 5 && name.compare(name.size() - 5, 5, ".step") == 0;
  if (count)
    GAN_CHECK(t.is_integer() && numel_of(t.shape) == 1,
              src << ": optimizer step count '" << name << "' is " << t.dtype << " of shape " << shape_str(t.shape)
                  << ", expected one integer (I64)");
  else
    GAN_CHECK(t.dtype == "F32", src << ": optimizer state '" << name << "' is " << t.dtype << " of shape "
                                    << shape_str(t.shape) << ", expected F32 (float32, the parameters' type)");
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
  f.metadata["format_version"] = kCheckpointVersion;
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
  const std::string version = meta(f, "format_version", src);
  GAN_CHECK(version == kCheckpointVersion, src << ": checkpoint format_version is '" << version << "', this build reads version "
                                               << kCheckpointVersion << " (written by another version of gan)");
  TrainConfig cfg = parse_train_config(meta(f, "config", src), src + " metadata 'config'");
  const std::string arch = meta(f, "arch", src);
  GAN_CHECK(arch == cfg.model.arch, src << ": checkpoint metadata 'arch' is " << arch << " but its config describes a "
                                        << cfg.model.arch << " model; the file is inconsistent");
  return cfg;
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
  out.step = parse_step(meta(f, "step", src), src);
  json loader = meta_json(f, "loader", src), rng = meta_json(f, "rng", src);
  // The loader draws each epoch's permutation from numbers epoch * 2^32 + k: a larger epoch would
  // wrap onto another epoch's order.
  out.data.epoch = static_cast<int64_t>(meta_count(loader, "loader", "epoch", uint64_t{1} << 32, src));
  out.data.position = static_cast<int64_t>(
      meta_count(loader, "loader", "position", static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), src));
  const uint64_t any = std::numeric_limits<uint64_t>::max();
  out.noise_seed = meta_count(rng, "rng", "noise_seed", any, src);
  out.noise_draws = meta_count(rng, "rng", "noise_draws", any, src);
  out.data.draws.reset();
  if (rng.is_object() && rng.contains("data_draws")) out.data.draws = meta_count(rng, "rng", "data_draws", any, src);

  std::map<std::string, std::map<std::string, nn::StateValue>> nets;
  std::map<std::string, std::map<std::string, Tensor>> slots;
  std::map<std::string, std::map<std::string, int64_t>> counts;
  for (const auto& [name, t] : f.tensors) {
    check_finite(name, t, src);
    bool known = false;
    for (const auto& [net, m] : into.networks)
      if (starts_with(name, net + ".")) {
        nets[net][name.substr(net.size() + 1)] = state_value(t);
        known = true;
      }
    for (const auto& [group, o] : into.optimizers)
      if (starts_with(name, "optim." + group + ".")) {
        std::string key = name.substr(group.size() + 7);
        check_optim_dtype(name, t, src);
        if (t.is_integer()) counts[group][key] = t.to_int64();
        else slots[group][key] = t.to_tensor();
        known = true;
      }
    GAN_CHECK(known, src << ": unexpected tensor '" << name << "' in checkpoint");
  }
  for (const auto& [net, m] : into.networks) m->load_state_dict(nets[net], src + " (" + net + ")");
  // A run that has trained has stepped every parameter: absent moments would restart Adam.
  for (const auto& [group, o] : into.optimizers) o->load_state(slots[group], counts[group], src, out.step > 0);
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
    if (prefixed && !starts_with(name, prefix)) continue;
    check_finite(name, t, src);
    state[prefixed ? name.substr(prefix.size()) : name] = state_value(t);
  }
  GAN_CHECK(!state.empty(), src << ": holds no " << network << " tensors");
  return state;
}

}  // namespace gan::models
