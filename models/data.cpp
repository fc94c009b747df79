#include "models/data.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "engine/io/file_util.h"
#include "engine/io/loader.h"
#include "models/eval/evaluate.h"
#include "models/toy_plot.h"

namespace gan::models {

std::string bundled_mnist_dir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("GAN_DATA_DIR")) candidates.push_back(std::string(env) + "/mnist-10k");
  candidates.push_back("data/mnist-10k");
#ifdef GAN_SOURCE_DIR
  candidates.push_back(std::string(GAN_SOURCE_DIR) + "/data/mnist-10k");
#endif
  std::string tried;
  for (const auto& c : candidates) {
    if (io::file_exists(c + "/images-idx3-ubyte.gz")) return c;
    tried += (tried.empty() ? "" : ", ") + c;
  }
  GAN_FAIL("--data mnist: the bundled MNIST subset was not found (looked in " << tried
                                                                            << "); set GAN_DATA_DIR or use mnist:PATH");
}

namespace {
// The shell expands a leading ~ only at the start of a word, never after "folder:", so the spec
// does it: "~" and "~/..." are the home folder (the docs' examples use them).
std::string expand_home(const std::string& spec, const std::string& path) {
  if (path != "~" && path.rfind("~/", 0) != 0) return path;
  const char* home = std::getenv("HOME");
  GAN_CHECK(home && *home, "--data " << spec << ": cannot expand '~': HOME is not set");
  return std::string(home) + path.substr(1);
}
}  // namespace

io::ImageDataset load_dataset(const std::string& spec, int64_t folder_size) {
  std::string kind = spec, path;
  auto colon = spec.find(':');
  if (colon != std::string::npos) {
    kind = spec.substr(0, colon);
    path = expand_home(spec, spec.substr(colon + 1));
    GAN_CHECK(!path.empty(), "--data " << spec << ": empty path after '" << kind << ":'");
  }
  if (kind == "mnist") return io::read_mnist_like(path.empty() ? bundled_mnist_dir() : path);
  if (kind == "fashion") {
    GAN_CHECK(!path.empty(), "--data fashion needs a path: fashion:PATH (see scripts/download_data.sh)");
    return io::read_mnist_like(path);
  }
  if (kind == "cifar10") {
    GAN_CHECK(!path.empty(), "--data cifar10 needs a path: cifar10:PATH (see scripts/download_data.sh)");
    return io::read_cifar10(path);
  }
  if (kind == "folder") {
    GAN_CHECK(!path.empty(), "--data folder needs a path: folder:PATH");
    return io::read_image_folder(path, folder_size, 3);
  }
  GAN_FAIL("--data " << spec << ": unknown data set '" << kind
                     << "' (expected mnist, mnist:PATH, fashion:PATH, cifar10:PATH or folder:PATH)");
}

int64_t model_image_size(const std::string& arch, int64_t data_side) {
  if (arch == "dcgan32" || arch == "sngan32") return 32;
  if (arch == "dcgan64") return 64;
  return data_side;
}

// Classes of a labelled data set: 1 + its largest label (0 without labels).
static int64_t classes_of(const io::ImageDataset& data) {
  return data.labels.empty() ? 0 : 1 + *std::max_element(data.labels.begin(), data.labels.end());
}

void fit_model_to_data(TrainConfig& cfg, const io::ImageDataset& data) {
  cfg.model.channels = data.channels;
  cfg.model.image_size = model_image_size(cfg.model.arch, std::max(data.height, data.width));
  if (cfg.model.conditional()) cfg.model.num_classes = classes_of(data);
  cfg.validate();
}

std::vector<Tensor> DataSource::examples(int64_t) const {
  GAN_FAIL("data: " << describe() << " keeps no example images");
}

io::Image DataSource::picture(const Tensor& samples, nn::Module*, const std::string&, int64_t columns) const {
  const int64_t n = samples.size(0);
  return io::make_grid(samples, columns > 0 ? columns : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n)))));
}

