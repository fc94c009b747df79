#include "models/trainer.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/ops/ops.h"

namespace gan::models {

using nlohmann::json;

// Distinct streams from one seed: weights use `seed` itself.
static constexpr uint64_t kNoiseStream = 0x6e6f697365000000ULL;  // "noise"
static constexpr uint64_t kFixedStream = 0x6669786564000000ULL;  // "fixed"
static constexpr uint64_t kDataStream = 0x746f790000000000ULL;   // "toy"

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& cfg, const optim::NamedTensors& params) {
  if (cfg.optimizer == "adam") {
    optim::AdamOptions o;
    o.lr = cfg.lr;
    o.beta1 = cfg.beta1;
    o.beta2 = cfg.beta2;
    return std::make_unique<optim::Adam>(params, o);
  }
  if (cfg.optimizer == "rmsprop") {
    optim::RmspropOptions o;
    o.lr = cfg.lr;
    return std::make_unique<optim::RMSprop>(params, o);
  }
  if (cfg.optimizer == "sgd") {
    optim::SgdOptions o;
    o.lr = cfg.lr;
    o.momentum = cfg.beta1;  // --beta1 doubles as SGD's momentum
    return std::make_unique<optim::SGD>(params, o);
  }
  GAN_FAIL("unknown optimizer '" << cfg.optimizer << "' (expected adam, rmsprop or sgd)");
}

static GanModel build_on(const TrainConfig& cfg, Device device) {
  Generator init(cfg.seed);
  GanModel m = build_model(cfg.model, init);
  m.generator->to(device);
  m.discriminator->to(device);
  return m;
}

Trainer::Trainer(TrainConfig cfg, const io::ImageDataset& data, Device device)
    : cfg_((cfg.validate(), std::move(cfg))),
      device_(device),
      model_(build_on(cfg_, device)),
      opt_g_(make_optimizer(cfg_, model_.generator->named_parameters())),
      opt_d_(make_optimizer(cfg_, model_.discriminator->named_parameters())),
      loader_(std::make_unique<io::BatchLoader>(data, cfg_.batch, cfg_.model.image_size, cfg_.seed)),
      data_gen_(cfg_.seed ^ kDataStream),
      noise_gen_(cfg_.seed ^ kNoiseStream) {
  GAN_CHECK(!is_toy_data(cfg_.data), "Trainer: " << cfg_.data << " is 2-D toy data, not images");
  GAN_CHECK(data.channels == cfg_.model.channels,
            data.source << ": images have " << data.channels << " channel(s), the model expects "
                        << cfg_.model.channels);
  init();
}

Trainer::Trainer(TrainConfig cfg, Device device)
    : cfg_((cfg.validate(), std::move(cfg))),
      device_(device),
      model_(build_on(cfg_, device)),
      opt_g_(make_optimizer(cfg_, model_.generator->named_parameters())),
      opt_d_(make_optimizer(cfg_, model_.discriminator->named_parameters())),
      toy_(models::toy_data(cfg_.data)),
      data_gen_(cfg_.seed ^ kDataStream),
      noise_gen_(cfg_.seed ^ kNoiseStream) {
  init();
}

void Trainer::init() {
  loss_ = make_loss(cfg_);
  loss_->check_discriminator(*model_.discriminator);
  Generator fixed(cfg_.seed ^ kFixedStream);
  fixed_noise_ = model_.noise(cfg_.n_samples, fixed, device_);
}

int64_t Trainer::total_steps() const {
  if (cfg_.steps > 0 || !loader_) return cfg_.steps;
  return cfg_.epochs * loader_->batches_per_epoch() / loss_->discriminator_steps();
}

int64_t Trainer::epoch() const { return loader_ ? loader_->epoch() : 0; }

io::BatchLoader& Trainer::loader() {
  GAN_CHECK(loader_, "Trainer: a toy run (" << cfg_.data << ") has no image loader");
  return *loader_;
}

Tensor Trainer::next_real() {
  if (toy_) return sample_toy(*toy_, cfg_.batch, data_gen_).to(device_);
  return loader_->next().to(device_);
}

void Trainer::set_loss(std::unique_ptr<GanLoss> loss) {
  GAN_CHECK(loss && loss->discriminator_steps() >= 1, "Trainer: a loss with at least one discriminator step");
  loss->check_discriminator(*model_.discriminator);
  loss_ = std::move(loss);
}

