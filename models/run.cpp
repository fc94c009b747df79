#include "models/run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <sstream>

#include "engine/build_config.h"
#include "engine/core/parse.h"
#include "engine/cpu/blas_info.h"
#include "engine/cpu/conv_winograd.h"
#include "engine/io/file_util.h"
#ifdef GAN_WITH_CUDA
#include "engine/cuda/kernel_select.h"
#endif
#include "engine/io/image.h"
#include "engine/io/plot.h"
#include "models/eval/gradient_log.h"
#include "models/eval/evaluate.h"
#include "models/distributed.h"

namespace gan::models {

namespace {

using Clock = std::chrono::steady_clock;

std::string step_name(const std::string& stem, int64_t step, const std::string& ext) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%06lld%s", stem.c_str(), static_cast<long long>(step), ext.c_str());
  return buf;
}

void note(const RunEvents& ev, const std::string& s) {
  if (ev.on_info) ev.on_info(s);
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The evaluator of a run that asks for one (--eval-every), and the curves panels of its scores.
std::unique_ptr<eval::TrainingEvaluator> make_evaluator(Trainer& t, const std::string& dir, const RunEvents& ev) {
  if (t.config().eval_every <= 0) return nullptr;
  return std::make_unique<eval::TrainingEvaluator>(t.config(), dir, t.device(), ev.on_info);
}

std::vector<CurvePanel> curve_panels(Trainer& t, const eval::TrainingEvaluator* e) {
  std::vector<CurvePanel> panels = t.recipe().curves();
  if (!e) return panels;
  const std::vector<std::string>& c = e->columns();
  auto has = [&](const char* col) { return std::find(c.begin(), c.end(), col) != c.end(); };
  if (has("fid")) panels.push_back({"FID (" + e->feature_net() + " features)", {"fid"}, false});
  if (has("kid")) panels.push_back({"KID (" + e->feature_net() + " features)", {"kid"}, false});
  if (has("is")) panels.push_back({"IS (" + e->feature_net() + " classes)", {"is"}, false});
  if (has("precision")) panels.push_back({"precision / recall", {"precision", "recall"}, true});
  return panels;
}

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// One training loop over a prepared trainer, shared by fresh and resumed runs.
class Run {
 public:
  // `resumed_from`: the checkpoint a resumed run started from ("" for a fresh run).
  Run(Trainer& t, std::string dir, const RunEvents& ev, std::string resumed_from)
      : t_(t), dir_(std::move(dir)), ev_(ev), gradients_(t, dir_), eval_(make_evaluator(t, dir_, ev)),
        metrics_(dir_ + "/metrics.csv", t.scalars(), curve_panels(t, eval_.get()),
                 eval_ ? eval_->columns() : std::vector<std::string>{}),
        resumed_from_(std::move(resumed_from)) {}

  MetricsLog& metrics() { return metrics_; }
  eval::GradientLog& gradients() { return gradients_; }

  // A resumed run: the best FID so far, from the checkpoint it continues.
  void restore_best(const io::SafetensorsFile& f, const std::string& path) {
    auto fid = f.metadata.find("best_fid"), step = f.metadata.find("best_fid_step");
    if (fid == f.metadata.end() || step == f.metadata.end()) return;
    const std::optional<double> v = parse_finite_double(fid->second);
    const std::optional<int64_t> at = parse_int64(step->second);
    GAN_CHECK(v && at && *at >= 0, path << ": checkpoint metadata best_fid '" << fid->second << "', best_fid_step '"
                                       << step->second << "': expected a finite number and a step >= 0");
    best_fid_ = *v;
    best_step_ = *at;
  }

  // The loop; an output that cannot be written (a full disk) ends the run with an error that also
  // says which checkpoint is there to resume from.
  RunResult go() {
    try {
      return loop();
    } catch (const TrainingDiverged&) {
      throw;  // names the checkpoint already
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + "; " + checkpoint_note());
    }
  }

 private:
  RunResult loop() {
    RunResult r;
    r.out_dir = dir_;
    r.config_path = dir_ + "/config.json";
    r.metrics_path = dir_ + "/metrics.csv";
    r.first_step = first_step_ = interval_first_step_ = t_.step();
    const TrainConfig& cfg = t_.config();
    const int64_t total = t_.total_steps();
    start_ = interval_start_ = Clock::now();
    while (t_.step() < total) {
      pending_.push_back(t_.train_step(&gradients_.hooks()));
      const int64_t s = t_.step();
      const bool last = s == total;
      const bool sample = cfg.sample_every > 0 && (s % cfg.sample_every == 0 || last);
      // Data that scores its samples (2-D modes) does so in the row of the same step.
      if ((sample || last) && t_.data().has_scores()) coverage_ = t_.data().score(samples());
      const bool evaluate = eval_ && (s % cfg.eval_every == 0 || last);
      if (evaluate) eval_values_ = last_eval_ = eval_->evaluate(t_).columns();
      if (s % cfg.log_every == 0 || last || sample || evaluate) flush(total);
      if (evaluate) keep_best();
      if (sample) r.last_sample = write_samples();
      if (cfg.checkpoint_every > 0 && s % cfg.checkpoint_every == 0 && !last) r.last_checkpoint = write_checkpoint(true);
      if (!last && ev_.should_stop && ev_.should_stop()) {
        r.interrupted = true;
        flush(total);
        if (cfg.sample_every > 0) r.last_sample = write_samples();
        break;
      }
    }
    if (t_.step() > first_step_)
      r.last_checkpoint = write_checkpoint(cfg.checkpoint_every > 0 && t_.step() % cfg.checkpoint_every == 0);
    else if (io::file_exists(last_path()))
      r.last_checkpoint = last_path();
    if (!metrics_.empty()) io::save_png(dir_ + "/curves.png", metrics_.curves());
    r.last_step = t_.step();
    r.seconds = seconds_since(start_);
    return r;
  }

  std::string last_path() const { return dir_ + "/checkpoints/last.safetensors"; }
  // Only a checkpoint this run wrote, after its finiteness check, is called good: the one a resumed
  // run started from may be the very state that diverges (hand-edited, or damaged past what the
  // loader can see), so it is named for what it is.
  std::string checkpoint_note() const {
    if (!good_checkpoint_.empty()) return "the last good checkpoint is " + good_checkpoint_;
    if (!resumed_from_.empty()) return "no checkpoint was written since this run resumed from " + resumed_from_;
    return "no checkpoint was written yet";
  }

  // Samples from the fixed inputs at the current step (generated once per step).
  const Tensor& samples() {
    if (samples_step_ != t_.step()) {
      samples_ = t_.generate(t_.fixed_inputs());
      samples_step_ = t_.step();
    }
    return samples_;
  }

  // Reads the pending steps' scalars (one device read), checks them, appends a metrics row and
  // reports progress.
  void flush(int64_t total) {
    if (pending_.empty()) return;
    LogRecord rec = metrics_.summarize(pending_, t_.step(), checkpoint_note());
    pending_.clear();
    const double dt = seconds_since(interval_start_), since = seconds_since(start_);
    rec.total_steps = total;
    rec.epoch = t_.epoch();
    rec.images_per_s = dt > 0 ? static_cast<double>((t_.step() - interval_first_step_) * t_.images_per_step()) / dt : 0;
    rec.steps_per_s = since > 0 ? (t_.step() - first_step_) / since : 0;
    rec.elapsed_s = since;
    rec.eta_s = rec.steps_per_s > 0 ? (total - t_.step()) / rec.steps_per_s : 0;
    rec.coverage = coverage_;
    coverage_.reset();
    rec.eval = std::move(eval_values_);
    eval_values_.clear();
    interval_start_ = Clock::now();
    interval_first_step_ = t_.step();
    metrics_.append(rec);
    if (ev_.on_log) ev_.on_log(rec);
  }

  // `img` (gray or RGB) under a one-line caption, as RGB.
  static io::Image captioned(const io::Image& img, const std::string& caption) {
    io::Canvas band(img.width, 12);
    band.text(3, 3, caption, 0, 0, 0);
    io::Image rgb{img.width, img.height, 3, {}};
    rgb.pixels.reserve(static_cast<size_t>(img.width * img.height * 3));
    for (int64_t y = 0; y < img.height; ++y)
      for (int64_t x = 0; x < img.width; ++x)
        for (int64_t c = 0; c < 3; ++c) rgb.pixels.push_back(img.at(y, x, img.channels == 3 ? c : 0));
    return io::stack_vertically({band.img, rgb});
  }

  std::string write_samples() {
    std::string title = t_.config().loss + ", step " + std::to_string(t_.step());
    io::Image pic = t_.data().picture(samples(), t_.recipe().critic(), title, t_.recipe().sample_columns());
    if (t_.has_ema()) {  // the moving average below the raw generator, from the same inputs
      char decay[32];
      std::snprintf(decay, sizeof decay, "%g", t_.config().ema);
      io::Image avg = t_.data().picture(t_.generate_ema(t_.fixed_inputs()), t_.recipe().critic(),
                                        title + ", moving average", t_.recipe().sample_columns());
      pic = io::stack_vertically({captioned(pic, "G, step " + std::to_string(t_.step())),
                                  captioned(avg, std::string("moving average of G (--ema ") + decay + ")")});
    }
    std::string png = io::encode_png(pic);
    std::string path = dir_ + "/samples/" + step_name("step", t_.step(), ".png");
    io::write_file_atomic(path, png);
    io::write_file_atomic(dir_ + "/samples/last.png", png);
    if (!metrics_.empty()) io::save_png(dir_ + "/curves.png", metrics_.curves());
    if (ev_.on_output) ev_.on_output("sample", path);
    return path;
  }

  // The checkpoint of the current state, with the best FID so far when the run evaluates.
  std::string checkpoint_bytes() const {
    io::SafetensorsFile f = t_.checkpoint();
    if (best_step_ >= 0) {
      f.metadata["best_fid"] = exact(best_fid_);
      f.metadata["best_fid_step"] = std::to_string(best_step_);
    }
    return io::serialize_safetensors(f);
  }

  void check_finite() {
    if (!t_.state_finite())
      throw TrainingDiverged("training diverged: the weights hold NaN or infinity at step " + std::to_string(t_.step()) +
                             "; " + checkpoint_note());
  }

  // After an evaluation: checkpoints/best.safetensors becomes this state when its FID is the
  // lowest so far (replaced atomically, like last.safetensors).
  void keep_best() {
    std::optional<double> fid;
    for (const auto& [name, v] : last_eval_)
      if (name == "fid") fid = v;
    if (!fid || !std::isfinite(*fid) || (best_step_ >= 0 && *fid >= best_fid_)) return;
    check_finite();
    best_fid_ = *fid;
    best_step_ = t_.step();
    io::write_file_atomic(dir_ + "/checkpoints/best.safetensors", checkpoint_bytes());
    if (ev_.on_output) ev_.on_output("best", dir_ + "/checkpoints/best.safetensors");
  }

  std::string write_checkpoint(bool periodic) {
    flush(t_.total_steps());  // a NaN since the last row must stop us before we save
    check_finite();
    std::string bytes = checkpoint_bytes();
    if (periodic) io::write_file_atomic(dir_ + "/checkpoints/" + step_name("step", t_.step(), ".safetensors"), bytes);
    io::write_file_atomic(last_path(), bytes);
    good_checkpoint_ = last_path() + " (step " + std::to_string(t_.step()) + ")";
    if (ev_.on_output) ev_.on_output("checkpoint", last_path());
    return last_path();
  }

  Trainer& t_;
  std::string dir_;
  const RunEvents& ev_;
  eval::GradientLog gradients_;  // gradients.csv, gradients-hist.csv; first: it checks its steps, writing nothing
  std::unique_ptr<eval::TrainingEvaluator> eval_;  // before metrics_: its columns go into the log
  MetricsLog metrics_;
  std::string resumed_from_, good_checkpoint_;
  std::vector<StepScalars> pending_;
  Clock::time_point start_, interval_start_;
  int64_t interval_first_step_ = 0, first_step_ = 0, samples_step_ = -1;
  Tensor samples_;
  std::optional<Coverage> coverage_;
  std::vector<std::pair<std::string, double>> eval_values_, last_eval_;  // the pending row's; the latest
  double best_fid_ = 0;
  int64_t best_step_ = -1;  // -1: no evaluation yet
};

std::string describe_loss(const TrainConfig& c) {
  std::ostringstream os;
  os << c.loss << ", " << c.n_critic << " critic step(s) per generator step";
  if (c.loss == "wgan-gp") os << ", lambda " << c.gp_lambda;
  if (c.loss == "wgan") os << ", weight clipping +-" << c.clip;
  os << "; " << c.optimizer << " lr " << c.lr;
  if (c.lr_schedule != "constant") os << " (" << c.lr_schedule << " decay to 0)";
  if (c.optimizer == "adam") os << " betas (" << c.beta1 << ", " << c.beta2 << ")";
  os << ", batch " << c.batch;
  return os.str();
}

// The run's hold on its folder: a second `gan train` there would interleave checkpoints and rows.
io::FolderLock lock_folder(const char* flag, const std::string& dir) {
  try {
    return io::FolderLock(dir);
  } catch (const Error& e) {
    throw Error(std::string(flag) + " " + e.what());
  }
}

// Temporary files of writers killed mid-write (power loss, SIGKILL, out of memory) would pile up;
// with the folder locked, none of them belongs to a live run here.
void clean_stale_temp_files(const std::string& dir, const RunEvents& ev) {
  std::vector<std::string> removed;
  for (const std::string& d : {dir, dir + "/checkpoints", dir + "/samples", dir + "/eval"}) {
    if (!io::is_directory(d)) continue;
    for (const std::string& name : io::remove_stale_temp_files(d)) removed.push_back(d + "/" + name);
  }
  if (removed.empty()) return;
  std::string list;
  for (const std::string& r : removed) list += (list.empty() ? "" : ", ") + r;
  note(ev, "removed " + std::to_string(removed.size()) + " temporary file(s) left by a killed process: " + list);
}

// What a run (and `gan analyze` with its default --out) writes into its folder, by subfolder, as
// patterns of whole file names. --overwrite removes exactly these, so that no checkpoint, sample,
// metrics row or picture of the replaced run is mixed with the new one, while files a person put
// there (notes, their own pictures, other folders) stay.
const std::vector<std::pair<std::string, std::string>> kRunOutputs = {
    {"", R"(config\.json|metrics\.csv|gradients\.csv|gradients-hist\.csv|curves\.png)"},
    {"samples", R"(step-[0-9]+\.png|last\.png)"},
    {"checkpoints", R"(step-[0-9]+\.safetensors|last\.safetensors|best\.safetensors)"},
    {"eval", R"(reference-.+\.npz)"},
    {"analysis", R"((gradient-flow|latent-sensitivity|saliency|gradient-histograms)\.(png|csv)|latent-sweeps\.png|)"
                 R"(embedding-.+\.(png|csv|json))"},
};

// Removes the previous run's outputs (kRunOutputs) from `dir`; their paths.
std::vector<std::string> remove_run_outputs(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  for (const auto& [sub, pattern] : kRunOutputs) {
    const fs::path folder = sub.empty() ? fs::path(dir) : fs::path(dir) / sub;
    if (!io::is_directory(folder.string())) continue;
    const std::regex names(pattern);
    std::error_code ec;
    std::vector<fs::path> doomed;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec) && std::regex_match(it->path().filename().string(), names)) doomed.push_back(it->path());
    GAN_CHECK(!ec, folder.string() << ": cannot list folder: " << ec.message());
    for (const fs::path& f : doomed) {
      GAN_CHECK(fs::remove(f, ec) && !ec, "--overwrite: cannot remove " << f.string() << " of the previous run: " << ec.message());
      removed.push_back(f.string());
    }
    if (!sub.empty() && fs::is_empty(folder, ec)) fs::remove(folder, ec);  // only an emptied folder goes
  }
  return removed;
}

