// gan eval: scores generated images (a checkpoint's samples, an .npy of images, or a folder of
// them) against a reference (a data set or a statistics file) with FID, KID, IS and
// precision/recall on a feature network's features; or, with --save-stats, writes a data set's
// statistics file (pytorch-fid's mu/sigma .npz). The work is in models/eval/.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/io/datasets.h"
#include "engine/io/file_util.h"
#include "engine/io/npy.h"
#include "engine/io/npz.h"
#include "engine/ops/shape_ops.h"
#include "models/data.h"
#include "models/eval/evaluate.h"
#include "models/progress.h"
#include "models/run.h"
#include "models/sampling.h"

namespace gan::app {

namespace {

struct EvalFlags {
  std::string checkpoint, samples, folder, ref, features, metrics = "fid,kid,is", json, device = "auto", save_stats;
  bool no_ema = false;
  int64_t n = 10000, n_ref = 0, image_size = 0;
  uint64_t seed = 0;
  bool stats_features = false;
  models::eval::KidOptions kid;
  CLI::Option *n_opt = nullptr, *metrics_opt = nullptr, *features_opt = nullptr;
};

using Clock = std::chrono::steady_clock;

// A bar on terminals ("[#####.....] features of the samples 4000/10000 0:12"), nothing otherwise.
models::eval::Progress progress_reporter() {
  if (!::isatty(2)) return {};
  auto start = std::make_shared<Clock::time_point>(Clock::now());
  auto last_what = std::make_shared<std::string>();
  return [start, last_what](const std::string& what, int64_t done, int64_t total) {
    if (what != *last_what) {
      *start = Clock::now();
      *last_what = what;
    }
    const int width = 24, filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
    const double s = std::chrono::duration<double>(Clock::now() - *start).count();
    const double eta = done > 0 ? s * static_cast<double>(total - done) / static_cast<double>(done) : 0;
    std::fprintf(stderr, "\r\033[2K[%s%s] %s %lld/%lld %s ETA %s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), what.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), models::format_duration(s).c_str(),
                 models::format_duration(eta).c_str());
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

bool is_stats_file(const std::string& spec) {
  return spec.size() > 4 && spec.compare(spec.size() - 4, 4, ".npz") == 0;
}

// The side images of a folder are fitted to: the flag's, else what the network reads natively.
int64_t folder_side(const EvalFlags& f, const std::string& features) {
  if (f.image_size > 0) return f.image_size;
  return features.rfind("inception", 0) == 0 ? 299 : 28;
}

int save_stats(EvalFlags& f, Device device) {
  GAN_CHECK(!f.ref.empty() && !is_stats_file(f.ref), "--save-stats: give the data set to summarise with --ref "
                                                     "(mnist, mnist:PATH, fashion:PATH, cifar10:PATH, folder:PATH)");
  GAN_CHECK(f.checkpoint.empty() && f.samples.empty() && f.folder.empty(),
            "--save-stats writes the statistics of --ref; it takes no samples (--checkpoint, --samples, --folder)");
  const std::string features = f.features.empty() ? "digits" : f.features;
  io::ImageDataset data = models::load_dataset(f.ref, folder_side(f, features));
  const std::string spec = f.features.empty() ? models::eval::default_features(data.channels, data.height) : f.features;
  auto net = models::eval::make_feature_net(spec, device);
  const auto start = Clock::now();
  models::eval::Features feats = models::eval::compute_features(*net, models::eval::dataset_images(data, f.n_ref),
                                                                "features of " + f.ref, progress_reporter());
  models::eval::Stats s = models::eval::feature_stats(feats.features);
  s.feature_net = net->name();
  models::eval::save_stats(f.save_stats, s, f.stats_features ? feats.features : Tensor());
  std::printf("wrote %s: %s statistics (%lld-d) of %lld images of %s in %.1f s\n", f.save_stats.c_str(),
              net->name().c_str(), static_cast<long long>(s.dim()), static_cast<long long>(s.count), f.ref.c_str(),
              std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}

}  // namespace

Runner add_eval_command(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  app.add_option("--checkpoint", f->checkpoint, "Score samples of this checkpoint's generator")->check(CLI::ExistingFile);
  app.add_option("--samples", f->samples, "Or images as .npy [N, C, H, W] in [-1, 1]")->check(CLI::ExistingFile);
  app.add_option("--folder", f->folder, "Or a folder of images (PNG, JPEG, ...)")->check(CLI::ExistingDirectory);
  app.add_option("--ref", f->ref,
                 "Reference: mnist, mnist:PATH, fashion:PATH, cifar10:PATH, folder:PATH, or a statistics file "
                 "STATS.npz (pytorch-fid's mu/sigma)");
  f->features_opt = app.add_option("--features", f->features,
                                   "Feature network: digits (committed weights), digits:PATH or inception:WEIGHTS "
                                   "(default: digits for 1-channel 28x28/32x32 images)");
  f->metrics_opt = app.add_option("--metrics", f->metrics, "Scores: fid, kid, is, pr (precision/recall), comma-separated")
                       ->capture_default_str();
  f->n_opt = app.add_option("--n", f->n, "Samples drawn from --checkpoint (with --samples/--folder: the first N)")
                 ->check(integer(1, 1000000))
                 ->capture_default_str();
  app.add_option("--seed", f->seed, "Noise seed of the checkpoint's samples")->check(seed_value())->capture_default_str();
  app.add_flag("--no-ema", f->no_ema, "A --ema run's checkpoint: score the raw generator, not its moving average");
  app.add_option("--n-ref", f->n_ref, "Reference images used (the data set's first N; default all)")
      ->check(integer(2, 100000000));
  app.add_option("--image-size", f->image_size, "Side folder images are fitted to (default 28; inception 299)")
      ->check(integer(1, 4096));
  app.add_option("--kid-subsets", f->kid.subsets, "KID: random subsets averaged")->check(integer(1, 100000))
      ->capture_default_str();
  app.add_option("--kid-subset-size", f->kid.subset_size, "KID: samples per subset (capped at the sets' sizes)")
      ->check(integer(2, 1000000))
      ->capture_default_str();
  app.add_option("--json", f->json, "Also write the scores to this JSON file");
  app.add_option("--save-stats", f->save_stats, "Write the statistics of --ref to this .npz and exit");
  app.add_flag("--stats-features", f->stats_features, "--save-stats: store the features too (KID, precision/recall)");
  app.add_option("--device", f->device, "auto, cpu, cuda or cuda:N")->capture_default_str();

  return [f]() -> int {
    Device device = models::resolve_device(f->device);
    if (!f->save_stats.empty()) return save_stats(*f, device);
    const int given = !f->checkpoint.empty() + !f->samples.empty() + !f->folder.empty();
    GAN_CHECK(given == 1, (given ? "give only one of" : "say what to score:")
                              << " --checkpoint FILE, --samples FILE.npy or --folder DIR");
    if (!f->metrics_opt->count() && is_stats_file(f->ref) && !io::load_npz(f->ref).has("features")) f->metrics = "fid,is";
    models::eval::EvalOptions opts;
    opts.metrics = models::eval::parse_metrics(f->metrics);
    opts.kid = f->kid;
    bool need_ref = false;
    for (const auto& m : opts.metrics) need_ref = need_ref || models::eval::needs_reference(m);
    GAN_CHECK(!need_ref || !f->ref.empty(), "--metrics " << f->metrics << " compares with a reference: give --ref "
                                                         << "(mnist, a data set spec or STATS.npz)");

    // The samples, on the CPU, [N, C, H, W] in [-1, 1].
    Tensor samples;
    std::string what;
    if (!f->checkpoint.empty()) {
      models::LoadedGenerator g = models::load_generator(f->checkpoint, device, std::nullopt, !f->no_ema);
      GAN_CHECK(g.config.arch != "toy", f->checkpoint << ": a 2-D toy generator; gan eval scores images");
      samples = models::sample_images(g, f->n, f->seed).cpu();
      what = std::to_string(samples.size(0)) + " samples of " + f->checkpoint + (g.ema ? " (moving average of G)" : "");
    } else if (!f->samples.empty()) {
      samples = io::load_npy(f->samples).to(DType::Float32);
      GAN_CHECK(samples.dim() == 4 && samples.size(0) > 0,
                f->samples << ": expected images [N, C, H, W], got shape " << shape_str(samples.shape()));
      what = f->samples;
    } else {
      const std::string features = f->features.empty() ? "digits" : f->features;
      auto probe = models::eval::make_feature_net(features, Device::cpu());
      samples = models::eval::dataset_images(
          io::read_image_folder(f->folder, folder_side(*f, features), probe->channels()));
      what = f->folder;
    }
    if (f->n_opt->count() && f->checkpoint.empty() && samples.size(0) > f->n) samples = slice(samples, 0, 0, f->n);
    std::vector<float> v = samples.to_float_vector();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    GAN_CHECK(*lo >= -1.001f && *hi <= 1.001f, what << ": values range over [" << *lo << ", " << *hi
                                                    << "]; images should lie in [-1, 1] (as generators make them)");
    const std::string spec =
        f->features.empty() ? models::eval::default_features(samples.size(1), samples.size(2)) : f->features;
    auto net = models::eval::make_feature_net(spec, device);
    net->compute(slice(samples, 0, 0, 1));  // refuses sizes and channel counts it cannot read, before any work

    auto progress = progress_reporter();
    std::unique_ptr<models::eval::Reference> ref;
    if (need_ref)
      ref = std::make_unique<models::eval::Reference>(
          models::eval::make_reference(*net, f->ref, f->n_ref, folder_side(*f, spec), progress));
    const auto start = Clock::now();
    models::eval::Features feats = models::eval::compute_features(*net, samples, "features of the samples", progress);
    const double feature_s = std::chrono::duration<double>(Clock::now() - start).count();
    models::eval::EvalResult r = models::eval::score(feats, ref.get(), opts);
    r.feature_net = net->name();
    r.features_seconds = feature_s;
    std::printf("%s", r.table().c_str());
    if (!f->json.empty()) {
      nlohmann::json j = r.to_json();
      j["samples_source"] = what;
      io::write_file_atomic(f->json, j.dump(2) + "\n");
      std::printf("wrote %s\n", f->json.c_str());
    }
    return 0;
  };
}

}  // namespace gan::app
