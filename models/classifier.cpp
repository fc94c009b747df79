#include "models/classifier.h"

#include <algorithm>

#include "engine/core/parse.h"
#include "engine/io/loader.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "engine/optim/optimizer.h"
#include "models/checkpoint.h"
#include "models/sampling.h"

namespace gan::models {

static constexpr const char* kClassifierFormat = "gan-engine-classifier";

Classifier::Classifier(int64_t c, int64_t s, int64_t k, Generator& gen)
    : nn::Module("Classifier"), channels(c), image_size(s), classes(k) {
  GAN_CHECK(s % 4 == 0 && s >= 8 && k >= 2, "Classifier: needs an image side divisible by 4 and 2+ classes, got "
                                               << s << " and " << k);
  auto leaky = [] { return std::make_shared<nn::LeakyReLU>(0.2); };
  main = register_module("main", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Conv2d>(c, 32, 3, 1, 1, true, &gen), leaky(),     // 32 x S x S
      std::make_shared<nn::Conv2d>(32, 64, 4, 2, 1, true, &gen), leaky(),    // 64 x S/2 x S/2
      std::make_shared<nn::Conv2d>(64, 128, 4, 2, 1, true, &gen), leaky()}));  // 128 x S/4 x S/4
  head = register_module("head", std::make_shared<nn::Linear>(128 * (s / 4) * (s / 4), k, true, &gen));
}

Tensor Classifier::forward(const Tensor& x) {
  GAN_CHECK(x.dim() == 4 && x.size(1) == channels && x.size(2) == image_size && x.size(3) == image_size,
            "Classifier: images " << x.str() << " should be [N, " << channels << ", " << image_size << ", "
                                  << image_size << "]");
  return (*head)(main->forward(x).flatten(1));
}

std::vector<int64_t> Classifier::predict(const Tensor& images) {
  NoGradGuard no_grad;
  std::vector<int64_t> out;
  for (int64_t start = 0; start < images.size(0); start += 256) {
    const int64_t end = std::min<int64_t>(start + 256, images.size(0));
    std::vector<float> logits = forward(slice(images, 0, start, end).to(device())).to_float_vector();
    for (int64_t i = 0; i < end - start; ++i) {
      const float* row = &logits[static_cast<size_t>(i * classes)];
      out.push_back(std::max_element(row, row + classes) - row);
    }
  }
  return out;
}

ClassifierResult train_classifier(const io::ImageDataset& data, const ClassifierTraining& o, Device device) {
  GAN_CHECK(!data.labels.empty(), data.source << ": the classifier needs labelled images");
  GAN_CHECK(o.held_out >= 0 && o.held_out < data.count, data.source << ": cannot hold out " << o.held_out << " of "
                                                                    << data.count << " images");
  const int64_t classes = 1 + *std::max_element(data.labels.begin(), data.labels.end());
  io::ImageDataset train = data, test = data;  // the last held_out images are never trained on
  const int64_t n_train = data.count - o.held_out, bytes = data.image_bytes();
  train.count = n_train;
  train.pixels.resize(static_cast<size_t>(n_train * bytes));
  train.labels.resize(static_cast<size_t>(n_train));
  test.count = o.held_out;
  test.pixels.assign(data.pixels.begin() + n_train * bytes, data.pixels.end());
  test.labels.assign(data.labels.begin() + n_train, data.labels.end());

  Generator init(o.seed);
  ClassifierResult r;
  r.classifier = std::make_shared<Classifier>(data.channels, o.image_size, classes, init);
  Classifier& net = *r.classifier;
  net.to(device);
  optim::AdamOptions ao;
  ao.lr = o.lr;
  optim::Adam opt(net.named_parameters(), ao);
  io::BatchLoader loader(train, o.batch, o.image_size, o.seed);
  for (int64_t step = 1; step <= o.steps; ++step) {
    Tensor y;
    Tensor x = loader.next(&y).to(device);
    Tensor loss = softmax_cross_entropy(net(x), y.to(device));
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (o.on_log && step % 100 == 0) o.on_log(step, loss.item());
  }
  if (o.held_out > 0) {
    io::BatchLoader all(test, o.held_out, o.image_size, o.seed);
    Tensor y;
    Tensor x = all.next(&y);
    std::vector<int64_t> pred = net.predict(x);
    std::vector<float> truth = y.to_float_vector();
    int64_t right = 0;
    for (size_t i = 0; i < pred.size(); ++i) right += pred[i] == static_cast<int64_t>(truth[i]);
    r.held_out = o.held_out;
    r.held_out_accuracy = static_cast<double>(right) / static_cast<double>(o.held_out);
  }
  return r;
}

