// The digits feature network: a small CNN trained by this engine on the bundled digits
// (data/mnist-10k) whose penultimate layer (128 values) is the feature space of FID, KID and
// precision/recall for 28x28 grayscale data, and whose softmax over the 10 digits is what the
// Inception Score reads. The committed weights are data/digits-features/digits.safetensors
// (trained with `gan classifier --arch digits`, data/digits-features/README.md).
//
//   features = Conv2d(1, 32, 3, 1, 1), LeakyReLU(0.2),   # 32 x 28 x 28
//              Conv2d(32, 32, 4, 2, 1), LeakyReLU(0.2),  # 32 x 14 x 14
//              Conv2d(32, 64, 4, 2, 1), LeakyReLU(0.2),  # 64 x 7 x 7
//              Conv2d(64, 128, 3, 2, 1), LeakyReLU(0.2), # 128 x 4 x 4
//              Flatten, Linear(2048, 128)                # 128: the feature vector
//   head     = LeakyReLU(0.2), Linear(128, 10)           # the class logits
//
// The feature vector is the linear layer's output before its activation (a dense, full-rank
// space: after a ReLU many values would be exactly 0 and the covariance singular), times the
// buffer `feature_scale`, fixed after training so that the mean square of a feature over the
// training images is 1: the scale the KID kernel (x.y / d + 1)^3 assumes (unscaled, x.y / d was
// about 50 and the cubic kernel's estimates drowned in noise).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/io/datasets.h"
#include "engine/nn/layers.h"
#include "models/classifier.h"
#include "models/eval/feature_net.h"

namespace gan::models::eval {

inline constexpr int64_t kDigitsSide = 28, kDigitsFeatures = 128, kDigitsClasses = 10;

class DigitsNet : public nn::Module {
 public:
  explicit DigitsNet(Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, 1, 28, 28] -> logits [N, 10]
  Tensor embed(const Tensor& x);             // [N, 1, 28, 28] -> the head's input [N, 128], unscaled
  // The feature vectors of evaluation: embed(x) x feature_scale.
  Tensor evaluation_features(const Tensor& x);
  double feature_scale() const;
  void set_feature_scale(double s);
  std::shared_ptr<nn::Sequential> features, head;
};

struct DigitsNetResult {
  std::shared_ptr<DigitsNet> net;
  double held_out_accuracy = 0;
  int64_t held_out = 0;
};

// Trains on labelled 1-channel 28x28 images (the last opts.held_out kept out to measure the
// accuracy), softmax cross-entropy and Adam; opts.image_size must be 28.
DigitsNetResult train_digits_net(const io::ImageDataset& data, const ClassifierTraining& opts, Device device);
// safetensors: digits.features.*, digits.head.*; metadata format gan-engine-digits-features,
// held_out, held_out_accuracy, steps, seed.
void save_digits_net(const DigitsNetResult& r, const ClassifierTraining& opts, const std::string& path);
std::shared_ptr<DigitsNet> load_digits_net(const std::string& path, Device device);

// Where the committed weights are: $GAN_DATA_DIR/digits-features, ./data/digits-features or the
// source tree's data/digits-features, whichever holds digits.safetensors (throws listing them).
std::string bundled_digits_weights();

// The FeatureNet over a DigitsNet ("digits", 128 features, 10 classes, 1 channel). Images of 28x28
// are read as they are; 32x32 ones are centre-cropped to 28x28, which undoes exactly the
// 2-pixel background border the data loader adds when it fits 28x28 digits to a 32x32 model
// (dcgan32); 3-channel images are turned to gray (0.299 R + 0.587 G + 0.114 B). Other sizes
// are refused naming the size.
std::unique_ptr<FeatureNet> make_digits_feature_net(const std::string& weights, Device device);

}  // namespace gan::models::eval
