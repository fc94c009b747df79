// gan train: flags -> TrainConfig, progress on stderr, outputs listed at the end.
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "models/config.h"
#include "models/progress.h"
#include "models/run.h"

namespace gan::app {

namespace {

// The signal that asked the run to stop (SIGINT: Ctrl-C; SIGTERM: timeout, Slurm, container
// stops), 0 while none has.
volatile std::sig_atomic_t g_stop_signal = 0;

// The first signal: finish the step, checkpoint, exit. A second one, of either kind, kills the
// process (the default action is back for both). Only async-signal-safe calls here.
void on_stop_signal(int sig) {
  g_stop_signal = sig;
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGINT, &dfl, nullptr);
  ::sigaction(SIGTERM, &dfl, nullptr);
  static const char int_msg[] = "\nstopping after this step and writing a checkpoint (Ctrl-C again to abort)\n";
  static const char term_msg[] = "\nSIGTERM: stopping after this step and writing a checkpoint (a second signal aborts)\n";
  ssize_t ignored = sig == SIGINT ? ::write(2, int_msg, sizeof int_msg - 1) : ::write(2, term_msg, sizeof term_msg - 1);
  (void)ignored;
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);  // the other one waits: the first signal is the one reported
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sa.sa_flags = SA_RESTART;  // a signal must not fail a read or write midway
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

struct TrainFlags {
  models::TrainConfig cfg;
  std::shared_ptr<RunFlags> run;
  std::string out, resume;
  bool overwrite = false;
  CLI::Option *steps = nullptr, *epochs = nullptr, *sample_every = nullptr, *checkpoint_every = nullptr,
              *log_every = nullptr, *device = nullptr, *kernels = nullptr, *tf32 = nullptr, *precision = nullptr,
              *cuda_graph = nullptr, *bucket_mb = nullptr, *out_opt = nullptr, *grad_hist = nullptr;
};

int run_train(TrainFlags& f) {
  bool tty = ::isatty(2);
  bool bar_drawn = false;
  int64_t plain_every = 0;
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
  ev.should_stop = [] { return g_stop_signal != 0; };
  install_stop_handlers();

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
      if (f.precision->count()) o.precision = f.cfg.precision;
      if (f.cuda_graph->count()) o.cuda_graph = f.cfg.cuda_graph;
      if (f.bucket_mb->count()) o.bucket_mb = f.cfg.bucket_mb;
      if (f.grad_hist->count()) o.grad_hist_steps = f.cfg.grad_hist_steps;
      r = models::resume_training(f.resume, o, ev);
    } else {
      f.run->apply(f.cfg);
      if (!f.steps->count() && !f.epochs->count())
        f.cfg.steps = models::default_steps(f.cfg.model.arch, models::resolve_device(f.cfg.device).is_cuda());
      if (f.out.empty()) f.out = "runs/" + f.cfg.model.arch;
      r = models::run_training(f.cfg, f.out, ev, f.overwrite);
    }
  } catch (...) {
    if (bar_drawn) std::fprintf(stderr, "\n");
    throw;
  }
  if (bar_drawn) std::fprintf(stderr, "\n");
  if (r.follower) return r.interrupted ? 128 + (g_stop_signal ? g_stop_signal : SIGINT) : 0;  // rank 0 reports
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
    return 128 + (g_stop_signal ? g_stop_signal : SIGINT);  // the shell's status for that signal: 130, 143
  }
  return 0;
}

}  // namespace

