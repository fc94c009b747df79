#include "models/eval/digits_net.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "engine/io/file_util.h"
#include "engine/io/loader.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "engine/optim/optimizer.h"
#include "models/checkpoint.h"

namespace gan::models::eval {

namespace {

constexpr const char* kDigitsFormat = "gan-engine-digits-features";
constexpr int64_t kBatch = 500;  // images per forward pass when computing features

std::shared_ptr<nn::Module> leaky() { return std::make_shared<nn::LeakyReLU>(0.2); }

class DigitsFeatureNet : public FeatureNet {
 public:
  DigitsFeatureNet(std::shared_ptr<DigitsNet> net, Device device)
      : net_(std::move(net)), device_(device), scale_(net_->feature_scale()) {}
  std::string name() const override { return "digits"; }
  int64_t feature_dim() const override { return kDigitsFeatures; }
  int64_t classes() const override { return kDigitsClasses; }
  int64_t channels() const override { return 1; }

  Features compute(const Tensor& images) override {
    GAN_CHECK(images.defined() && images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3),
              "digits features: expected images [N, 1 or 3, 28, 28] in [-1, 1], got "
                  << (images.defined() ? images.str() : "none"));
    const int64_t h = images.size(2), w = images.size(3);
    GAN_CHECK(h == w && h >= 8, "digits features: images of " << h << "x" << w << "; the digits network reads square "
                                                              << "images (28x28 as they are, 32x32 centre-cropped to 28x28, "
                                                              << "other sides of at least 8 resized bilinearly to 28x28)");
    NoGradGuard no_grad;
    std::vector<Tensor> feats, probs;
    for (int64_t start = 0; start < images.size(0); start += kBatch) {
      const int64_t end = std::min(start + kBatch, images.size(0));
      Tensor x = slice(images, 0, start, end).to(device_).to(DType::Float32);
      if (x.size(1) == 3)  // ITU-R 601 luma, as PIL's convert("L")
        x = slice(x, 1, 0, 1) * 0.299 + slice(x, 1, 1, 2) * 0.587 + slice(x, 1, 2, 3) * 0.114;
      // 32x32 digits are the loader's 28x28 ones padded by 2: cropping undoes that exactly.
      if (h == kDigitsSide + 4) x = slice(slice(x, 2, 2, 2 + kDigitsSide), 3, 2, 2 + kDigitsSide);
      else if (h != kDigitsSide) x = resize_bilinear(x, kDigitsSide, kDigitsSide);
      Tensor f = net_->embed(x);
      feats.push_back((f * scale_).cpu().to(DType::Float64));
      probs.push_back(softmax((*net_->head)(f)).cpu().to(DType::Float64));
    }
    GAN_CHECK(!feats.empty(), "digits features: no images");
    return {cat(feats, 0), cat(probs, 0)};
  }

 private:
  std::shared_ptr<DigitsNet> net_;
  Device device_;
  double scale_;
};

}  // namespace

DigitsNet::DigitsNet(Generator& gen) : nn::Module("DigitsNet") {
  features = register_module("features", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Conv2d>(1, 32, 3, 1, 1, true, &gen), leaky(),    // 32 x 28 x 28
      std::make_shared<nn::Conv2d>(32, 32, 4, 2, 1, true, &gen), leaky(),   // 32 x 14 x 14
      std::make_shared<nn::Conv2d>(32, 64, 4, 2, 1, true, &gen), leaky(),   // 64 x 7 x 7
      std::make_shared<nn::Conv2d>(64, 128, 3, 2, 1, true, &gen), leaky(),  // 128 x 4 x 4
      std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(128 * 4 * 4, kDigitsFeatures, true, &gen)}));  // 128
  head = register_module("head", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      leaky(), std::make_shared<nn::Linear>(kDigitsFeatures, kDigitsClasses, true, &gen)}));  // 10
  register_buffer("feature_scale", Tensor::ones({1}));
}

double DigitsNet::feature_scale() const {
  for (auto& [name, b] : named_buffers())
    if (name == "feature_scale") return b.cpu().item();
  GAN_FAIL("digits network: no feature_scale buffer");
}

void DigitsNet::set_feature_scale(double s) {
  for (auto& [name, b] : named_buffers())
    if (name == "feature_scale") b.fill_(s);
}

Tensor DigitsNet::evaluation_features(const Tensor& x) { return embed(x) * feature_scale(); }

Tensor DigitsNet::embed(const Tensor& x) {
  GAN_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == kDigitsSide && x.size(3) == kDigitsSide,
            "digits network: images " << x.str() << " should be [N, 1, 28, 28]");
  return features->forward(x);
}

Tensor DigitsNet::forward(const Tensor& x) { return head->forward(embed(x)); }

