// Data for training runs: the command line's data set specifications ("mnist", "fashion:PATH",
// "cifar10:PATH", ...) turned into images, the model settings that follow from the data, and the
// data sources a trainer draws its real batches from.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "engine/io/datasets.h"
#include "engine/io/image.h"
#include "engine/nn/module.h"
#include "models/config.h"
#include "models/toy.h"

namespace gan::models {

// Where the bundled 10k-digit MNIST subset lives: $GAN_DATA_DIR/mnist-10k, ./data/mnist-10k,
// or the source tree's data/mnist-10k, whichever exists first (throws listing them otherwise).
std::string bundled_mnist_dir();

// Loads `spec`: mnist (the bundled subset), mnist:PATH, fashion:PATH (IDX files or a folder of
// them), cifar10:PATH (batch file or folder), folder:PATH (images, resized to `folder_size`).
// Errors name the spec or the file.
io::ImageDataset load_dataset(const std::string& spec, int64_t folder_size);

// The square image side a model of `arch` works at for data of side `data_side`
// (dcgan32: 32, dcgan64: 64, mlp: the data's own side).
int64_t model_image_size(const std::string& arch, int64_t data_side);

// Sets cfg.model.channels and image_size (and, conditioned on classes, num_classes) from the data,
// then validates the config.
void fit_model_to_data(TrainConfig& cfg, const io::ImageDataset& data);

// Where a data source stands, for checkpoints: an image loader's epoch and batches served in it,
// a sampled stream's generator draws.
struct DataState {
  int64_t epoch = 0, position = 0;
  std::optional<uint64_t> draws;
};

// The real data of one critic step.
struct Batch {
  Tensor real;    // [B, ...] float32 (cyclegan: domain A)
  Tensor labels;  // [B] class ids (float32), for runs conditioned on them; else undefined
  Tensor real_b;  // cyclegan: [B, C, S, S] of domain B, drawn apart from `real`; else undefined
};

// The real batches of a run, one per critic step (on the CPU, or where a fixed batch lives). A source's whole state
// is its DataState, so a restored source yields what the uninterrupted one would have.
class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual Batch next() = 0;
  virtual std::string describe() const = 0;
  virtual int64_t batches_per_epoch() const { return 0; }  // 0: an endless stream (no epochs)
  virtual DataState state() const = 0;
  virtual void set_state(const DataState& s) = 0;
  // Scores of generated samples where the data defines them (2-D mixtures: mode coverage).
  virtual bool has_scores() const { return false; }
  virtual std::optional<Coverage> score(const Tensor& samples) const { return std::nullopt; }
  // The first n images of each domain ([n, C, S, S] in [-1, 1]; one tensor, two for unpaired data),
  // the same at every call and apart from the stream: what a translation's sample grids show.
  virtual std::vector<Tensor> examples(int64_t n) const;
  // True when reading a batch costs enough to do it on a background thread while the step runs
  // (models/prefetch.h); such a source's const members must not depend on what next() changes, as
  // they may run while next() does.
  virtual bool worth_prefetching() const { return false; }
  // The picture of generated samples: an image grid of `columns` per row (0: near-square); 2-D
  // points are plotted over the real data and shaded by `critic`. `title` names the run and step.
  virtual io::Image picture(const Tensor& samples, nn::Module* critic, const std::string& title,
                            int64_t columns = 0) const;
};

// Shuffled mini-batches of an image data set in [-1, 1] (io::BatchLoader), with their class labels
// when `labels` (the data set must have them).
std::unique_ptr<DataSource> image_source(const io::ImageDataset& data, int64_t batch, int64_t image_size, uint64_t seed,
                                         bool labels = false);
// Unpaired mini-batches of two image data sets (cyclegan): each shuffled by its own stream, so the
// pairs of a batch are never the same twice. The source's state is domain A's loader's; domain B's
// follows from the batches served (k batches in: epoch k / B's batches per epoch).
std::unique_ptr<DataSource> unpaired_source(const io::ImageDataset& a, const io::ImageDataset& b, int64_t batch,
                                            int64_t image_size, uint64_t seed);
// A fresh draw of 2-D points per batch (models/toy.h), from its own generator.
std::unique_ptr<DataSource> toy_source(const std::string& spec, int64_t batch, uint64_t seed);
// The same batch every time (the benchmarks' fixed on-device batch; `gan trace --batch-file`).
std::unique_ptr<DataSource> fixed_batch_source(Tensor batch, const std::string& what);

// The source of cfg.data: the toy sampler for 2-D data, else the loaded images. A fresh run
// (`fit_model`) fits cfg.model's channels and image size to them; a resumed one must match them.
std::unique_ptr<DataSource> make_data_source(TrainConfig& cfg, bool fit_model);

}  // namespace gan::models
