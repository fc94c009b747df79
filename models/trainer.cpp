#include "models/trainer.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/autograd/autograd.h"
#include "engine/capture/step_graph.h"
#include "engine/dist/reducer.h"
#include "engine/ops/ops.h"
#include "models/augment.h"
#include "models/gan_recipe.h"
#include "models/prefetch.h"

namespace gan::models {

// Distinct streams from one seed: weights use `seed` itself, the data source its own.
static constexpr uint64_t kNoiseStream = 0x6e6f697365000000ULL;  // "noise"
static constexpr uint64_t kFixedStream = 0x6669786564000000ULL;  // "fixed"

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& cfg, const optim::NamedTensors& params, double lr) {
  if (lr <= 0) lr = cfg.lr;
  if (cfg.optimizer == "adam") {
    optim::AdamOptions o;
    o.lr = lr;
    o.beta1 = cfg.beta1;
    o.beta2 = cfg.beta2;
    o.weight_decay = cfg.weight_decay;
    return std::make_unique<optim::Adam>(params, o);
  }
  if (cfg.optimizer == "rmsprop") {
    optim::RmspropOptions o;
    o.lr = lr;
    o.alpha = cfg.rmsprop_alpha;
    o.weight_decay = cfg.weight_decay;
    return std::make_unique<optim::RMSprop>(params, o);
  }
  if (cfg.optimizer == "sgd") {
    optim::SgdOptions o;
    o.lr = lr;
    o.momentum = cfg.beta1;  // --beta1 doubles as SGD's momentum
    o.weight_decay = cfg.weight_decay;
    return std::make_unique<optim::SGD>(params, o);
  }
  GAN_FAIL("unknown optimizer '" << cfg.optimizer << "' (expected adam, rmsprop or sgd)");
}

// The StepContext of one training step: the batch, the noise stream, pass names and scalars.
class Trainer::Context : public StepContext {
 public:
  Context(Trainer& t, const StepHooks* hooks)
      : t_(t),
        hooks_(hooks),
        augment_(parse_augment_spec(t.cfg_.augment, "--augment")),
        diffaugment_(parse_augment_spec(t.cfg_.diffaugment, "--diffaugment")) {
    if (!hooks_ || !hooks_->on_activation) return;
    for (auto& [net, m] : t_.networks_)
      for (auto& [path, layer] : m->named_modules())
        if (!path.empty() && layer->children().empty()) {
          tapped_.push_back(layer);
          layer->set_forward_hook([this, net = net, path = path](const Tensor& out) {
            hooks_->on_activation(point_, net, passes_[net], path, out);
          });
        }
  }
  ~Context() override {
    for (nn::Module* m : tapped_) m->set_forward_hook(nullptr);
  }

  void begin(const StepPoint& p) { point_ = p; }
  void draw_batch() {
    batch_ = t_.data_->next();
    if (step_recording(t_.device_)) return record_batch();
    batch_.real = batch_.real.to(t_.device_);
    if (!augment_.empty()) batch_.real = augment_real(batch_.real, augment_, t_.noise_gen_);
    if (batch_.labels.defined()) batch_.labels = batch_.labels.to(t_.device_);
    if (t_.dp_) t_.dp_->keep_shard(batch_);  // the global batch drawn, this rank's rows kept
    if (batch_.labels.defined()) input("labels", batch_.labels);
    input("real", batch_.real);
    if (batch_.real_b.defined()) {
      batch_.real_b = batch_.real_b.to(t_.device_);
      input("real_b", batch_.real_b);
    }
  }
  // A step being recorded: the batch lands in device tensors that each replay refills from the
  // data source's next batch (graph_obstacle() has refused augmentation, data parallel and hooks).
  void record_batch() {
    if (batch_.real.device() == t_.device_) return record_device_batch();
    auto host = [](const Batch& b) {
      std::vector<Tensor> v{b.real};
      if (b.labels.defined()) v.push_back(b.labels);
      if (b.real_b.defined()) v.push_back(b.real_b);
      return v;
    };
    const bool labels = batch_.labels.defined(), real_b = batch_.real_b.defined();
    std::vector<Tensor> dev = replay_tensors(t_.device_, host(batch_), [host, &data = *t_.data_] { return host(data.next()); });
    batch_.real = dev[0];
    if (labels) batch_.labels = dev[1];
    if (real_b) batch_.real_b = dev[labels ? 2 : 1];
  }
  // A source that hands the same device tensors every time (a fixed batch already on the GPU, as the
  // benchmarks use): the graph reads them where they are; each replay still asks the source, and a
  // source that hands other tensors is refused.
  void record_device_batch() {
    auto same = [](const Batch& a, const Batch& b) {
      auto one = [](const Tensor& x, const Tensor& y) {
        return x.defined() == y.defined() && (!x.defined() || x.raw_data() == y.raw_data());
      };
      return one(a.real, b.real) && one(a.labels, b.labels) && one(a.real_b, b.real_b);
    };
    on_replay(t_.device_, [same, kept = batch_, &data = *t_.data_] {
      GAN_CHECK(same(data.next(), kept), "--cuda-graph on: the data source handed new device tensors: a recorded "
                                         "step reads one place (host batches are copied in at each replay)");
    });
  }
  StepScalars scalars() {
    StepScalars s;
    for (const auto& spec : t_.scalars())
      if (auto it = logged_.find(spec.column); it != logged_.end()) s.values.emplace_back(spec.column, it->second);
    return s;
  }

