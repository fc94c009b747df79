#include "models/run.h"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/io/file_util.h"
#ifdef GAN_WITH_CUDA
#include "engine/cuda/kernel_select.h"
#endif
#include "engine/io/image.h"
#include "engine/io/plot.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "models/data.h"
#include "models/toy.h"
#include "models/toy_plot.h"
#include "models/trainer.h"

namespace gan::models {

namespace {

using Clock = std::chrono::steady_clock;
// The first seven columns are those of every earlier version; later ones are empty where the
// loss or the data has no such figure.
constexpr const char* kMetricsHeader =
    "step,epoch,loss_d,loss_g,d_x,d_g_z,images_per_s,wasserstein,gradient_penalty,grad_norm,modes_covered,"
    "high_quality,reverse_kl";
constexpr int64_t kCriticGrid = 72;    // heat map resolution (critic evaluations per side)
constexpr int64_t kRealPlotted = 1000;  // real points drawn under the generated ones

std::string step_name(const std::string& stem, int64_t step, const std::string& ext) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%06lld%s", stem.c_str(), static_cast<long long>(step), ext.c_str());
  return buf;
}

void note(const RunEvents& ev, const std::string& s) {
  if (ev.on_info) ev.on_info(s);
}

// One training loop over a prepared trainer, shared by fresh and resumed runs.
class Run {
 public:
  Run(Trainer& t, std::string dir, const RunEvents& ev) : t_(t), dir_(std::move(dir)), ev_(ev) {}