namespace {

std::string describe_images(const io::ImageDataset& d) {
  std::ostringstream os;
  os << d.count << " images " << d.channels << "x" << d.height << "x" << d.width << " from " << d.source;
  return os.str();
}

constexpr uint64_t kToyStream = 0x746f790000000000ULL;  // "toy": the data's draws, apart from the weights' seed
constexpr uint64_t kPlotSeed = 0x706c6f74ULL;           // the same real points in every plot
constexpr int64_t kCriticGrid = 72;                     // heat map cells per side
constexpr int64_t kRealPlotted = 1000;

class ImageSource : public DataSource {
 public:
  ImageSource(const io::ImageDataset& data, int64_t batch, int64_t image_size, uint64_t seed, bool labels)
      : loader_(data, batch, image_size, seed), labels_(labels) {
    GAN_CHECK(!labels || !data.labels.empty(), data.source << ": has no class labels to condition on");
  }
  Batch next() override {
    Batch b;
    b.real = loader_.next(labels_ ? &b.labels : nullptr);
    return b;
  }
  std::string describe() const override { return describe_images(loader_.data()); }
  int64_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  DataState state() const override { return {loader_.epoch(), loader_.position(), std::nullopt}; }
  void set_state(const DataState& s) override { loader_.set_state(s.epoch, s.position); }
  std::vector<Tensor> examples(int64_t n) const override { return {eval::dataset_images(loader_.data(), n)}; }
  bool worth_prefetching() const override { return true; }  // a gather and a scaling of every pixel

 private:
  io::BatchLoader loader_;
  bool labels_;
};

constexpr uint64_t kDomainBStream = 0x646f6d61696e4200ULL;  // "domainB": B's shuffles, apart from A's

class UnpairedSource : public DataSource {
 public:
  UnpairedSource(const io::ImageDataset& a, const io::ImageDataset& b, int64_t batch, int64_t size, uint64_t seed)
      : a_(a, batch, size, seed), b_(b, batch, size, seed ^ kDomainBStream) {}
  Batch next() override {
    Batch out;
    out.real = a_.next();
    out.real_b = b_.next();
    return out;
  }
  std::string describe() const override {
    return "A: " + describe_images(a_.data()) + "; B: " + describe_images(b_.data()) + " (unpaired)";
  }
  int64_t batches_per_epoch() const override { return a_.batches_per_epoch(); }
  DataState state() const override { return {a_.epoch(), a_.position(), std::nullopt}; }
  void set_state(const DataState& s) override {
    a_.set_state(s.epoch, s.position);
    int64_t served;  // set_state has checked both against A's epochs
    GAN_CHECK(!__builtin_mul_overflow(s.epoch, a_.batches_per_epoch(), &served),
              "epoch " << s.epoch << " overflows a batch count");
    served += s.position;
    b_.set_state(served / b_.batches_per_epoch(), served % b_.batches_per_epoch());
  }
  std::vector<Tensor> examples(int64_t n) const override {
    return {eval::dataset_images(a_.data(), n), eval::dataset_images(b_.data(), n)};
  }
  bool worth_prefetching() const override { return true; }

 private:
  io::BatchLoader a_, b_;
};

class ToySource : public DataSource {
 public:
  ToySource(const std::string& spec, int64_t batch, uint64_t seed)
      : data_(toy_data(spec)), batch_(batch), gen_(seed ^ kToyStream) {}
  Batch next() override { return {sample_toy(data_, batch_, gen_), Tensor(), Tensor()}; }
  std::string describe() const override { return data_.name + " (2-D points, a fresh batch every critic step)"; }
  DataState state() const override { return {0, 0, gen_.draws()}; }
  void set_state(const DataState& s) override {
    // Without it the resumed run would replay the points of its first steps.
    GAN_CHECK(s.draws.has_value(), "the toy data stream's position (rng.data_draws) is missing");
    gen_.set_state(gen_.seed(), *s.draws);
  }
  bool has_scores() const override { return !data_.modes.empty(); }
  std::optional<Coverage> score(const Tensor& samples) const override {
    if (data_.modes.empty()) return std::nullopt;
    return mode_coverage(samples, data_);
  }
  io::Image picture(const Tensor& samples, nn::Module* critic, const std::string& title, int64_t) const override {
    ToyPlot p;
    p.extent = data_.extent;
    Generator real_gen(kPlotSeed);
    p.real = sample_toy(data_, kRealPlotted, real_gen).to_double_vector();
    p.fake = samples.to_double_vector();
    if (critic) {
      p.critic = critic_grid(*critic, data_.extent, kCriticGrid);
      p.grid_n = kCriticGrid;
    }
    p.title = data_.name + " " + title;
    if (auto c = score(samples))
      p.title += "\nmodes " + std::to_string(c->modes_covered) + "/" + std::to_string(c->modes) + ", high quality " +
                 std::to_string(static_cast<int>(std::lround(100 * c->high_quality_share))) + "%";
    return render_toy_plot(p);
  }