  const StepPoint& point() const override { return point_; }
  const Batch& batch() const override { return batch_; }
  Tensor noise(const Shape& shape) override {
    // Data parallel: the noise of the global batch, as one process draws it, and this rank's rows.
    Tensor z = t_.dp_ ? t_.dp_->shard(draw_noise(t_.cfg_.model, t_.dp_->global_shape(shape), t_.noise_gen_, t_.device_))
                      : draw_noise(t_.cfg_.model, shape, t_.noise_gen_, t_.device_);
    input("noise", z);
    return z;
  }
  Generator& rng() override { return t_.dp_ ? t_.rank_gen_ : t_.noise_gen_; }
  Tensor run(const std::string& network, const std::string& pass, const Tensor& x) override {
    auto named = name_pass(network, pass);
    return t_.network(network)(x);
  }
  Tensor critic_input(const Tensor& images) override {
    return diffaugment_.empty() ? images : diff_augment(images, diffaugment_, rng());
  }
  std::shared_ptr<void> name_pass(const std::string& network, const std::string& pass) override {
    std::string before = passes_[network];
    passes_[network] = pass;
    return std::shared_ptr<void>(nullptr, [this, network, before](void*) { passes_[network] = before; });
  }
  void log(const std::string& name, const Tensor& value) override {
    if (value.defined()) logged_[name] = value.detach();
  }
  void show(const std::string& name, const Tensor& value) override {
    if (hooks_ && hooks_->on_tensor) hooks_->on_tensor(point_, name, value);
  }

 private:
  void input(const std::string& name, Tensor& value) {
    if (!hooks_ || !hooks_->on_input) return;
    const Shape drawn = value.shape();
    hooks_->on_input(point_, name, value);
    GAN_CHECK(value.shape() == drawn || name == "real" || name == "labels" || name == "real_b",
              "step hooks: the replaced " << name << " " << value.str() << " does not fit (expected " << shape_str(drawn) << ")");
  }

  Trainer& t_;
  const StepHooks* hooks_;
  const std::vector<std::string> augment_, diffaugment_;
  StepPoint point_;
  Batch batch_;
  std::map<std::string, std::string> passes_;
  std::map<std::string, Tensor> logged_;
  std::vector<nn::Module*> tapped_;
};

