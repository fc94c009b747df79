// gan train: flags -> TrainConfig, progress on stderr, outputs listed at the end.
#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <set>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "models/config.h"
#include "models/progress.h"
#include "models/run.h"
#include "models/toy.h"

namespace gan::app {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
// First Ctrl-C: finish the step, checkpoint, exit. A second one kills the process.
void on_sigint(int) {
  g_interrupted = 1;
  static const char msg[] = "\nstopping after this step and writing a checkpoint (Ctrl-C again to abort)\n";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  (void)ignored;
  std::signal(SIGINT, SIG_DFL);
}

struct TrainFlags {
  models::TrainConfig cfg;
  std::string out, resume;
  bool overwrite = false;
  int64_t toy_width = 0;
  CLI::Option *steps = nullptr, *epochs = nullptr, *sample_every = nullptr, *checkpoint_every = nullptr,
              *log_every = nullptr, *device = nullptr, *kernels = nullptr, *tf32 = nullptr,
              *out_opt = nullptr;
  std::vector<CLI::Option*> fixed_on_resume;  // settings that come from the checkpoint
  // Options whose defaults depend on the loss and the data: config field name -> option.
  std::vector<std::pair<std::string, CLI::Option*>> loss_dependent;
};

// Default run lengths: on a CPU what finishes in minutes on 2 cores and already shows digits on
// MNIST; a GPU trains longer in less time. Toy runs: 10000 steps either way, the length at which
// the toy defaults were measured to converge (docs/wgan.md; WGAN-GP ~12 min on 2 cores).
int64_t default_steps(const std::string& arch, bool gpu) {
  if (arch == "mlp") return gpu ? 20000 : 3000;
  if (arch == "toy") return 10000;
  return gpu ? 5000 : 1500;
}

int run_train(TrainFlags& f) {
  bool tty = ::isatty(2);
  bool bar_drawn = false;
  int64_t plain_every = 0;
  if (f.toy_width > 0) {
    GAN_CHECK(f.cfg.model.arch == "toy" || models::is_toy_data(f.cfg.data), "--toy-width: only for toy (2-D) models");
    f.cfg.model.g_hidden = f.cfg.model.d_hidden = {f.toy_width, f.toy_width, f.toy_width};
  }
  models::RunEvents ev;
  ev.on_info = [&](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
  ev.on_log = [&](const models::LogRecord& r) {
    if (tty) {
      // A line longer than the terminal would wrap and defeat the carriage return.
      std::string line = models::progress_bar(r);
      struct winsize ws {};
      if (::ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 && line.size() >= ws.ws_col) line.resize(ws.ws_col - 1);
      std::fprintf(stderr, "\r\033[2K%s", line.c_str());
      bar_drawn = true;
    } else {
      if (plain_every == 0) {  // about 20 lines a run, on logging steps
        int64_t le = f.cfg.log_every;
        plain_every = std::max<int64_t>(le, (r.total_steps / 20 + le - 1) / le * le);
      }
      if (r.step % plain_every == 0 || r.step == r.total_steps)
        std::fprintf(stderr, "%s\n", models::progress_line(r).c_str());
    }
    std::fflush(stderr);
  };
  ev.on_output = [&](const std::string&, const std::string&) {};
  ev.should_stop = [] { return g_interrupted != 0; };
  std::signal(SIGINT, on_sigint);

  models::RunResult r;
  try {
    if (!f.resume.empty()) {
      models::ResumeOverrides o;
      if (f.steps->count()) o.steps = f.cfg.steps;
      if (f.epochs->count()) o.epochs = f.cfg.epochs;
      if (f.sample_every->count()) o.sample_every = f.cfg.sample_every;
      if (f.checkpoint_every->count()) o.checkpoint_every = f.cfg.checkpoint_every;
      if (f.log_every->count()) o.log_every = f.cfg.log_every;
      if (f.device->count()) o.device = f.cfg.device;
      if (f.kernels->count()) o.kernels = f.cfg.kernels;
      if (f.tf32->count()) o.tf32 = f.cfg.tf32;
      r = models::resume_training(f.resume, o, ev);
    } else {
      std::set<std::string> given;
      for (auto& [field, opt] : f.loss_dependent)
        if (opt->count()) given.insert(field);
      models::apply_defaults(f.cfg, given);
      if (!f.steps->count() && !f.epochs->count())
        f.cfg.steps = default_steps(f.cfg.model.arch, models::resolve_device(f.cfg.device).is_cuda());
      if (f.out.empty()) f.out = "runs/" + f.cfg.model.arch;
      r = models::run_training(f.cfg, f.out, ev, f.overwrite);
    }
  } catch (...) {
    if (bar_drawn) std::fprintf(stderr, "\n");
    throw;
  }
  if (bar_drawn) std::fprintf(stderr, "\n");
  std::fprintf(stderr, "%s steps %lld..%lld in %s (%.2f s/100 steps)\n",
               r.interrupted ? "interrupted after" : "trained", static_cast<long long>(r.first_step),
               static_cast<long long>(r.last_step), models::format_duration(r.seconds).c_str(),
               r.last_step > r.first_step ? 100.0 * r.seconds / static_cast<double>(r.last_step - r.first_step) : 0.0);
  std::printf("outputs in %s/\n", r.out_dir.c_str());
  if (!r.last_sample.empty()) std::printf("  samples:    %s (latest: %s/samples/last.png)\n", r.last_sample.c_str(),
                                          r.out_dir.c_str());
  std::printf("  metrics:    %s (curves: %s/curves.png)\n", r.metrics_path.c_str(), r.out_dir.c_str());
  if (!r.last_checkpoint.empty()) std::printf("  checkpoint: %s\n", r.last_checkpoint.c_str());
  std::printf("  config:     %s\n", r.config_path.c_str());
  if (r.interrupted) {
    std::printf("continue with: gan train --resume %s\n", r.out_dir.c_str());
    return 130;
  }
  return 0;
}

}  // namespace

Runner add_train_command(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  models::TrainConfig& c = f->cfg;
  auto fixed = [&](CLI::Option* o) {
    f->fixed_on_resume.push_back(o);
    return o;
  };
  auto dep = [&](const char* field, CLI::Option* o) {
    f->loss_dependent.push_back({field, o});
    return fixed(o);
  };
  dep("model", app.add_option("--model", c.model.arch, "Architecture: mlp, dcgan32, dcgan64 or toy (2-D data; the default there)")
                   ->check(CLI::IsMember({"mlp", "dcgan32", "dcgan64", "toy"}))
                   ->capture_default_str());
  fixed(app.add_option("--data", c.data,
                       "Data set: mnist (bundled 10k digits), mnist:PATH, fashion:PATH, cifar10:PATH, folder:PATH, "
                       "or 2-D points: gaussians8, gaussians25, swissroll")
            ->capture_default_str());
  fixed(app.add_option("--loss", c.loss,
                       "Objective: bce, wgan (RMSProp 5e-5, clip 0.01, 5 critic steps), wgan-gp (Adam 1e-4 betas 0/0.9, "
                       "lambda 10, 5 critic steps; toy data: lr 3e-4 decayed linearly, betas 0.5/0.9, lambda 0.1), lsgan, hinge; each brings "
                       "these defaults unless the flags below are given")
            ->check(CLI::IsMember({"bce", "wgan", "wgan-gp", "lsgan", "hinge"}))
            ->capture_default_str());
  dep("n_critic", app.add_option("--n-critic", c.n_critic, "Critic steps per generator step (default: the loss's)")
                      ->check(CLI::Range(int64_t{1}, int64_t{1000})));
  dep("gp_lambda", app.add_option("--gp-lambda", c.gp_lambda, "wgan-gp penalty weight (default 10; toy data 0.1)")
                       ->check(CLI::NonNegativeNumber));
  dep("clip", app.add_option("--clip", c.clip, "wgan weight clipping bound (default 0.01)")->check(CLI::PositiveNumber));
  fixed(app.add_option("--critic-norm", c.model.critic_norm,
                       "DCGAN critic normalisation: batch (BatchNorm2d), layer (LayerNorm over C,H,W) or none; "
                       "wgan-gp needs layer or none")
            ->check(CLI::IsMember({"batch", "layer", "none"}))
            ->capture_default_str());
  f->out_opt = app.add_option("--out", f->out, "Output folder (default runs/MODEL)");
  f->steps = app.add_option("--steps", c.steps, "Generator steps to train (default on CPU: mlp 3000, dcgan 1500, toy 10000; on GPU: 20000, 5000, 10000)")
                 ->check(CLI::PositiveNumber);
  f->epochs = app.add_option("--epochs", c.epochs, "Passes over the data (instead of --steps)")
                  ->check(CLI::PositiveNumber)
                  ->excludes(f->steps);
  dep("batch", app.add_option("--batch", c.batch, "Batch size (toy data: 256)")->check(CLI::PositiveNumber)
                   ->capture_default_str());
  dep("lr", app.add_option("--lr", c.lr, "Learning rate, both networks (default: the loss's)")->check(CLI::PositiveNumber)
                ->capture_default_str());
  dep("lr_schedule", app.add_option("--lr-schedule", c.lr_schedule,
                                    "constant, or linear: lr x (1 - step/steps), reaching 0 at the last step (default: "
                                    "the loss's)")
                         ->check(CLI::IsMember({"constant", "linear"}))
                         ->capture_default_str());
  dep("beta1", app.add_option("--beta1", c.beta1, "Adam beta1 (SGD: momentum) (default: the loss's)")
                   ->check(CLI::Range(0.0, 0.999999))
                   ->capture_default_str());
  dep("beta2", app.add_option("--beta2", c.beta2, "Adam beta2 (default: the loss's)")->check(CLI::Range(0.0, 0.999999))
                   ->capture_default_str());
  dep("optimizer", app.add_option("--optimizer", c.optimizer, "adam, rmsprop or sgd (default: the loss's)")
                       ->check(CLI::IsMember({"adam", "rmsprop", "sgd"}))
                       ->capture_default_str());
  dep("nz", app.add_option("--nz", c.model.nz, "Latent size (toy: 2)")->check(CLI::PositiveNumber)->capture_default_str());
  dep("hidden", app.add_option("--toy-width", f->toy_width,
                               "Toy models: width of the 3 hidden layers of G and D (default 512)")
                    ->check(CLI::PositiveNumber));
  fixed(app.add_option("--ngf", c.model.ngf, "DCGAN generator width")->check(CLI::PositiveNumber)->capture_default_str());
  fixed(app.add_option("--ndf", c.model.ndf, "DCGAN discriminator width")->check(CLI::PositiveNumber)
            ->capture_default_str());
  fixed(app.add_option("--seed", c.seed, "Random seed (weights, noise, shuffling)")->capture_default_str());
  f->device = app.add_option("--device", c.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  f->kernels = app.add_option("--kernels", c.kernels,
                              "CUDA kernels: hand (hand-written) or cudnn (cuDNN/cuBLAS); default: $GAN_KERNELS, else the "
                              "faster as measured (cuDNN convolutions with --tf32, hand otherwise)")
                   ->check(CLI::IsMember({"hand", "cudnn"}));
  f->tf32 = app.add_flag("--tf32", c.tf32, "CUDA: TF32 tensor-core math for float32 (faster, ~1e-3 relative error)");
  f->sample_every = app.add_option("--sample-every", c.sample_every, "Write a sample grid every N steps and at the end (0: never)")
                        ->check(CLI::NonNegativeNumber)
                        ->capture_default_str();
  f->checkpoint_every = app.add_option("--checkpoint-every", c.checkpoint_every,
                                       "Write a checkpoint every N steps (0: only at the end)")
                            ->check(CLI::NonNegativeNumber)
                            ->capture_default_str();
  f->log_every = app.add_option("--log-every", c.log_every, "Metrics row and progress update every N steps")
                     ->check(CLI::PositiveNumber)
                     ->capture_default_str();
  dep("n_samples", app.add_option("--n-samples", c.n_samples,
                                  "Images in each sample grid (toy: points plotted and scored, 2500)")
                       ->check(CLI::PositiveNumber)
                       ->capture_default_str());
  app.add_option("--resume", f->resume, "Continue the run in this folder from its last checkpoint")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--overwrite", f->overwrite, "Start over in an --out folder that already holds a run");

  return [f]() -> int {
    if (!f->resume.empty()) {
      for (CLI::Option* o : f->fixed_on_resume)
        GAN_CHECK(o->count() == 0, o->get_name() << " cannot be given with --resume: the run's settings come from "
                                                    "its checkpoint (only --steps, --epochs, intervals, --device, "
                                                    "--kernels and --tf32 may change)");
      GAN_CHECK(f->out_opt->count() == 0 || f->out == f->resume, "--out and --resume name different folders");
    }
    return run_train(*f);
  };
}

}  // namespace gan::app
