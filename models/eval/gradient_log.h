// The gradients of a training run, logged while it trains (what `gan analyze` draws as gradient
// flow and gradient histograms):
//   gradients.csv        step,network,parameter,norm: every log interval (steps that are multiples
//                        of --log-every, and the last), the L2 norm of every parameter's gradient
//                        as the optimizer used it: the generator's from its step, the critic's
//                        (discriminator, InfoGAN's Q) from the last critic step of that step
//   gradients-hist.csv   step,network,parameter,bin_lo,bin_hi,count: at the --grad-hist-steps,
//                        each parameter's gradient histogram over 48 equal bins spanning
//                        [-max |g|, max |g|] of that gradient
// Both are written as metrics.csv is: a fresh run starts them with their header, a resumed one keeps
// the rows of the steps up to its checkpoint and appends from there (the steps it redoes are
// written again, as the uninterrupted run wrote them).
//
// The numbers come from the trainer's own step through StepHooks::before_optimizer_step (the
// gradients are in place, the weights not yet updated): nothing of the step is copied.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/io/plot.h"
#include "models/trainer.h"

namespace gan::models::eval {

inline constexpr int64_t kGradientHistogramBins = 48;

// A parameter of a network, as the logs name it.
struct NamedParameter {
  std::string network, name;
  Tensor param;
};
// The parameters that the optimizer groups of `phase` update, network by network in the recipe's
// order (each network once).
std::vector<NamedParameter> phase_parameters(Trainer& t, Phase phase);

// The L2 norm of each tensor's gradient, read in one device transfer (NaN where a tensor has no
// gradient).
std::vector<double> gradient_norms(const std::vector<Tensor>& params);
// A gradient's histogram as gradients-hist.csv records it (kGradientHistogramBins bins over
// [-max |g|, max |g|]).
io::Histogram gradient_histogram(const Tensor& grad);
// The header of gradients-hist.csv, and the rows of one histogram in it.
std::string gradient_histogram_header();
std::string gradient_histogram_rows(int64_t step, const std::string& network, const std::string& parameter,
                                    const io::Histogram& h);

class GradientLog {
 public:
  // Logs `trainer`'s steps into dir/gradients.csv and, at the trainer's config's grad_hist_steps,
  // dir/gradients-hist.csv. Throws naming --grad-hist-steps when one lies outside 1..total steps.
  GradientLog(Trainer& trainer, std::string dir);
  void start();                   // fresh files holding the headers
  void keep_until(int64_t step);  // a resumed run: rows of steps <= step are kept
  // The hooks to pass to Trainer::train_step. They observe the log steps and the histogram steps
  // only (StepHooks::observes): a recorded step (--cuda-graph on) replays the others.
  const StepHooks& hooks() const { return hooks_; }
  bool logs_step(int64_t step) const;  // 1-based
  std::string norms_path() const { return dir_ + "/gradients.csv"; }
  std::string histograms_path() const { return dir_ + "/gradients-hist.csv"; }

 private:
  void observe(const StepPoint& at);

  Trainer& t_;
  std::string dir_;
  std::vector<int64_t> hist_steps_;
  StepHooks hooks_;
  std::map<std::string, std::string> pending_;  // network -> its rows of the step being taken
};

// gradients.csv read back: norms[network][parameter] = (steps, norms), parameters in file order.
struct GradientNorms {
  std::vector<std::string> networks;  // in file order
  std::map<std::string, std::vector<std::string>> parameters;
  std::map<std::string, std::map<std::string, std::pair<std::vector<double>, std::vector<double>>>> series;
};
GradientNorms read_gradient_norms(const std::string& path);

// gradients-hist.csv read back, one entry per (step, network, parameter) in file order.
struct RecordedHistogram {
  int64_t step = 0;
  std::string network, parameter;
  io::Histogram hist;
};
std::vector<RecordedHistogram> read_gradient_histograms(const std::string& path);

}  // namespace gan::models::eval
