// metrics.csv of a training run: its columns, the rows (means over each logging interval), the one
// divergence check, reading rows back for a resumed run, and the curves picture.
//
// Columns: step, epoch, loss_d, loss_g, the recipe's required scalars, images_per_s (over the
// interval), the recipe's optional scalars (empty where a step has none), then the sample scores
// modes_covered, high_quality, reverse_kl (2-D data with modes, on sample steps; models/toy.h).
// For the GAN recipe that is
//   step,epoch,loss_d,loss_g,d_x,d_g_z,images_per_s,wasserstein,gradient_penalty,grad_norm,
//   modes_covered,high_quality,reverse_kl
// whose first seven columns are those of every earlier version. A run that evaluates its samples
// (--eval-every, models/eval/evaluate.h) adds the scores' columns last (fid, kid, is, precision,
// recall: those asked for), filled on evaluation steps.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/io/image.h"
#include "models/recipe.h"
#include "models/toy.h"

namespace gan::models {

// Training produced a NaN or infinite loss or weights: the run stops without writing a
// checkpoint of the broken state (the last good one stays in place).
struct TrainingDiverged : Error {
  using Error::Error;
};

// The scalars of one step as 0-dim tensors on the training device (reading them is a device sync).
struct StepScalars {
  std::vector<std::pair<std::string, Tensor>> values;
  // The scalar called `name`, or an undefined tensor when the step has none.
  Tensor get(const std::string& name) const;
  // The same, throwing naming it when absent.
  const Tensor& operator[](const std::string& name) const;
};

// One metrics row: the means over a logging interval and the run's progress.
struct LogRecord {
  int64_t step = 0, total_steps = 0, epoch = 0;
  std::vector<std::pair<const ScalarSpec*, double>> values;  // the scalars some step of the interval had
  double images_per_s = 0;  // over the interval
  double steps_per_s = 0;   // since this process started training
  double elapsed_s = 0, eta_s = 0;
  std::optional<Coverage> coverage;  // sample scores, on sample steps
  std::vector<std::pair<std::string, double>> eval;  // evaluation scores, on evaluation steps
  std::optional<double> value(const std::string& column) const;
};

class MetricsLog {
 public:
  // `scalars`: loss_d, loss_g and the recipe's, in column order; `panels`: curves.png after the
  // losses panel; `eval_columns`: the evaluation scores' columns, last.
  MetricsLog(std::string path, std::vector<ScalarSpec> scalars, std::vector<CurvePanel> panels,
             std::vector<std::string> eval_columns = {});
  const std::vector<ScalarSpec>& scalars() const { return scalars_; }
  std::string header() const;

  // A fresh file holding the header only.
  void start();
  // A resumed run: keeps the rows of steps <= `step` (those it does not redo) under the header,
  // and reads them back so that the curves cover the whole run.
  void keep_until(int64_t step);

  // The means of `steps` (the scalars of steps last_step - n + 1 .. last_step, read in one device
  // transfer). The divergence check: a non-finite value throws TrainingDiverged naming the scalar,
  // the step and `checkpoint_note` ("the last good checkpoint is ...").
  LogRecord summarize(const std::vector<StepScalars>& steps, int64_t last_step, const std::string& checkpoint_note) const;
  // Appends the record's row (and keeps it for the curves).
  void append(const LogRecord& r);
  // curves.png: the losses, then each panel, against the step.
  io::Image curves() const;
  bool empty() const { return rows_.empty(); }

 private:
  std::string path_;
  std::vector<ScalarSpec> scalars_;
  std::vector<CurvePanel> panels_;
  std::vector<std::string> eval_columns_;
  std::vector<std::map<std::string, double>> rows_;  // step and the plotted columns
};

}  // namespace gan::models