  RunResult go() {
    RunResult r;
    r.out_dir = dir_;
    r.config_path = dir_ + "/config.json";
    r.metrics_path = dir_ + "/metrics.csv";
    r.first_step = t_.step();
    load_rows(r.metrics_path);
    metrics_.open(r.metrics_path, std::ios::app);
    GAN_CHECK(metrics_, r.metrics_path << ": cannot open for writing");
    const TrainConfig& cfg = t_.config();
    const int64_t total = t_.total_steps();
    start_ = interval_start_ = Clock::now();
    first_step_ = interval_first_step_ = t_.step();
    while (t_.step() < total) {
      pending_.push_back(t_.train_step());
      const int64_t s = t_.step();
      const bool last = s == total;
      const bool sample = cfg.sample_every > 0 && (s % cfg.sample_every == 0 || last);
      // Toy runs measure mode coverage on the plotted points, in the row of the same step.
      if (t_.toy_data() && (sample || last)) evaluate_toy();
      if (s % cfg.log_every == 0 || last || sample) flush(total);
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
    write_curves();
    r.last_step = t_.step();
    r.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    return r;
  }

 private:
  std::string last_path() const { return dir_ + "/checkpoints/last.safetensors"; }

  // Reads the pending step scalars (one device read), checks them, appends a metrics row and
  // reports progress.
  void flush(int64_t total) {
    if (pending_.empty()) return;
    std::vector<Tensor> parts;
    // Loss terms a step lacks are read as NaN placeholders and left out of the means.
    const Tensor missing = Tensor::full({1}, NAN, pending_[0].loss_d.dtype(), pending_[0].loss_d.device());
    for (const auto& p : pending_) {
      for (const Tensor* t : {&p.loss_d, &p.loss_g, &p.d_x, &p.d_g_z}) parts.push_back(t->reshape({1}));
      for (const Tensor* t : {&p.terms.wasserstein, &p.terms.gradient_penalty, &p.terms.grad_norm})
        parts.push_back(t->defined() ? t->reshape({1}).to(missing.dtype()) : missing);
    }
    std::vector<double> v = cat(parts, 0).to_double_vector();
    const size_t n = pending_.size();
    constexpr int kCols = 7;
    double sums[kCols] = {0, 0, 0, 0, 0, 0, 0};
    bool has[3] = {false, false, false};
    for (size_t i = 0; i < n; ++i) {
      for (int k = 4; k < kCols; ++k) {
        double x = v[i * kCols + k];
        bool defined = (k == 4 ? pending_[i].terms.wasserstein : k == 5 ? pending_[i].terms.gradient_penalty
                                                                          : pending_[i].terms.grad_norm)
                           .defined();
        if (!defined) continue;
        if (!std::isfinite(x)) {
          static const char* names[3] = {"the Wasserstein estimate", "the gradient penalty", "the gradient norm"};
          int64_t bad_step = t_.step() - static_cast<int64_t>(n - 1 - i);
          pending_.clear();
          throw TrainingDiverged("training diverged: " + std::string(names[k - 4]) + " is " + std::to_string(x) +
                                 " at step " + std::to_string(bad_step) + " (try a lower --lr)");
        }
        has[k - 4] = true;
        sums[k] += x;
      }
      for (int k = 0; k < 4; ++k) {
        double x = v[i * kCols + k];
        if (!std::isfinite(x)) {
          static const char* names[4] = {"loss_d", "loss_g", "D(x)", "D(G(z))"};
          int64_t bad_step = t_.step() - static_cast<int64_t>(n - 1 - i);
          pending_.clear();
          throw TrainingDiverged("training diverged: " + std::string(names[k]) + " is " + std::to_string(x) +
                                 " at step " + std::to_string(bad_step) + "; " +
                                 (good_checkpoint_.empty() ? std::string("no checkpoint was written yet")
                                                           : "the last good checkpoint is " + good_checkpoint_) +
                                 " (try a lower --lr)");
        }
        sums[k] += x;
      }
    }
    pending_.clear();
    auto now = Clock::now();
    double dt = std::chrono::duration<double>(now - interval_start_).count();
    double since = std::chrono::duration<double>(now - start_).count();
    LogRecord rec;
    rec.step = t_.step();
    rec.total_steps = total;
    rec.epoch = t_.epoch();
    rec.loss_d = sums[0] / n;
    rec.loss_g = sums[1] / n;
    rec.d_x = sums[2] / n;
    rec.d_g_z = sums[3] / n;
    rec.images_per_s = dt > 0 ? static_cast<double>((t_.step() - interval_first_step_) * t_.images_per_step()) / dt : 0;
    int64_t done = t_.step() - first_step_;
    rec.steps_per_s = since > 0 ? done / since : 0;
    rec.elapsed_s = since;
    rec.eta_s = rec.steps_per_s > 0 ? (total - t_.step()) / rec.steps_per_s : 0;
    interval_start_ = now;
    interval_first_step_ = t_.step();
    char line[256];
    std::snprintf(line, sizeof line, "%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.1f", static_cast<long long>(rec.step),
                  static_cast<long long>(rec.epoch), rec.loss_d, rec.loss_g, rec.d_x, rec.d_g_z, rec.images_per_s);
    std::string row = line;
    for (int k = 0; k < 3; ++k) {
      row += ",";
      if (has[k]) {
        std::snprintf(line, sizeof line, "%.6g", sums[4 + k] / n);
        row += line;
      }
    }
    if (coverage_) {
      last_coverage_ = coverage_;
      std::snprintf(line, sizeof line, ",%lld,%.4f,%.6g", static_cast<long long>(coverage_->modes_covered),
                    coverage_->high_quality_share, coverage_->reverse_kl);
      row += line;
      rec.coverage = *coverage_;
      coverage_.reset();
    } else {
      row += ",,,";
    }
    if (has[0]) rec.wasserstein = sums[4] / n;
    metrics_ << row << "\n";
    rows_.push_back({static_cast<double>(rec.step), rec.loss_d, rec.loss_g, rec.d_x, rec.d_g_z});
    metrics_.flush();
    if (ev_.on_log) ev_.on_log(rec);
  }

  // Generated points from the fixed noise and, on data with modes, their coverage.
  void evaluate_toy() {
    toy_points_ = t_.generate(t_.fixed_noise()).to_double_vector();
    const ToyData& d = *t_.toy_data();
    if (!d.modes.empty()) coverage_ = mode_coverage(toy_points_, d);
  }

  std::string write_toy_plot() {
    const ToyData& d = *t_.toy_data();
    ToyPlot p;
    p.extent = d.extent;
    Generator real_gen(0x706c6f74ULL);  // the same real points in every plot
    p.real = sample_toy(d, kRealPlotted, real_gen).to_double_vector();
    p.fake = toy_points_;
    p.critic = critic_grid(*t_.model().discriminator, d.extent, kCriticGrid);
    p.grid_n = kCriticGrid;
    const TrainConfig& c = t_.config();
    p.title = d.name + " " + c.loss + " STEP " + std::to_string(t_.step());
    if (last_coverage_)
      p.title += "  MODES " + std::to_string(last_coverage_->modes_covered) + "/" +
                 std::to_string(last_coverage_->modes) + "  HQ " +
                 std::to_string(static_cast<int>(std::lround(100 * last_coverage_->high_quality_share))) + "/100";
    std::string png = io::encode_png(render_toy_plot(p));
    std::string path = dir_ + "/samples/" + step_name("step", t_.step(), ".png");
    io::write_file_atomic(path, png);
    io::write_file_atomic(dir_ + "/samples/last.png", png);
    if (ev_.on_output) ev_.on_output("sample", path);
    return path;
  }

  std::string write_samples() {
    if (t_.toy_data()) return write_toy_plot();
    Tensor x = t_.generate(t_.fixed_noise());
    int64_t n = x.size(0);
    int64_t nrow = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
    std::string png = io::encode_png(io::make_grid(x, nrow));
    std::string path = dir_ + "/samples/" + step_name("step", t_.step(), ".png");
    io::write_file_atomic(path, png);
    io::write_file_atomic(dir_ + "/samples/last.png", png);
    write_curves();
    if (ev_.on_output) ev_.on_output("sample", path);
    return path;
  }

  // Rows already in metrics.csv (a resumed run's history), so the curves cover the whole run.
  void load_rows(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::array<double, 5> row{};
      if (std::sscanf(line.c_str(), "%lf,%*f,%lf,%lf,%lf,%lf", &row[0], &row[1], &row[2], &row[3], &row[4]) == 5)
        rows_.push_back(row);
    }
  }

