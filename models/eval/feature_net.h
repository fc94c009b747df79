// A feature network for evaluation: what FID, KID and precision/recall compare (a feature vector per
// image) and what the Inception Score reads (class probabilities per image). Two exist:
//   inception:WEIGHTS  InceptionV3 as pytorch-fid defines it (2048-d pool features, 1008-way
//                      logits), input resized to 299x299 the way pytorch-fid resizes it
//                      (models/eval/inception.h);
//   digits[:WEIGHTS]   a small classifier trained by this engine on the bundled digits, for 28x28
//                      grayscale data (models/eval/digits_net.h; weights under data/).
// Both take images [N, C, H, W] in [-1, 1], the range every generator here produces.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/device.h"
#include "engine/core/tensor.h"

namespace gan::models::eval {

struct Features {
  Tensor features;  // [N, feature_dim], float64 on the CPU
  Tensor probs;     // [N, classes], float64 on the CPU: softmax of the logits (for IS)
};

class FeatureNet {
 public:
  virtual ~FeatureNet() = default;
  virtual std::string name() const = 0;  // "inception", "digits": recorded beside statistics
  virtual int64_t feature_dim() const = 0;
  virtual int64_t classes() const = 0;
  // Channels the network expects (1 or 3); compute() converts 1 <-> 3 channels when needed.
  virtual int64_t channels() const = 0;
  // Features of a batch of images [N, C, H, W] in [-1, 1] on any device; runs without history on
  // the network's device. Errors name the shape expected.
  virtual Features compute(const Tensor& images) = 0;
};

// "inception:PATH", "digits" (the committed weights) or "digits:PATH". Errors name the spec and,
// for weights, the file and the tensor that is missing or misshaped.
std::unique_ptr<FeatureNet> make_feature_net(const std::string& spec, Device device);

}  // namespace gan::models::eval
