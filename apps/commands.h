// Subcommands of the `gan` tool. Each adds its flags to a CLI11 subcommand and returns the
// function that runs it after parsing (exit status; errors are thrown as gan::Error).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/config.h"

namespace gan::app {

using Runner = std::function<int()>;

// Number checks with short messages (CLI11's own print the double's 300-digit maximum) that also
// refuse NaN and infinity: "--lr: expected a finite number > 0, got 'nan'".
CLI::Validator positive();
CLI::Validator non_negative();
// lo <= x <= hi (lo < x when open_low, x < hi when open_high).
CLI::Validator within(double lo, double hi, bool open_low = false, bool open_high = false);
// A whole number lo <= n <= hi written in decimal digits. Every integer flag takes one: CLI11's own
// conversion saturates 20-digit values to 2^63-1 and wraps "-1" into an unsigned 2^64-1, and a
// double check lets "1e3" or "2.5" through to be truncated. "--ngf: expected an integer in
// [1, 16384], got '99999999999999999999'".
CLI::Validator integer(int64_t lo, int64_t hi);
// A seed: any whole number 0 <= s <= 2^64-1 (no sign, no exponent).
CLI::Validator seed_value();
// Largest step count, interval or iteration count a flag takes: far beyond any real run (a billion
// steps), small enough that products of counts stay inside 64 bits.
constexpr int64_t kMaxCount = 1000000000;

Runner add_train_command(CLI::App& app);
Runner add_sample_command(CLI::App& app);
Runner add_trace_command(CLI::App& app);
Runner add_classifier_command(CLI::App& app);
Runner add_classify_command(CLI::App& app);
Runner add_analyze_command(CLI::App& app);
Runner add_eval_command(CLI::App& app);
Runner add_translate_command(CLI::App& app);
Runner add_unpaired_digits_command(CLI::App& app);

// The flags that describe a fresh run (model, data, loss, optimizer, seed), shared by train and
// trace. They fill a TrainConfig; apply() then adds what they leave to the loss's defaults.
struct RunFlags {
  std::vector<CLI::Option*> options;  // every one (a resumed run takes them from its checkpoint)
  std::vector<std::pair<std::string, CLI::Option*>> loss_dependent;  // config field -> option
  CLI::Option* seed = nullptr;
  int64_t toy_width = 0;
  void apply(models::TrainConfig& cfg) const;
};
std::shared_ptr<RunFlags> add_run_flags(CLI::App& app, models::TrainConfig& cfg);
// `gan train`'s evaluation flags (--eval-every, --eval-n, --eval-features, --eval-metrics): part of
// the run's settings, so listed in run.options (a resumed run keeps its checkpoint's).
void add_eval_flags(CLI::App& app, models::TrainConfig& cfg, RunFlags& run);

}  // namespace gan::app