// Re-enables D's gradients however the generator step ends.
struct FrozenModule {
  nn::Module& m;
  explicit FrozenModule(nn::Module& mod) : m(mod) { m.set_requires_grad(false); }
  ~FrozenModule() { m.set_requires_grad(true); }
};

StepLosses Trainer::train_step() {
  nn::Module& G = *model_.generator;
  nn::Module& D = *model_.discriminator;
  const int k = loss_->discriminator_steps();
  const int64_t B = cfg_.batch;
  const double lr = cfg_.lr_at(step_, total_steps());
  opt_d_->set_lr(lr);
  opt_g_->set_lr(lr);
  StepLosses out;
  Tensor fake;
  for (int i = 0; i < k; ++i) {
    Tensor real = next_real();
    Tensor z = model_.noise(B, noise_gen_, device_);
    if (k == 1) {
      fake = G(z);  // kept with its history: the generator step below reuses it
    } else {
      NoGradGuard no_grad;
      fake = G(z);
    }
    Tensor fake_in = fake.detach();
    Tensor d_real = D(real);
    Tensor d_fake = D(fake_in);
    Tensor loss_d = loss_->discriminator_loss({D, real, fake_in, d_real, d_fake, &noise_gen_});
    opt_d_->zero_grad();
    loss_d.backward();
    opt_d_->step();
    if (loss_->weight_clip() > 0) optim::clip_weights(D.parameters(), loss_->weight_clip());
    if (i == 0) {
      NoGradGuard no_grad;
      out.d_x = mean(sigmoid(d_real.detach()));
      out.d_g_z = mean(sigmoid(d_fake.detach()));
    }
    out.loss_d = loss_d.detach();
  }
  out.terms = loss_->terms();
  if (k != 1) fake = G(model_.noise(B, noise_gen_, device_));
  {
    FrozenModule frozen(D);
    Tensor loss_g = loss_->generator_loss(D(fake));
    opt_g_->zero_grad();
    loss_g.backward();
    out.loss_g = loss_g.detach();
  }
  opt_g_->step();
  ++step_;
  return out;
}

Tensor Trainer::generate(const Tensor& z) {
  NoGradGuard no_grad;
  model_.generator->eval();
  Tensor x;
  try {
    x = model_.generator->forward(z);
  } catch (...) {
    model_.generator->train();
    throw;
  }
  model_.generator->train();
  return x;
}

bool Trainer::state_finite() const {
  NoGradGuard no_grad;
  Tensor total;
  auto add_all = [&](const nn::Module& m) {
    for (auto& [n, v] : m.state_dict()) {
      if (v.is_counter) continue;
      // Multiplying by 0 keeps NaN and turns infinity into NaN: one sum answers for everything.
      Tensor s = sum(mul(v.tensor, 0.0));
      total = total.defined() ? add(total, s) : s;
    }
  };
  add_all(*model_.generator);
  add_all(*model_.discriminator);
  return !total.defined() || std::isfinite(total.item());
}

static void add_state(io::SafetensorsFile& f, const std::string& prefix, const nn::StateDict& sd) {
  for (const auto& [k, v] : sd) {
    if (v.is_counter) f.add_int64(prefix + k, v.counter);
    else f.add(prefix + k, v.tensor);
  }
}

static void add_optim(io::SafetensorsFile& f, const std::string& prefix, const optim::Optimizer& o) {
  for (const auto& [k, t] : o.state_tensors()) f.add(prefix + k, t);
  for (const auto& [k, v] : o.state_counters()) f.add_int64(prefix + k, v);
}

io::SafetensorsFile Trainer::checkpoint() const {
  io::SafetensorsFile f;
  add_state(f, "generator.", model_.generator->state_dict());
  add_state(f, "discriminator.", model_.discriminator->state_dict());
  add_optim(f, "optim.generator.", *opt_g_);
  add_optim(f, "optim.discriminator.", *opt_d_);
  f.metadata["format"] = kCheckpointFormat;
  f.metadata["format_version"] = "1";
  f.metadata["arch"] = cfg_.model.arch;
  f.metadata["optimizer"] = opt_g_->kind();
  f.metadata["step"] = std::to_string(step_);
  f.metadata["config"] = to_json(cfg_).dump();
  f.metadata["loader"] = json{{"epoch", loader_ ? loader_->epoch() : 0}, {"position", loader_ ? loader_->position() : 0}}.dump();
  json rng{{"noise_seed", noise_gen_.seed()}, {"noise_draws", noise_gen_.draws()}};
  if (toy_) rng["data_draws"] = data_gen_.draws();
  f.metadata["rng"] = rng.dump();
  return f;
}

