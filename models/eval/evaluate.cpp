#include "models/eval/evaluate.h"

#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>

#include "engine/io/file_util.h"
#include "engine/io/npz.h"
#include "engine/ops/ops.h"
#include "models/data.h"
#include "models/trainer.h"

namespace gan::models::eval {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The evaluation samples' own noise stream, apart from the training's ("evalz").
constexpr uint64_t kEvalStream = 0x6576616c7a000000ULL;

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> k{"fid", "kid", "is", "pr"};
  return k;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

std::vector<std::string> parse_metrics(const std::string& list, const std::string& flag) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string m; std::getline(ss, m, ',');) {
    GAN_CHECK(std::find(known_metrics().begin(), known_metrics().end(), m) != known_metrics().end(),
              flag << " " << list << ": unknown metric '" << m << "' (expected fid, kid, is or pr, comma-separated)");
    GAN_CHECK(std::find(out.begin(), out.end(), m) == out.end(), flag << " " << list << ": '" << m << "' given twice");
    out.push_back(m);
  }
  GAN_CHECK(!out.empty(), flag << ": name at least one of fid, kid, is, pr");
  return out;
}

bool needs_reference(const std::string& metric) { return metric != "is"; }

std::vector<std::string> metric_columns(const std::vector<std::string>& metrics) {
  std::vector<std::string> cols;
  auto has = [&](const char* m) { return std::find(metrics.begin(), metrics.end(), m) != metrics.end(); };
  if (has("fid")) cols.push_back("fid");
  if (has("kid")) cols.push_back("kid");
  if (has("is")) cols.push_back("is");
  if (has("pr")) cols.insert(cols.end(), {"precision", "recall"});
  return cols;
}

Tensor dataset_images(const io::ImageDataset& data, int64_t n) {
  GAN_CHECK(data.count > 0, data.source << ": no images");
  const int64_t count = n > 0 ? std::min(n, data.count) : data.count;
  Tensor t = Tensor::empty({count, data.channels, data.height, data.width});
  float* p = t.data<float>();
  const size_t total = static_cast<size_t>(count * data.image_bytes());
  for (size_t i = 0; i < total; ++i) p[i] = static_cast<float>(data.pixels[i]) / 127.5f - 1.0f;
  return t;
}

Features compute_features(FeatureNet& net, const Tensor& images, const std::string& what, const Progress& progress,
                          int64_t chunk) {
  GAN_CHECK(images.defined() && images.dim() == 4 && images.size(0) > 0,
            what << ": expected images [N, C, H, W] with N > 0, got " << (images.defined() ? images.str() : "none"));
  const int64_t n = images.size(0);
  std::vector<Tensor> feats, probs;
  for (int64_t start = 0; start < n; start += chunk) {
    Features f = net.compute(slice(images, 0, start, std::min(n, start + chunk)));
    feats.push_back(f.features);
    probs.push_back(f.probs);
    if (progress) progress(what, std::min(n, start + chunk), n);
  }
  return {cat(feats, 0), cat(probs, 0)};
}

Reference reference_from_features(const Features& f, const std::string& feature_net, const std::string& source) {
  Reference r;
  r.features = to_matrix(f.features);
  r.stats = feature_stats(r.features);
  r.stats.feature_net = feature_net;
  r.source = source;
  return r;
}

Reference make_reference(FeatureNet& net, const std::string& spec, int64_t n, int64_t folder_size,
                         const Progress& progress) {
  if (spec.size() > 4 && spec.compare(spec.size() - 4, 4, ".npz") == 0) {
    Reference r;
    r.stats = load_stats(spec, net.feature_dim());
    GAN_CHECK(r.stats.feature_net.empty() || r.stats.feature_net == net.name(),
              spec << ": statistics of " << r.stats.feature_net << " features, but the samples are read with "
                   << net.name() << " (--features)");
    Tensor f = load_stats_features(spec);
    if (f.defined()) r.features = to_matrix(f);
    r.source = spec;
    return r;
  }
  io::ImageDataset data = load_dataset(spec, folder_size);
  Tensor images = dataset_images(data, n);
  return reference_from_features(compute_features(net, images, "features of " + spec, progress), net.name(), spec);
}