Trainer::Trainer(TrainConfig cfg, std::unique_ptr<DataSource> data, Device device, std::unique_ptr<Recipe> recipe)
    : cfg_((cfg.validate(), std::move(cfg))),
      device_(device),
      recipe_(recipe ? std::move(recipe) : make_recipe(cfg_, device, nullptr, data.get())),
      data_(prefetched(std::move(data), device.is_cuda())),
      noise_gen_(cfg_.seed ^ kNoiseStream) {
  networks_ = recipe_->networks();
  if (cfg_.precision == "bf16")
    for (auto& [name, net] : networks_) net->set_compute_dtype(DType::BFloat16);
  scalars_ = {{"loss_d", "loss_d", "loss_d", true}, {"loss_g", "loss_g", "loss_g", true}};
  for (auto& r : recipe_->scalars()) scalars_.push_back(r);
  std::map<std::string, nn::Module*> nets(networks_.begin(), networks_.end());
  for (const OptimizerGroup& g : recipe_->optimizer_groups()) {
    optim::NamedTensors params;
    for (const std::string& n : g.networks) {
      GAN_CHECK(nets.count(n), "trainer: optimizer group " << g.name << " names no network '" << n << "'");
      // One network: its own parameter names (optim.generator.main.0.weight...); several: prefixed.
      for (auto& [pn, p] : nets[n]->named_parameters()) params.emplace_back(g.networks.size() > 1 ? n + "." + pn : pn, p);
    }
    std::vector<Tensor> ps;
    for (auto& [n, p] : params) ps.push_back(p);
    const bool gen_phase = g.phase == Phase::Generator;
    groups_.push_back({g, make_optimizer(cfg_, params, cfg_.lr_at(0, 0, gen_phase)), ps});
    if (cfg_.grad_clip > 0)
      scalars_.push_back({"grad_norm_" + g.name, "the gradient norm of " + g.name, "", false});
  }
  if (cfg_.ema > 0) {
    // The average starts as a copy of the initial generator (as the reference implementations'
    // deep copy); it is never trained, only blended after each generator step.
    Generator unused(0);
    ema_ = build_generator(cfg_.model, unused);
    ema_->to(device_);
    ema_->load_state_dict(state_map(network("generator")), "the generator");
    ema_->set_requires_grad(false);
    ema_->eval();
  }
  Generator fixed(cfg_.seed ^ kFixedStream);
  fixed_inputs_ = recipe_->sample_inputs(cfg_.n_samples, fixed, device_);
  // --sync-bn on one process: the batch norm the ranks of a --sync-bn run compute (the composite
  // batch_norm_across, here over a world of one), so that such a run and its data-parallel
  // counterpart differ by the all-reduce's rounding alone (distribute() then sums over the ranks).
  if (cfg_.sync_bn)
    for (nn::Module* net : all_networks()) nn::set_batch_norm_sum(*net, [](std::vector<Tensor>&) {});
  if (cfg_.cuda_graph == "on") {
    const std::string why = graph_obstacle();
    GAN_CHECK(why.empty(), "--cuda-graph on: " << why << " (--cuda-graph off trains this run uncaptured)");
  }
}

std::string Trainer::graph_obstacle() const {
  if (!device_.is_cuda()) return "a CUDA graph records GPU work, and this run trains on " + device_.str();
  if (dp_) return "a data-parallel run's gradient all-reduce is not recorded";
  if (cfg_.grad_clip > 0) return "--grad-clip reads the gradients' norm on the host at every step";
  if (!cfg_.augment.empty() || !cfg_.diffaugment.empty())
    return "--augment and --diffaugment draw their transforms on the host";
  if (cfg_.sync_bn) return "--sync-bn is a data-parallel setting, and data parallel is not recorded";
  if (cfg_.log_every > kGraphRingMaxRows)
    return "--log-every " + std::to_string(cfg_.log_every) + " keeps more steps' scalars on the device than the " +
           std::to_string(kGraphRingMaxRows) + " rows a recorded run holds; log more often";
  return recipe_->graph_obstacle();
}

static std::unique_ptr<DataSource> image_source(const TrainConfig& cfg, const io::ImageDataset& data) {
  cfg.validate();
  GAN_CHECK(data.channels == cfg.model.channels,
            data.source << ": images have " << data.channels << " channel(s), the model expects " << cfg.model.channels);
  return image_source(data, cfg.batch, cfg.model.image_size, cfg.seed, cfg.model.conditional());
}

Trainer::Trainer(TrainConfig cfg, const io::ImageDataset& data, Device device)
    : Trainer(cfg, image_source(cfg, data), device) {}

Trainer::Trainer(TrainConfig cfg, Device device) : Trainer(cfg, make_data_source(cfg, false), device) {}