void save_classifier(const ClassifierResult& r, const std::string& path) {
  const Classifier& c = *r.classifier;
  io::SafetensorsFile f;
  for (auto& [k, v] : c.state_dict()) f.add("classifier." + k, v.tensor);
  f.metadata = {{"format", kClassifierFormat},
                {"channels", std::to_string(c.channels)},
                {"image_size", std::to_string(c.image_size)},
                {"classes", std::to_string(c.classes)},
                {"held_out", std::to_string(r.held_out)},
                {"held_out_accuracy", std::to_string(r.held_out_accuracy)}};
  io::save_safetensors(path, f);
}

std::shared_ptr<Classifier> load_classifier(const std::string& path, Device device) {
  io::SafetensorsFile f = io::load_safetensors(path);
  auto meta = [&](const char* k) -> int64_t {
    auto it = f.metadata.find(k);
    GAN_CHECK(it != f.metadata.end(), path << ": not a classifier of this engine (no '" << k << "' metadata)");
    const std::optional<int64_t> v = parse_int64(it->second);
    GAN_CHECK(v.has_value(), path << ": classifier metadata '" << k << "' is not an integer: '" << it->second << "'");
    return *v;
  };
  auto fmt = f.metadata.find("format");
  GAN_CHECK(fmt != f.metadata.end() && fmt->second == kClassifierFormat,
            path << ": not a classifier of this engine (format '" << kClassifierFormat << "' expected)");
  Generator init(0);
  auto c = std::make_shared<Classifier>(meta("channels"), meta("image_size"), meta("classes"), init);
  c->load_state_dict(network_state(f, "classifier", path), path);
  c->to(device);
  c->eval();
  return c;
}

int64_t SampleReading::top_class(size_t v) const {
  return std::max_element(counts[v].begin(), counts[v].end()) - counts[v].begin();
}

double SampleReading::share(size_t v) const {
  int64_t total = 0;
  for (int64_t n : counts[v]) total += n;
  const int64_t hit = infogan ? counts[v][top_class(v)] : counts[v][v];
  return total > 0 ? static_cast<double>(hit) / static_cast<double>(total) : 0;
}

SampleReading read_samples(Classifier& c, const LoadedGenerator& g, int64_t per_value, uint64_t seed) {
  GAN_CHECK(per_value > 0, "classify: --n must be positive, got " << per_value);
  const ModelConfig& m = g.config;
  GAN_CHECK(m.channels == c.channels && m.image_size == c.image_size,
            "classify: the generator makes " << m.channels << "x" << m.image_size << "x" << m.image_size
                                             << " images, the classifier reads " << c.channels << "x" << c.image_size
                                             << "x" << c.image_size);
  SampleReading r;
  int64_t values = m.num_classes;
  if (!m.conditional()) {
    std::vector<LatentCode> codes = m.codes.empty() ? std::vector<LatentCode>{} : parse_codes(m.codes);
    auto first = std::find_if(codes.begin(), codes.end(), [](const LatentCode& k) { return k.categorical; });
    GAN_CHECK(first != codes.end(), "classify: the generator has no class input and no categorical code to read");
    values = first->size;
    r.infogan = true;
  }
  for (int64_t v = 0; v < values; ++v) {
    SampleCondition cond;
    if (r.infogan) cond.codes["cat"] = static_cast<double>(v);
    else cond.cls = v;
    std::vector<int64_t> pred = c.predict(sample_images(g, per_value, seed + static_cast<uint64_t>(v), cond));
    std::vector<int64_t> row(static_cast<size_t>(c.classes), 0);
    for (int64_t p : pred) ++row[static_cast<size_t>(p)];
    r.counts.push_back(row);
  }
  return r;
}

}  // namespace gan::models