void prepare_folder(const std::string& dir, const TrainConfig& cfg) {
  io::make_directories(dir + "/samples");
  io::make_directories(dir + "/checkpoints");
  io::write_file_atomic(dir + "/config.json", to_json(cfg).dump(2) + "\n");
}

}  // namespace

Device resolve_device(const std::string& spec) {
  if (spec == "auto") return cuda_available() ? Device::cuda(0) : Device::cpu();
  Device d = parse_device(spec);
  if (d.is_cuda())
    GAN_CHECK(cuda_available() && d.index < cuda_device_count(),
              "--device " << spec << ": "
                          << (cuda_available() ? "no such GPU" : "no CUDA device available (this build or machine)"));
  return d;
}

std::unique_ptr<Trainer> build_trainer(TrainConfig& cfg, const io::SafetensorsFile* checkpoint, const std::string& source,
                                       const RunEvents& ev, std::unique_ptr<DataSource> data, const DataParallel* dp) {
  if (checkpoint || data) cfg.validate();  // a fresh run's model is fitted to its data first
  Device device = resolve_device(cfg.device);
  if (dp) device = dp->device(cfg.device, device);
#ifdef GAN_WITH_CUDA  // kernel family and TF32 apply to CUDA only
  if (!cfg.kernels.empty()) cuda::set_kernel_impl(cfg.kernels);
  cuda::set_allow_tf32(cfg.tf32_math());
#endif
  if (!data) data = make_data_source(cfg, checkpoint == nullptr);
  note(ev, "data: " + data->describe());
  auto trainer = std::make_unique<Trainer>(cfg, std::move(data), device);
  if (checkpoint) {
    trainer->restore(*checkpoint, source);
    note(ev, "resuming " + cfg.model.arch + " at step " + std::to_string(trainer->step()) + " of " +
                 std::to_string(trainer->total_steps()) + " on " + device.str());
  } else {
    note(ev, "loss: " + describe_loss(cfg));
    std::string nets;
    for (auto& [name, m] : trainer->recipe().networks())  // state without weights (cyclegan's pools) is no network
      if (m->num_parameters() > 0) nets += ", " + name + " " + std::to_string(m->num_parameters()) + " parameters";
    note(ev, "model: " + cfg.model.arch + nets + ", on " + device.str());
  }
  if (device.is_cpu()) {
    note(ev, "cpu: matrix products by " + cpu::describe_products());
    // Convolution weights are the only 4-d parameters: a model without them (MLP, toy) has no
    // convolution choice to report.
    bool has_conv = false;
    for (auto& [name, m] : trainer->recipe().networks())
      for (const Tensor& p : m->parameters()) has_conv = has_conv || p.dim() == 4;
    if (has_conv) note(ev, "cpu: " + cpu::winograd::describe());
    if (std::string w = cpu::products_warning(); !w.empty()) note(ev, "warning: " + w);
  }
  return trainer;
}