std::string default_features(int64_t channels, int64_t side) {
  GAN_CHECK(channels == 1,
            "images of " << channels << "x" << side << "x" << side
                         << ": the digits features read 1-channel digit images (28x28; other sizes are cropped or "
                            "resized to it); give --features inception:WEIGHTS (docs/evaluation.md)");
  return "digits";
}

EvalResult score(const Features& samples, const Reference* ref, const EvalOptions& o) {
  const auto start = Clock::now();
  EvalResult r;
  const Eigen::MatrixXd x = to_matrix(samples.features);
  r.samples = x.rows();
  if (ref) {
    r.reference = ref->source;
    r.reference_samples = ref->stats.count;
    GAN_CHECK(ref->stats.dim() == x.cols(), ref->source << ": reference of dimension " << ref->stats.dim()
                                                        << ", samples' features of " << x.cols());
  }
  for (const std::string& m : o.metrics) {
    if (!needs_reference(m)) continue;
    GAN_CHECK(ref, m << " compares the samples with a reference: give --ref");
    GAN_CHECK(m == "fid" || ref->has_features(),
              m << " needs the reference's features, and " << ref->source
                << " holds only mu and sigma: use --metrics fid,is, or a data set as --ref");
  }
  for (const std::string& m : o.metrics) {
    if (m == "fid") r.fid = fid(ref->stats, feature_stats(x));
    if (m == "kid") r.kid = kid(ref->features, x, o.kid);
    if (m == "is") r.inception_score = inception_score(to_matrix(samples.probs), o.is_splits);
    if (m == "pr") r.pr = precision_recall(ref->features, x, o.pr_k);
  }
  r.scores_seconds = seconds_since(start);
  return r;
}

std::vector<std::pair<std::string, double>> EvalResult::columns() const {
  std::vector<std::pair<std::string, double>> c;
  if (fid) c.emplace_back("fid", *fid);
  if (kid) c.emplace_back("kid", kid->mean);
  if (inception_score) c.emplace_back("is", inception_score->mean);
  if (pr) {
    c.emplace_back("precision", pr->precision);
    c.emplace_back("recall", pr->recall);
  }
  return c;
}

nlohmann::json EvalResult::to_json() const {
  nlohmann::json j{{"feature_net", feature_net}, {"samples", samples}};
  if (!reference.empty()) j["reference"] = {{"source", reference}, {"samples", reference_samples}};
  if (fid) j["fid"] = *fid;
  if (kid) j["kid"] = {{"mean", kid->mean}, {"std", kid->std}};
  if (inception_score) j["is"] = {{"mean", inception_score->mean}, {"std", inception_score->std}};
  if (pr) j["precision"] = pr->precision, j["recall"] = pr->recall;
  j["seconds"] = {{"features", features_seconds}, {"scores", scores_seconds}};
  return j;
}

std::string EvalResult::table() const {
  std::ostringstream os;
  os << "features: " << feature_net << "; " << samples << " samples";
  if (!reference.empty()) os << " against " << reference << " (" << reference_samples << " images)";
  os << "\n";
  auto line = [&](const char* name, const std::string& value) { os << "  " << name << value << "\n"; };
  if (fid) line("FID        ", fmt("%.4f", *fid));
  if (kid) line("KID        ", fmt("%.6f", kid->mean) + " +- " + fmt("%.6f", kid->std));
  if (inception_score)
    line("IS         ", fmt("%.4f", inception_score->mean) + " +- " + fmt("%.4f", inception_score->std));
  if (pr) {
    line("precision  ", fmt("%.4f", pr->precision));
    line("recall     ", fmt("%.4f", pr->recall));
  }
  os << "  (features " << fmt("%.1f", features_seconds) << " s, scores " << fmt("%.1f", scores_seconds) << " s)\n";
  return os.str();
}