int64_t Trainer::total_steps() const {
  if (cfg_.steps > 0 || data_->batches_per_epoch() == 0) return cfg_.steps;
  int64_t batches;
  GAN_CHECK(!__builtin_mul_overflow(cfg_.epochs, data_->batches_per_epoch(), &batches),
            "--epochs " << cfg_.epochs << ": " << data_->batches_per_epoch() << " batches per epoch overflow a step count");
  return batches / recipe_->critic_steps();
}

nn::Module& Trainer::network(const std::string& name) {
  for (auto& [n, m] : networks_)
    if (n == name) return *m;
  GAN_FAIL("trainer: this run has no network '" << name << "'");
}

optim::Optimizer& Trainer::optimizer(const std::string& name) {
  for (auto& g : groups_)
    if (g.spec.name == name) return *g.opt;
  GAN_FAIL("trainer: this run has no optimizer '" << name << "'");
}

// Backward of a phase's loss, then its optimizers (gradient clipping before each, weight clipping
// after a critic step's), then, after a generator step, the moving average.
void Trainer::update(Phase phase, const Tensor& loss, const StepPoint& at, const StepHooks* hooks, Context& ctx) {
  for (auto& g : groups_)
    if (g.spec.phase == phase) g.opt->zero_grad();
  if (dp_) {  // every rank steps with the mean gradient: clipping, hooks and optimizers see it
    std::vector<Tensor> params;
    for (auto& g : groups_)
      if (g.spec.phase == phase) params.insert(params.end(), g.params.begin(), g.params.end());
    if (cfg_.bucket_mb > 0) {
      dist::Reducer reducer(dp_->world(), params, std::max<size_t>(1, static_cast<size_t>(cfg_.bucket_mb * (1 << 20))));
      backward({loss}, [&](const Tensor& leaf) { reducer.ready(leaf); });
      reducer.finish();
    } else {
      loss.backward();
      dp_->average_gradients(params);
    }
  } else {
    loss.backward();
  }
  if (hooks && hooks->before_optimizer_step) hooks->before_optimizer_step(at, loss);
  for (auto& g : groups_) {
    if (g.spec.phase != phase) continue;
    if (cfg_.grad_clip > 0) {
      const double norm = optim::clip_grad_norm(g.params, cfg_.grad_clip);
      ctx.log("grad_norm_" + g.spec.name, Tensor::from_vector(std::vector<float>{static_cast<float>(norm)}, {}));
    }
    g.opt->step();
    if (phase == Phase::Critic && recipe_->weight_clip() > 0) optim::clip_weights(g.params, recipe_->weight_clip());
  }
  if (phase == Phase::Generator && ema_) update_ema();
}

std::map<std::string, nn::StateValue> Trainer::state_map(const nn::Module& m) {
  std::map<std::string, nn::StateValue> out;
  for (auto& [n, v] : m.state_dict()) out.emplace(n, v);
  return out;
}

// ema = d ema + (1 - d) p for every parameter, d warmed up (TrainConfig::ema_decay_at); buffers
// (batch norm's running statistics and counters, spectral norm's u and v) are copied from the
// generator, as the reference implementations do: they are already averages, and blending them
// twice would lag.
void Trainer::update_ema() {
  NoGradGuard no_grad;
  const double d = cfg_.ema_decay_at(step_);
  // A step being recorded takes d and 1 - d from device memory (d changes with the step: warm-up),
  // as one-element tensors holding the float the scalar form would use.
  Tensor dt, rest;
  if (step_recording(device_)) {
    auto weights = [this](double decay) {
      return std::vector<Tensor>{Tensor::scalar(decay), Tensor::scalar(1.0 - decay)};
    };
    std::vector<Tensor> w = replay_tensors(device_, weights(d), [this, weights] { return weights(cfg_.ema_decay_at(step_)); });
    dt = w[0];
    rest = w[1];
  }
  auto params = network("generator").named_parameters();
  std::map<std::string, Tensor> current(params.begin(), params.end());
  std::map<std::string, nn::StateValue> blended = state_map(network("generator"));
  for (auto& [name, p] : ema_->named_parameters()) {
    auto it = current.find(name);
    GAN_CHECK(it != current.end(), "ema: the generator has no parameter " << name);
    blended[name] = nn::StateValue::of(dt.defined() ? add(mul(p, dt), mul(it->second, rest))
                                                    : add(mul(p, d), mul(it->second, 1.0 - d)));
  }
  ema_->load_state_dict(blended, "the moving average");
}