namespace {

// What a rank hears: rank 0 all of `ev`, the others nothing (rank 0 reports the run). A stop request
// (a signal to any rank) is answered by every rank alike, so that all stop after the same step.
RunEvents rank_events(const RunEvents& ev, const std::shared_ptr<DataParallel>& dp) {
  if (!dp) return ev;
  RunEvents out;
  if (dp->root()) out = ev;
  out.should_stop = [dp, mine = ev.should_stop] { return dp->any(mine && mine()); };
  return out;
}

// Setup that may fail on some ranks only: with ranks, each runs `step` and all of them stop with
// the failures' messages when any failed (DataParallel::agree).
void on_every_rank(const std::shared_ptr<DataParallel>& dp, const std::function<void()>& step) {
  if (dp) dp->agree(step);
  else step();
}

// A rank other than 0 trains the same steps as rank 0's loop and writes nothing; it stops where
// rank 0 does (the stop request is collective).
RunResult follow(Trainer& t, const RunEvents& ev) {
  RunResult r;
  r.follower = true;
  r.first_step = t.step();
  const Clock::time_point start = Clock::now();
  const int64_t total = t.total_steps();
  while (t.step() < total) {
    t.train_step();
    if (t.step() != total && ev.should_stop()) {
      r.interrupted = true;
      break;
    }
  }
  r.last_step = t.step();
  r.seconds = seconds_since(start);
  return r;
}

// The training loop of every rank: rank 0's (or the single process's) is `run`.
RunResult train(Trainer& t, Run* run, const std::shared_ptr<DataParallel>& dp, const RunEvents& ev) {
  if (!dp) return run->go();
  t.distribute(dp);
  note(ev, dp->describe(t.config()));
  return dp->root() ? run->go() : follow(t, ev);
}

}  // namespace