std::unique_ptr<FeatureNet> training_feature_net(const TrainConfig& cfg, Device device) {
  std::unique_ptr<FeatureNet> net = make_feature_net(cfg.eval_features, device);
  try {  // the generator's images must be readable by the network: say so now, not at the first evaluation
    net->compute(Tensor::zeros({1, cfg.model.channels, cfg.model.image_size, cfg.model.image_size}));
  } catch (const Error& e) {
    GAN_FAIL("--eval-features " << cfg.eval_features << ": " << e.what());
  }
  return net;
}

TrainingEvaluator::TrainingEvaluator(const TrainConfig& cfg, const std::string& run_dir, Device device,
                                     const std::function<void(const std::string&)>& note)
    : cfg_(cfg) {
  opts_.metrics = parse_metrics(cfg.eval_metrics);
  columns_ = metric_columns(opts_.metrics);
  net_ = training_feature_net(cfg, device);
  net_name_ = net_->name();
  io::make_directories(run_dir + "/eval");
  const std::string cache = run_dir + "/eval/reference-" + net_name_ + ".npz";
  bool reuse = false;
  if (io::file_exists(cache)) {
    io::NpzFile f = io::load_npz(cache);
    reuse = f.has("data") && f.get_string("data") == cfg.data && f.has("feature_net") &&
            f.get_string("feature_net") == net_name_ && f.has("features") &&
            f.has("n_ref_asked") && f.get_string("n_ref_asked") == std::to_string(cfg.eval_n_ref);
  }
  if (!reuse) {
    if (note) note("eval: computing the reference features of " + cfg.data + " (" + net_name_ + ") once");
    io::ImageDataset data = load_dataset(cfg.data, cfg.model.image_size);
    Features f = compute_features(*net_, dataset_images(data, cfg.eval_n_ref));
    Reference r = reference_from_features(f, net_name_, cfg.data);
    io::NpzWriter w;
    const int64_t d = r.stats.dim();
    std::vector<double> sigma(static_cast<size_t>(d * d));
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) sigma[static_cast<size_t>(i * d + j)] = r.stats.sigma(i, j);
    w.add("mu", Tensor::from_vector(std::vector<double>(r.stats.mu.data(), r.stats.mu.data() + d), {d}));
    w.add("sigma", Tensor::from_vector(sigma, {d, d}));
    w.add("n", Tensor::scalar(static_cast<double>(r.stats.count), DType::Float64));
    w.add("features", f.features.to(DType::Float32));  // the network computes in float32: no loss
    w.add_string("feature_net", net_name_).add_string("data", cfg.data);
    w.add_string("n_ref_asked", std::to_string(cfg.eval_n_ref));
    w.save(cache);
  }
  // Always from the file, so that a fresh and a resumed run score against the same numbers.
  ref_.stats = load_stats(cache, net_->feature_dim());
  ref_.features = to_matrix(io::load_npz(cache).get("features"));
  ref_.source = cfg.data;
  if (note && reuse) note("eval: reference features of " + cfg.data + " from " + cache);
}

EvalResult TrainingEvaluator::evaluate(Trainer& t) {
  const auto start = Clock::now();
  Generator gen(cfg_.seed ^ kEvalStream);
  std::vector<Tensor> parts;
  int64_t have = 0;
  while (have < cfg_.eval_n) {
    const int64_t want = std::min<int64_t>(500, cfg_.eval_n - have);
    Tensor x = t.generate(t.recipe().sample_inputs(want, gen, t.device())).cpu();
    GAN_CHECK(x.dim() == 4 && x.size(0) > 0, "eval: the generator gave " << x.str() << ", not images");
    have += x.size(0);
    parts.push_back(x);
  }
  Tensor samples = slice(cat(parts, 0), 0, 0, cfg_.eval_n);
  Features f = compute_features(*net_, samples);
  const double feature_s = seconds_since(start);
  EvalResult r = score(f, &ref_, opts_);
  r.feature_net = net_name_;
  r.features_seconds = feature_s;
  return r;
}

}  // namespace gan::models::eval
