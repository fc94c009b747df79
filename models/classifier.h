// An image classifier trained by this engine: the independent judge of conditional and InfoGAN
// samples (docs/conditional.md, docs/infogan.md). A small CNN on [N, C, S, S] images in [-1, 1]:
//   main = Conv2d(C, 32, 3, 1, 1), LeakyReLU, Conv2d(32, 64, 4, 2, 1), LeakyReLU,
//          Conv2d(64, 128, 4, 2, 1), LeakyReLU  -> 128 x S/4 x S/4, flattened
//   head = Linear(128 S^2 / 16, K)
// trained with softmax cross-entropy and Adam on a labelled data set, the last `held_out` images
// kept out of training to measure its accuracy. Saved as safetensors (classifier.main.*,
// classifier.head.*, metadata format gan-engine-classifier, channels, image_size, classes,
// held_out_accuracy).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/io/datasets.h"
#include "engine/nn/layers.h"

namespace gan::models {

class Classifier : public nn::Module {
 public:
  Classifier(int64_t channels, int64_t image_size, int64_t classes, Generator& gen);
  Tensor forward(const Tensor& x) override;  // class logits [N, K]
  // The most likely class of each image (host ids), in batches of 256 without history.
  std::vector<int64_t> predict(const Tensor& images);
  std::shared_ptr<nn::Sequential> main;
  std::shared_ptr<nn::Linear> head;
  int64_t channels, image_size, classes;
};

struct ClassifierTraining {
  int64_t steps = 1500, batch = 64, held_out = 1000, image_size = 32;
  double lr = 1e-3;
  uint64_t seed = 0;
  std::function<void(int64_t step, double loss)> on_log;  // every 100 steps
};

struct ClassifierResult {
  std::shared_ptr<Classifier> classifier;
  double held_out_accuracy = 0;
  int64_t held_out = 0;
};

// Trains on `data` (labels required; the last `held_out` images are not trained on).
ClassifierResult train_classifier(const io::ImageDataset& data, const ClassifierTraining& opts, Device device);
void save_classifier(const ClassifierResult& r, const std::string& path);
std::shared_ptr<Classifier> load_classifier(const std::string& path, Device device);

// How the classifier reads a generator's samples, `per_value` of them for each value asked for:
// each class of a class-conditional generator (--class K), or each value of an InfoGAN generator's
// first categorical code (--code cat=V). counts[v][c]: samples asked as v classified as c.
struct SampleReading {
  bool infogan = false;
  std::vector<std::vector<int64_t>> counts;
  // Class-conditional: the share of value v's samples classified as v. InfoGAN: the share in
  // value v's most frequent class, and that class.
  double share(size_t v) const;
  int64_t top_class(size_t v) const;
};
struct LoadedGenerator;
SampleReading read_samples(Classifier& c, const LoadedGenerator& g, int64_t per_value, uint64_t seed);

}  // namespace gan::models
