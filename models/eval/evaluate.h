// Evaluating generated images: features of samples and of a reference (a data set or a
// statistics file), the chosen scores between them (models/eval/scores.h), as `gan eval` and the
// evaluation during training (`gan train --eval-every`) compute them.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/datasets.h"
#include "models/config.h"
#include "models/eval/feature_net.h"
#include "models/eval/scores.h"

namespace gan::models {
class Trainer;
}

namespace gan::models::eval {

// The scores `gan eval --metrics` knows: fid, kid, is, pr (precision and recall).
// Throws naming an unknown or repeated one; never returns an empty list.
std::vector<std::string> parse_metrics(const std::string& list, const std::string& flag = "--metrics");
// Whether a metric compares with the reference (fid, kid, pr) or reads the samples alone (is).
bool needs_reference(const std::string& metric);

// Reports progress of a long computation: `what` ("features of the samples"), done of total.
using Progress = std::function<void(const std::string& what, int64_t done, int64_t total)>;

// Images [N, C, H, W] in [-1, 1] (float32, CPU) of a data set's first `n` images (n <= 0: all).
Tensor dataset_images(const io::ImageDataset& data, int64_t n = 0);

// Features of images, `chunk` images per call of the network (each chunk is moved to the
// network's device there), reporting progress after each.
Features compute_features(FeatureNet& net, const Tensor& images, const std::string& what = "features",
                          const Progress& progress = {}, int64_t chunk = 1000);

// What samples are compared with: statistics always; features when they are known (KID and
// precision/recall need them; a statistics file of mu and sigma alone has none).
struct Reference {
  Stats stats;
  Eigen::MatrixXd features;  // 0 rows when unknown
  std::string source;        // the spec or file
  bool has_features() const { return features.rows() > 0; }
};

// The reference of `spec`: a statistics file (FILE.npz: checked against the network's feature
// dimension) or a data set as `gan train --data` reads it (mnist, mnist:PATH, fashion:PATH,
// cifar10:PATH, folder:PATH; folder images fitted to `folder_size`), of which the first `n` images
// are used (n <= 0: all).
Reference make_reference(FeatureNet& net, const std::string& spec, int64_t n, int64_t folder_size,
                         const Progress& progress = {});
Reference reference_from_features(const Features& f, const std::string& feature_net, const std::string& source);

struct EvalOptions {
  std::vector<std::string> metrics{"fid", "kid", "is"};
  KidOptions kid;
  int64_t is_splits = 10;
  int64_t pr_k = 3;
};

struct EvalResult {
  std::string feature_net, reference;
  int64_t samples = 0, reference_samples = 0;
  std::optional<double> fid;
  std::optional<MeanStd> kid, inception_score;
  std::optional<PrecisionRecall> pr;
  double features_seconds = 0, scores_seconds = 0;
  // The metrics.csv columns of the scores computed: fid, kid, is, precision, recall.
  std::vector<std::pair<std::string, double>> columns() const;
  nlohmann::json to_json() const;
  std::string table() const;  // a readable table, one score a line
};

// The metrics.csv columns `metrics` give, in the order EvalResult::columns() lists them.
std::vector<std::string> metric_columns(const std::vector<std::string>& metrics);

// The scores of `samples` (features already computed) against `ref` (may be null when only
// `is` is asked). Throws naming the metric that needs a reference or reference features it lacks.
EvalResult score(const Features& samples, const Reference* ref, const EvalOptions& o);

// The FeatureNet `gan eval` uses when --features is not given: digits for 1-channel 28x28 or
// 32x32 images; otherwise throws saying to give --features inception:WEIGHTS.
std::string default_features(int64_t channels, int64_t side);

// ---- Evaluation during training (gan train --eval-every) ----

// The metrics of cfg.eval_n samples of the current generator against the training data, with
// the reference features computed once and cached in the run folder
// (DIR/eval/reference-<network>.npz: mu, sigma and the features; reused by a resumed run when it
// was made from the same data and network). Samples come from a fixed noise stream of their own
// (from the run's seed): the training's random streams are untouched, and every evaluation of
// the same weights gives the same scores.
// The network cfg.eval_features names, checked to read the images cfg.model makes (throws
// naming the flag and the size otherwise).
std::unique_ptr<FeatureNet> training_feature_net(const TrainConfig& cfg, Device device);

class TrainingEvaluator {
 public:
  TrainingEvaluator(const TrainConfig& cfg, const std::string& run_dir, Device device,
                    const std::function<void(const std::string&)>& note);
  const std::vector<std::string>& columns() const { return columns_; }
  const std::string& feature_net() const { return net_name_; }
  EvalResult evaluate(Trainer& t);

 private:
  TrainConfig cfg_;
  std::unique_ptr<FeatureNet> net_;
  std::string net_name_;
  Reference ref_;
  EvalOptions opts_;
  std::vector<std::string> columns_;
};

}  // namespace gan::models::eval