RunResult run_training(TrainConfig cfg, const std::string& dir, const RunEvents& events, bool overwrite) {
  GAN_CHECK(!dir.empty(), "--out: an output folder is required");
  std::shared_ptr<DataParallel> dp = DataParallel::from_launch();
  if (dp) dp->check_same_settings(cfg, "gan train --out " + dir + (overwrite ? " --overwrite" : ""));
  const bool root = !dp || dp->root();
  const RunEvents ev = rank_events(events, dp);
  std::string last = dir + "/checkpoints/last.safetensors";
  io::FolderLock lock;
  std::unique_ptr<Trainer> trainer;
  std::unique_ptr<Run> run;
  on_every_rank(dp, [&] {
    if (root) {  // rank 0 alone holds and writes the folder
      GAN_CHECK(!io::file_exists(dir) || io::is_directory(dir), "--out " << dir << ": exists and is not a folder");
      // An existing folder is locked before anything else, so that a run there is reported as such;
      // a new one once the checks have passed and it is created.
      if (io::is_directory(dir)) lock = lock_folder("--out", dir);
      GAN_CHECK(overwrite || !(io::file_exists(last) || io::file_exists(dir + "/metrics.csv")),
                "--out " << dir << ": already holds a run; continue it with --resume " << dir
                         << ", or pass --overwrite to start over there");
    }
    trainer = build_trainer(cfg, nullptr, "", ev, nullptr, dp.get());
  });
  on_every_rank(dp, [&] {  // every rank is ready: rank 0 writes
    if (!root) return;
    if (cfg.eval_every > 0) eval::training_feature_net(trainer->config(), Device::cpu());  // a bad one writes nothing
    run = std::make_unique<Run>(*trainer, dir, ev, "");  // checks the config against the run's length before its evaluator writes
    if (!lock.held()) {
      io::make_directories(dir);
      lock = lock_folder("--out", dir);
    }
    clean_stale_temp_files(dir, ev);
    if (overwrite) {
      const std::vector<std::string> removed = remove_run_outputs(dir);
      if (!removed.empty())
        note(ev, "--overwrite: removed " + std::to_string(removed.size()) + " file(s) of the previous run in " + dir);
    }
    prepare_folder(dir, trainer->config());
    run->metrics().start();
    run->gradients().start();
  });
  return train(*trainer, run.get(), dp, ev);
}