static std::string meta(const io::SafetensorsFile& f, const std::string& key, const std::string& src) {
  auto it = f.metadata.find(key);
  GAN_CHECK(it != f.metadata.end(), src << ": checkpoint metadata lacks '" << key << "'");
  return it->second;
}

static json meta_json(const io::SafetensorsFile& f, const std::string& key, const std::string& src) {
  try {
    return json::parse(meta(f, key, src));
  } catch (const json::exception& e) {
    GAN_FAIL(src << ": checkpoint metadata '" << key << "' is not valid JSON");
  }
}

TrainConfig checkpoint_config(const io::SafetensorsFile& f, const std::string& src) {
  auto fmt = f.metadata.find("format");
  GAN_CHECK(fmt != f.metadata.end() && fmt->second == kCheckpointFormat,
            src << ": not a checkpoint of this engine (no '" << kCheckpointFormat << "' metadata)");
  return train_config_from_json(meta_json(f, "config", src), src);
}

static int64_t parse_int(const std::string& s, const std::string& what, const std::string& src) {
  try {
    size_t pos;
    long long v = std::stoll(s, &pos);
    GAN_CHECK(pos == s.size(), "");
    return v;
  } catch (...) {
    GAN_FAIL(src << ": checkpoint metadata '" << what << "' is not an integer: '" << s << "'");
  }
}

void Trainer::restore(const io::SafetensorsFile& f, const std::string& src) {
  TrainConfig saved = checkpoint_config(f, src);
  GAN_CHECK(to_json(saved.model) == to_json(cfg_.model),
            src << ": checkpoint holds a " << saved.model.arch << " model " << to_json(saved.model).dump()
                << ", this run builds " << cfg_.model.arch << " " << to_json(cfg_.model).dump());
  GAN_CHECK(meta(f, "optimizer", src) == opt_g_->kind(),
            src << ": checkpoint optimizer is " << meta(f, "optimizer", src) << ", this run uses " << opt_g_->kind());
  int64_t step = parse_int(meta(f, "step", src), "step", src);
  GAN_CHECK(step >= 0, src << ": negative step " << step);
  json loader = meta_json(f, "loader", src), rng = meta_json(f, "rng", src);
  int64_t l_epoch, l_pos;
  uint64_t seed, draws, data_draws = 0;
  try {
    l_epoch = loader.at("epoch").get<int64_t>();
    l_pos = loader.at("position").get<int64_t>();
    seed = rng.at("noise_seed").get<uint64_t>();
    draws = rng.at("noise_draws").get<uint64_t>();
    if (toy_) data_draws = rng.at("data_draws").get<uint64_t>();
  } catch (const json::exception&) {
    GAN_FAIL(src << ": checkpoint metadata 'loader' or 'rng' lacks its fields");
  }

  std::map<std::string, nn::StateValue> g_state, d_state;
  std::map<std::string, Tensor> og_t, od_t;
  std::map<std::string, int64_t> og_c, od_c;
  auto starts = [](const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; };
  for (const auto& [name, t] : f.tensors) {
    auto value = [&, &t = t]() {
      return t.is_integer() ? nn::StateValue::of_counter(t.to_int64()) : nn::StateValue::of(t.to_tensor());
    };
    if (starts(name, "generator.")) {
      g_state[name.substr(10)] = value();
    } else if (starts(name, "discriminator.")) {
      d_state[name.substr(14)] = value();
    } else if (starts(name, "optim.generator.") || starts(name, "optim.discriminator.")) {
      bool gen = starts(name, "optim.generator.");
      std::string key = name.substr(gen ? 16 : 20);
      if (t.is_integer()) (gen ? og_c : od_c)[key] = t.to_int64();
      else (gen ? og_t : od_t)[key] = t.to_tensor();
    } else {
      GAN_FAIL(src << ": unexpected tensor '" << name << "' in checkpoint");
    }
  }
  model_.generator->load_state_dict(g_state, src);
  model_.discriminator->load_state_dict(d_state, src);
  opt_g_->load_state(og_t, og_c, src);
  opt_d_->load_state(od_t, od_c, src);
  if (loader_) loader_->set_state(l_epoch, l_pos);
  data_gen_.set_state(data_gen_.seed(), data_draws);
  noise_gen_.set_state(seed, draws);
  step_ = step;
}

}  // namespace gan::models