// Turns off requires_grad on the critics' parameters for the generator step, whatever happens.
struct Frozen {
  std::vector<nn::Module*> nets;
  ~Frozen() {
    for (nn::Module* m : nets) m->set_requires_grad(true);
  }
};

StepScalars Trainer::train_step(const StepHooks* hooks) {
  if (dp_) rank_gen_ = dp_->rank_stream(cfg_.seed, step_);
  for (auto& g : groups_) g.opt->set_lr(cfg_.lr_at(step_, total_steps(), g.spec.phase == Phase::Generator));
  const bool watched = hooks && (!hooks->observes || hooks->observes(step_ + 1));
  StepScalars scalars = cfg_.cuda_graph == "on" && !watched ? graph_step() : step_body(hooks);
  ++step_;
  if (dp_) {
    dp_->average(scalars);
    // Per-rank batch norm leaves each rank its own running statistics, and cyclegan's pools their
    // own fakes: rank 0's buffers become everyone's, so that its checkpoint is every rank's state.
    dp_->copy_from_root(all_networks(), false);
  }
  return scalars;
}

StepScalars Trainer::step_body(const StepHooks* hooks) {
  const int k = recipe_->critic_steps();
  Context ctx(*this, hooks);
  for (int i = 0; i < k; ++i) {
    const StepPoint at{Phase::Critic, i, k};
    ctx.begin(at);
    ctx.draw_batch();
    Tensor loss = recipe_->critic_loss(ctx);
    ctx.log("loss_d", loss);
    update(Phase::Critic, loss, at, hooks, ctx);
  }
  const StepPoint at{Phase::Generator, k, k};
  ctx.begin(at);
  {
    Frozen frozen;
    for (auto& g : groups_)
      if (g.spec.phase == Phase::Critic)
        for (auto& n : g.spec.networks) frozen.nets.push_back(&network(n));
    for (nn::Module* m : frozen.nets) m->set_requires_grad(false);
    Tensor loss = recipe_->generator_loss(ctx);
    ctx.log("loss_g", loss);
    update(Phase::Generator, loss, at, hooks, ctx);
  }
  return ctx.scalars();
}

// Warm-up steps, then a measured one, then the recording; from then on each call replays it. The
// recording packs its scalars into one tensor, which each replay overwrites; the scalars a replay
// returns are views of the ring row that tensor is copied to (one device copy, no allocation).
StepScalars Trainer::graph_step() {
  constexpr int64_t kWarmSteps = 1;
  if (!graph_) graph_ = std::make_unique<StepGraph>(device_);
  if (graph_->recorded()) {
    graph_->replay();
    return graph_ring_scalars();
  }
  if (graph_warm_steps_ < kWarmSteps) {
    ++graph_warm_steps_;
    return step_body(nullptr);
  }
  if (!graph_arena_) {
    StepScalars s;
    graph_arena_ = graph_->measure([&] { s = step_body(nullptr); });
    return s;
  }
  graph_->record(
      [&] {
        graph_scalars_ = step_body(nullptr);
        std::vector<Tensor> parts;
        for (auto& [name, t] : graph_scalars_.values) parts.push_back(t.detach().reshape({1}));
        graph_packed_ = cat(parts, 0);
      },
      *graph_arena_);
  const int64_t rows = std::max(cfg_.log_every, kGraphRingMinRows);
  graph_ring_ = Tensor::empty({rows, graph_packed_.numel()}, graph_packed_.dtype(), device_);
  graph_ring_next_ = 0;
  return graph_ring_scalars();
}

StepScalars Trainer::graph_ring_scalars() {
  Tensor row = graph_ring_.row(graph_ring_next_);
  graph_ring_next_ = (graph_ring_next_ + 1) % graph_ring_.size(0);
  row.copy_(graph_packed_);
  StepScalars out;
  int64_t j = 0;
  for (auto& [name, t] : graph_scalars_.values) out.values.emplace_back(name, row.row(j++).reshape(t.shape()));
  return out;
}