RunResult resume_training(const std::string& dir, const ResumeOverrides& o, const RunEvents& events) {
  std::shared_ptr<DataParallel> dp = DataParallel::from_launch();
  const bool root = !dp || dp->root();
  const RunEvents ev = rank_events(events, dp);
  std::string path = dir + "/checkpoints/last.safetensors";
  io::FolderLock lock;
  io::SafetensorsFile f;
  TrainConfig cfg;
  on_every_rank(dp, [&] {  // every rank reads the same checkpoint (the folder is shared)
    GAN_CHECK(io::is_directory(dir), "--resume " << dir << ": no such folder");
    if (root) lock = lock_folder("--resume", dir);
    GAN_CHECK(io::file_exists(path), "--resume " << dir << ": no checkpoint at " << path);
    f = io::load_safetensors(path);
    cfg = checkpoint_config(f, path);
    if (o.steps) {
      cfg.steps = *o.steps;
      cfg.epochs = 0;
    }
    if (o.epochs) {
      cfg.epochs = *o.epochs;
      cfg.steps = 0;
    }
    if (o.sample_every) cfg.sample_every = *o.sample_every;
    if (o.checkpoint_every) cfg.checkpoint_every = *o.checkpoint_every;
    if (o.log_every) cfg.log_every = *o.log_every;
    if (o.device) cfg.device = *o.device;
    if (o.kernels) cfg.kernels = *o.kernels;
    if (o.tf32) cfg.tf32 = *o.tf32;
    if (o.precision) cfg.precision = *o.precision;
    if (o.cuda_graph) cfg.cuda_graph = *o.cuda_graph;
    if (o.bucket_mb) cfg.bucket_mb = *o.bucket_mb;
    if (o.grad_hist_steps) cfg.grad_hist_steps = *o.grad_hist_steps;
  });
  if (dp) {
    auto step = f.metadata.find("step");
    dp->check_same_settings(cfg, "gan train --resume " + dir + " at step " + (step == f.metadata.end() ? "?" : step->second));
  }
  std::unique_ptr<Trainer> trainer;
  std::unique_ptr<Run> run;
  on_every_rank(dp, [&] {
    trainer = build_trainer(cfg, &f, path, ev, nullptr, dp.get());
    GAN_CHECK(trainer->step() <= trainer->total_steps(), "--resume " << dir << ": the checkpoint is at step "
                                                                     << trainer->step() << ", past the requested "
                                                                     << trainer->total_steps() << " steps");
  });
  on_every_rank(dp, [&] {  // every rank is ready: rank 0 writes
    if (!root) return;
    run = std::make_unique<Run>(*trainer, dir, ev, path + " (step " + std::to_string(trainer->step()) + ")");
    run->restore_best(f, path);  // before anything is written: damaged metadata leaves the folder as it was
    clean_stale_temp_files(dir, ev);
    prepare_folder(dir, cfg);
    run->metrics().keep_until(trainer->step());
    run->gradients().keep_until(trainer->step());
  });
  return train(*trainer, run.get(), dp, ev);
}

}  // namespace gan::models