DigitsNetResult train_digits_net(const io::ImageDataset& data, const ClassifierTraining& o, Device device) {
  GAN_CHECK(!data.labels.empty(), data.source << ": the digits network needs labelled images");
  GAN_CHECK(data.channels == 1, data.source << ": the digits network trains on 1-channel images, got "
                                            << data.channels);
  GAN_CHECK(o.image_size == kDigitsSide, "--image-size " << o.image_size << ": the digits network reads 28x28 images");
  GAN_CHECK(o.held_out >= 0 && o.held_out < data.count,
            data.source << ": cannot hold out " << o.held_out << " of " << data.count << " images");
  const int64_t classes = 1 + *std::max_element(data.labels.begin(), data.labels.end());
  GAN_CHECK(classes <= kDigitsClasses, data.source << ": " << classes << " classes; the digits network has "
                                                   << kDigitsClasses);
  io::ImageDataset train = data, test = data;  // the last held_out images are never trained on
  const int64_t n_train = data.count - o.held_out, bytes = data.image_bytes();
  train.count = n_train;
  train.pixels.resize(static_cast<size_t>(n_train * bytes));
  train.labels.resize(static_cast<size_t>(n_train));
  test.count = o.held_out;
  test.pixels.assign(data.pixels.begin() + n_train * bytes, data.pixels.end());
  test.labels.assign(data.labels.begin() + n_train, data.labels.end());

  Generator init(o.seed);
  DigitsNetResult r;
  r.net = std::make_shared<DigitsNet>(init);
  DigitsNet& net = *r.net;
  net.to(device);
  optim::AdamOptions ao;
  ao.lr = o.lr;
  optim::Adam opt(net.named_parameters(), ao);
  io::BatchLoader loader(train, o.batch, kDigitsSide, o.seed);
  for (int64_t step = 1; step <= o.steps; ++step) {
    Tensor y;
    Tensor x = loader.next(&y).to(device);
    Tensor loss = softmax_cross_entropy(net(x), y.to(device));
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (o.on_log && step % 100 == 0) o.on_log(step, loss.item());
  }
  net.eval();
  {  // feature_scale: 1 / the root mean square of the features over the training images
    NoGradGuard no_grad;
    io::BatchLoader all(train, std::min<int64_t>(n_train, 1000), kDigitsSide, o.seed);
    double sum_sq = 0, count = 0;
    for (int64_t b = 0; b < all.batches_per_epoch(); ++b) {
      std::vector<float> f = net.embed(all.next().to(device)).to_float_vector();
      for (float v : f) sum_sq += static_cast<double>(v) * v;
      count += static_cast<double>(f.size());
    }
    GAN_CHECK(count > 0 && sum_sq > 0, data.source << ": no training images to scale the features by");
    net.set_feature_scale(1.0 / std::sqrt(sum_sq / count));
  }
  if (o.held_out > 0) {
    io::BatchLoader all(test, o.held_out, kDigitsSide, o.seed);
    Tensor y;
    Tensor x = all.next(&y);
    NoGradGuard no_grad;
    std::vector<float> logits = net(x.to(device)).to_float_vector(), truth = y.to_float_vector();
    int64_t right = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      const float* row = &logits[i * kDigitsClasses];
      right += (std::max_element(row, row + kDigitsClasses) - row) == static_cast<int64_t>(truth[i]);
    }
    r.held_out = o.held_out;
    r.held_out_accuracy = static_cast<double>(right) / static_cast<double>(o.held_out);
  }
  return r;
}

void save_digits_net(const DigitsNetResult& r, const ClassifierTraining& o, const std::string& path) {
  io::SafetensorsFile f;
  for (auto& [k, v] : r.net->state_dict()) f.add("digits." + k, v.tensor);
  f.metadata = {{"format", kDigitsFormat},
                {"held_out", std::to_string(r.held_out)},
                {"held_out_accuracy", std::to_string(r.held_out_accuracy)},
                {"steps", std::to_string(o.steps)},
                {"seed", std::to_string(o.seed)}};
  io::save_safetensors(path, f);
}

std::shared_ptr<DigitsNet> load_digits_net(const std::string& path, Device device) {
  io::SafetensorsFile f = io::load_safetensors(path);
  auto fmt = f.metadata.find("format");
  GAN_CHECK(fmt != f.metadata.end() && fmt->second == kDigitsFormat,
            path << ": not digits-network weights (metadata format '" << kDigitsFormat << "' expected)");
  Generator init(0);
  auto net = std::make_shared<DigitsNet>(init);
  net->load_state_dict(network_state(f, "digits", path), path);
  net->to(device);
  net->eval();
  return net;
}

std::string bundled_digits_weights() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("GAN_DATA_DIR")) candidates.push_back(std::string(env) + "/digits-features");
  candidates.push_back("data/digits-features");
#ifdef GAN_SOURCE_DIR
  candidates.push_back(std::string(GAN_SOURCE_DIR) + "/data/digits-features");
#endif
  std::string tried;
  for (const auto& c : candidates) {
    if (io::file_exists(c + "/digits.safetensors")) return c + "/digits.safetensors";
    tried += (tried.empty() ? "" : ", ") + c;
  }
  GAN_FAIL("--features digits: the committed weights digits.safetensors were not found (looked in "
           << tried << "); set GAN_DATA_DIR or give digits:PATH");
}

std::unique_ptr<FeatureNet> make_digits_feature_net(const std::string& weights, Device device) {
  return std::make_unique<DigitsFeatureNet>(load_digits_net(weights, device), device);
}

}  // namespace gan::models::eval