 private:
  ToyData data_;
  int64_t batch_;
  Generator gen_;
};

class FixedBatchSource : public DataSource {
 public:
  FixedBatchSource(Tensor batch, std::string what) : batch_(std::move(batch)), what_(std::move(what)) {}
  Batch next() override { return {batch_, Tensor(), Tensor()}; }
  std::string describe() const override { return what_ + " " + batch_.str() + ", the same batch every step"; }
  DataState state() const override { return {}; }
  void set_state(const DataState&) override {}

 private:
  Tensor batch_;
  std::string what_;
};

}  // namespace

std::unique_ptr<DataSource> image_source(const io::ImageDataset& data, int64_t batch, int64_t image_size, uint64_t seed,
                                         bool labels) {
  return std::make_unique<ImageSource>(data, batch, image_size, seed, labels);
}

std::unique_ptr<DataSource> unpaired_source(const io::ImageDataset& a, const io::ImageDataset& b, int64_t batch,
                                            int64_t image_size, uint64_t seed) {
  return std::make_unique<UnpairedSource>(a, b, batch, image_size, seed);
}

std::unique_ptr<DataSource> toy_source(const std::string& spec, int64_t batch, uint64_t seed) {
  return std::make_unique<ToySource>(spec, batch, seed);
}

std::unique_ptr<DataSource> fixed_batch_source(Tensor batch, const std::string& what) {
  return std::make_unique<FixedBatchSource>(std::move(batch), what);
}

// Both domains at one size: --image-size, else domain A's own side (folders: 256, the paper's).
static std::unique_ptr<DataSource> cyclegan_source(TrainConfig& cfg, bool fit_model) {
  cfg.validate();  // names a missing --data-b before anything is read
  const int64_t folder_size = !fit_model ? cfg.model.image_size : cfg.image_size > 0 ? cfg.image_size : 256;
  auto load = [&](const char* flag, const std::string& spec) {
    try {
      return load_dataset(spec, folder_size);
    } catch (const Error& e) {
      GAN_FAIL(flag << " " << spec << ": " << e.what());
    }
  };
  io::ImageDataset a = load("--data-a", cfg.data), b = load("--data-b", cfg.data_b);
  GAN_CHECK(a.channels == b.channels, "--data-a " << cfg.data << " has " << a.channels << " channel(s), --data-b "
                                                  << cfg.data_b << " " << b.channels << ": cyclegan translates between "
                                                  << "images of the same channels");
  if (fit_model) {
    cfg.model.channels = a.channels;
    cfg.model.image_size = cfg.image_size > 0 ? cfg.image_size : std::max(a.height, a.width);
    cyclegan_defaults(cfg.model);
    cfg.validate();
  }
  GAN_CHECK(a.channels == cfg.model.channels, "--data-a " << cfg.data << ": images have " << a.channels
                                                          << " channel(s), the model expects " << cfg.model.channels);
  for (const io::ImageDataset* d : {&a, &b})
    GAN_CHECK(d->count >= cfg.batch, (d == &a ? "--data-a " : "--data-b ") << d->source << ": " << d->count
                                         << " images, fewer than one batch of " << cfg.batch);
  return unpaired_source(a, b, cfg.batch, cfg.model.image_size, cfg.seed);
}

std::unique_ptr<DataSource> make_data_source(TrainConfig& cfg, bool fit_model) {
  if (is_toy_data(cfg.data)) {
    cfg.validate();
    return toy_source(cfg.data, cfg.batch, cfg.seed);
  }
  if (cfg.recipe == "cyclegan") return cyclegan_source(cfg, fit_model);
  io::ImageDataset data = load_dataset(cfg.data, fit_model ? model_image_size(cfg.model.arch, 32) : cfg.model.image_size);
  if (fit_model) fit_model_to_data(cfg, data);
  GAN_CHECK(data.channels == cfg.model.channels, "--data " << cfg.data << ": images have " << data.channels
                                                            << " channel(s), the model expects " << cfg.model.channels);
  GAN_CHECK(!cfg.model.conditional() || classes_of(data) == cfg.model.num_classes,
            "--data " << cfg.data << ": " << classes_of(data) << " classes, the model was trained on "
                      << cfg.model.num_classes);
  return image_source(data, cfg.batch, cfg.model.image_size, cfg.seed, cfg.model.conditional());
}

}  // namespace gan::models