  // DIR/curves.png: losses above, D's outputs below, against the step.
  void write_curves() {
    if (rows_.empty()) return;
    auto series = [&](const char* label, int col, uint8_t r, uint8_t g, uint8_t b) {
      io::Series s{label, {}, {}, r, g, b};
      for (const auto& row : rows_) {
        s.x.push_back(row[0]);
        s.y.push_back(row[col]);
      }
      return s;
    };
    io::PlotOptions losses{"losses", "step", 720, 260, false, 0, 1};
    io::PlotOptions outputs{"discriminator outputs (mean sigmoid)", "step", 720, 220, true, 0, 1};
    io::Image img = io::stack_vertically(
        {io::line_plot({series("loss_d", 1, 31, 119, 180), series("loss_g", 2, 255, 127, 14)}, losses),
         io::line_plot({series("D(x)", 3, 44, 160, 44), series("D(G(z))", 4, 214, 39, 40)}, outputs)});
    io::save_png(dir_ + "/curves.png", img);
  }

  std::string write_checkpoint(bool periodic) {
    flush(t_.total_steps());  // a NaN since the last row must stop us before we save
    if (!t_.state_finite())
      throw TrainingDiverged("training diverged: the weights hold NaN or infinity at step " + std::to_string(t_.step()) +
                             "; " + (good_checkpoint_.empty() ? std::string("no checkpoint was written yet")
                                                               : "the last good checkpoint is " + good_checkpoint_));
    std::string bytes = io::serialize_safetensors(t_.checkpoint());
    if (periodic) {
      std::string p = dir_ + "/checkpoints/" + step_name("step", t_.step(), ".safetensors");
      io::write_file_atomic(p, bytes);
    }
    io::write_file_atomic(last_path(), bytes);
    good_checkpoint_ = last_path() + " (step " + std::to_string(t_.step()) + ")";
    if (ev_.on_output) ev_.on_output("checkpoint", last_path());
    return last_path();
  }

 public:
  void set_good_checkpoint(const std::string& s) { good_checkpoint_ = s; }