void Trainer::reset_graph() {
  graph_.reset();
  graph_scalars_ = {};
  graph_packed_ = Tensor();
  graph_ring_ = Tensor();
  graph_ring_next_ = 0;
  graph_arena_.reset();
  graph_warm_steps_ = 0;
}

std::vector<nn::Module*> Trainer::all_networks() const {
  std::vector<nn::Module*> nets;
  for (auto& [n, m] : networks_) nets.push_back(m);
  if (ema_) nets.push_back(ema_.get());
  return nets;
}

void Trainer::distribute(std::shared_ptr<DataParallel> dp) {
  GAN_CHECK(dp, "trainer: distribute() needs the ranks of a data-parallel run");
  GAN_CHECK(cfg_.cuda_graph != "on",
            "--cuda-graph on: a data-parallel run's gradient all-reduce is not recorded (--cuda-graph off trains it)");
  GAN_CHECK(cfg_.batch % dp->size() == 0,
            "--batch " << cfg_.batch << " does not split across " << dp->size() << " ranks");
  dp_ = std::move(dp);
  dp_->copy_from_root(all_networks(), true);  // the same start everywhere, whatever each rank computed
  if (cfg_.sync_bn)
    for (nn::Module* m : all_networks()) dp_->synchronise_batch_norm(*m);
}

Tensor Trainer::generate(const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  std::vector<nn::Module*> nets;
  for (auto& [n, m] : networks_) nets.push_back(m);
  for (nn::Module* m : nets) m->eval();
  Tensor x;
  try {
    x = recipe_->generate(inputs);
  } catch (...) {
    for (nn::Module* m : nets) m->train();
    throw;
  }
  for (nn::Module* m : nets) m->train();
  return x;
}

Tensor Trainer::generate_ema(const std::vector<Tensor>& inputs) {
  GAN_CHECK(ema_, "trainer: this run keeps no moving average of the generator (--ema)");
  // The recipe knows how its generator takes its inputs: lend it the averaged weights for one call.
  nn::Module& g = network("generator");
  std::map<std::string, nn::StateValue> own;
  {
    NoGradGuard no_grad;
    for (auto& [n, v] : g.state_dict()) own.emplace(n, v.is_counter ? v : nn::StateValue::of(v.tensor.clone()));
  }
  g.load_state_dict(state_map(*ema_), "the moving average");
  Tensor x;
  try {
    x = generate(inputs);
  } catch (...) {
    g.load_state_dict(own, "the generator");
    throw;
  }
  g.load_state_dict(own, "the generator");
  return x;
}

bool Trainer::state_finite() {
  NoGradGuard no_grad;
  Tensor total;
  for (auto& [name, m] : networks_)
    for (auto& [n, v] : m->state_dict()) {
      if (v.is_counter) continue;
      // Multiplying by 0 keeps NaN and turns infinity into NaN: one sum answers for everything.
      Tensor s = sum(mul(v.tensor, 0.0));
      total = total.defined() ? add(total, s) : s;
    }
  return !total.defined() || std::isfinite(total.item());
}

CheckpointState Trainer::state() const {
  CheckpointState s;
  s.config = &cfg_;
  s.networks = networks_;
  if (ema_) s.networks.emplace_back("generator_ema", ema_.get());
  for (auto& g : groups_) s.optimizers.emplace_back(g.spec.name, g.opt.get());
  s.step = step_;
  s.data = data_->state();
  s.noise_seed = noise_gen_.seed();
  s.noise_draws = noise_gen_.draws();
  return s;
}

io::SafetensorsFile Trainer::checkpoint() const { return write_checkpoint(state()); }

void Trainer::restore(const io::SafetensorsFile& f, const std::string& source) {
  CheckpointState s = read_checkpoint(f, state(), source);
  try {  // the data source knows its own range (batches per epoch, a toy stream's draws)
    data_->set_state(s.data);
  } catch (const Error& e) {
    GAN_FAIL(source << ": the data position in its metadata ('loader', 'rng') does not fit this run's data: " << e.what());
  }
  noise_gen_.set_state(s.noise_seed, s.noise_draws);
  step_ = s.step;
  reset_graph();  // the recording's inputs and state were the old ones
}

}  // namespace gan::models