Runner add_train_command(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  models::TrainConfig& c = f->cfg;
  f->run = add_run_flags(app, c);
  f->out_opt = app.add_option("--out", f->out, "Output folder (default runs/MODEL)");
  f->steps = app.add_option("--steps", c.steps, "Generator steps to train (default on CPU: mlp 3000, dcgan 1500, toy 10000, cyclegan 2000; on GPU: 20000, 5000, 10000, 20000)")
                 ->check(integer(1, kMaxCount));
  f->epochs = app.add_option("--epochs", c.epochs, "Passes over the data (instead of --steps)")
                  ->check(integer(1, 1000000))
                  ->excludes(f->steps);
  f->device = app.add_option("--device", c.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  f->kernels = app.add_option("--kernels", c.kernels,
                              "CUDA kernels: hand (hand-written) or cudnn (cuDNN/cuBLAS); default: $GAN_KERNELS, else the "
                              "faster as measured (cuDNN convolutions with --tf32, hand otherwise)")
                   ->check(CLI::IsMember({"hand", "cudnn"}));
  f->tf32 = app.add_flag("--tf32", c.tf32, "CUDA: TF32 tensor-core math for float32 (faster, ~1e-3 relative error); "
                                           "the same as --precision tf32");
  f->precision = app.add_option("--precision", c.precision,
                                "fp32; tf32 (CUDA: TF32 tensor-core math for float32); bf16 (activations and weight "
                                "copies in bfloat16; float32 master weights, optimizer state, normalisations, losses)")
                     ->check(CLI::IsMember({"fp32", "tf32", "bf16"}))
                     ->capture_default_str();
  f->cuda_graph = app.add_option("--cuda-graph", c.cuda_graph,
                                 "CUDA: on records the training step as a CUDA graph after two warm-up steps and "
                                 "replays it (the same numbers as off, one launch per step); off runs every step "
                                 "uncaptured")
                      ->check(CLI::IsMember({"on", "off"}))
                      ->capture_default_str();
  f->bucket_mb = app.add_option("--bucket-mb", f->cfg.bucket_mb,
                                 "Data parallel (mpirun -np N): average gradients in buckets of this many MiB, each "
                                 "reduced while the backward pass goes on (0: one all-reduce after the pass)")
                      ->check(within(0.0, 1024.0))
                      ->capture_default_str();
  f->sample_every = app.add_option("--sample-every", c.sample_every, "Write a sample grid every N steps and at the end (0: never)")
                        ->check(integer(0, kMaxCount))
                        ->capture_default_str();
  f->checkpoint_every = app.add_option("--checkpoint-every", c.checkpoint_every,
                                       "Write a checkpoint every N steps (0: only at the end)")
                            ->check(integer(0, kMaxCount))
                            ->capture_default_str();
  f->log_every = app.add_option("--log-every", c.log_every, "Metrics row and progress update every N steps")
                     ->check(integer(1, kMaxCount))
                     ->capture_default_str();
  f->run->loss_dependent.push_back({"n_samples", app.add_option("--n-samples", c.n_samples,
                                                                 "Images in each sample grid (toy: points plotted and "
                                                                 "scored, 2500; cyclegan: fixed images of each domain, 8)")
                                                      ->check(integer(1, 1 << 16))
                                                      ->capture_default_str()});
  f->run->options.push_back(f->run->loss_dependent.back().second);
  f->grad_hist = app.add_option("--grad-hist-steps", c.grad_hist_steps,
                                "Record every parameter's gradient histogram at these steps, e.g. 1,500,1500 "
                                "(gradients-hist.csv; drawn by gan analyze)")
                     ->delimiter(',')
                     ->check(integer(0, kMaxCount));
  add_eval_flags(app, c, *f->run);
  app.add_option("--resume", f->resume, "Continue the run in this folder from its last checkpoint")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--overwrite", f->overwrite, "Start over in an --out folder that already holds a run");

  return [f]() -> int {
    if (!f->resume.empty()) {
      for (CLI::Option* o : f->run->options)
        GAN_CHECK(o->count() == 0, o->get_name() << " cannot be given with --resume: the run's settings come from "
                                                    "its checkpoint (only --steps, --epochs, intervals, --device, "
                                                    "--kernels, --tf32, --precision, --cuda-graph and --bucket-mb may change)");
      GAN_CHECK(f->out_opt->count() == 0 || f->out == f->resume, "--out and --resume name different folders");
    }
    return run_train(*f);
  };
}

}  // namespace gan::app