 private:
  Trainer& t_;
  std::string dir_;
  const RunEvents& ev_;
  std::ofstream metrics_;
  std::vector<StepLosses> pending_;
  std::vector<std::array<double, 5>> rows_;  // step, loss_d, loss_g, d_x, d_g_z
  Clock::time_point start_, interval_start_;
  int64_t interval_first_step_ = 0, first_step_ = 0;
  std::string good_checkpoint_;
  std::vector<double> toy_points_;
  std::optional<Coverage> coverage_, last_coverage_;
};

// Kernel family and TF32 apply to CUDA only; a CPU-only build has nothing to choose.
void set_kernel_choice(const TrainConfig& cfg) {
#ifdef GAN_WITH_CUDA
  if (!cfg.kernels.empty()) cuda::set_kernel_impl(cfg.kernels);
  cuda::set_allow_tf32(cfg.tf32);
#endif
}

std::string describe_data(const io::ImageDataset& d) {
  std::ostringstream os;
  os << d.count << " images " << d.channels << "x" << d.height << "x" << d.width << " from " << d.source;
  return os.str();
}

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

RunResult run_training(TrainConfig cfg, const std::string& dir, const RunEvents& ev, bool overwrite) {
  GAN_CHECK(!dir.empty(), "--out: an output folder is required");
  std::string last = dir + "/checkpoints/last.safetensors";
  GAN_CHECK(overwrite || !(io::file_exists(last) || io::file_exists(dir + "/metrics.csv")),
            "--out " << dir << ": already holds a run; continue it with --resume " << dir
                     << ", or pass --overwrite to start over there");
  GAN_CHECK(!io::file_exists(dir) || io::is_directory(dir), "--out " << dir << ": exists and is not a folder");
  Device device = resolve_device(cfg.device);
  set_kernel_choice(cfg);
  std::unique_ptr<Trainer> owned;
  if (is_toy_data(cfg.data)) {
    cfg.validate();
    note(ev, "data: " + cfg.data + " (2-D points, a fresh batch every critic step)");
    owned = std::make_unique<Trainer>(cfg, device);
  } else {
    io::ImageDataset data = load_dataset(cfg.data, model_image_size(cfg.model.arch, 32));
    fit_model_to_data(cfg, data);
    note(ev, "data: " + describe_data(data));
    owned = std::make_unique<Trainer>(cfg, data, device);
  }
  Trainer& trainer = *owned;
  note(ev, "loss: " + describe_loss(trainer.config()));
  note(ev, "model: " + cfg.model.arch + ", generator " + std::to_string(trainer.model().generator->num_parameters()) +
               " parameters, discriminator " + std::to_string(trainer.model().discriminator->num_parameters()) +
               " parameters, on " + device.str());

  io::make_directories(dir + "/samples");
  io::make_directories(dir + "/checkpoints");
  io::write_file_atomic(dir + "/config.json", to_json(trainer.config()).dump(2) + "\n");
  io::write_file_atomic(dir + "/metrics.csv", std::string(kMetricsHeader) + "\n");
  if (overwrite) {  // stale outputs of the replaced run would mislead
    std::remove(last.c_str());
  }
  Run run(trainer, dir, ev);
  return run.go();
}

// Keeps the header and the rows of steps <= `step` (the steps a resumed run does not redo).
static void truncate_metrics(const std::string& path, int64_t step) {
  std::string kept = std::string(kMetricsHeader) + "\n";
  if (io::file_exists(path)) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      long long s = std::atoll(line.c_str());
      if (s <= step) kept += line + "\n";
    }
  }
  io::write_file_atomic(path, kept);
}

RunResult resume_training(const std::string& dir, const ResumeOverrides& o, const RunEvents& ev) {
  std::string path = dir + "/checkpoints/last.safetensors";
  GAN_CHECK(io::file_exists(path), "--resume " << dir << ": no checkpoint at " << path);
  io::SafetensorsFile f = io::load_safetensors(path);
  TrainConfig cfg = checkpoint_config(f, path);
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
  cfg.validate();
  Device device = resolve_device(cfg.device);
  set_kernel_choice(cfg);
  std::unique_ptr<Trainer> owned;
  if (is_toy_data(cfg.data)) {
    note(ev, "data: " + cfg.data);
    owned = std::make_unique<Trainer>(cfg, device);
  } else {
    io::ImageDataset data = load_dataset(cfg.data, cfg.model.image_size);
    GAN_CHECK(data.channels == cfg.model.channels, "--resume " << dir << ": the data (" << describe_data(data)
                                                               << ") no longer matches the checkpoint's model");
    note(ev, "data: " + describe_data(data));
    owned = std::make_unique<Trainer>(cfg, data, device);
  }
  Trainer& trainer = *owned;
  trainer.restore(f, path);
  GAN_CHECK(trainer.step() <= trainer.total_steps(), "--resume " << dir << ": the checkpoint is at step "
                                                                 << trainer.step() << ", past the requested "
                                                                 << trainer.total_steps() << " steps");
  note(ev, "resuming " + cfg.model.arch + " at step " + std::to_string(trainer.step()) + " of " +
               std::to_string(trainer.total_steps()) + " on " + device.str());
  io::make_directories(dir + "/samples");
  io::make_directories(dir + "/checkpoints");
  io::write_file_atomic(dir + "/config.json", to_json(cfg).dump(2) + "\n");
  truncate_metrics(dir + "/metrics.csv", trainer.step());
  Run run(trainer, dir, ev);
  run.set_good_checkpoint(path + " (step " + std::to_string(trainer.step()) + ")");
  return run.go();
}

}  // namespace gan::models
