// InceptionV3 as pytorch-fid defines it for FID and the Inception Score: torchvision's Inception3
// trunk with the FID variants of its blocks (the average pools of Mixed_5b..5d, 6b..6e and 7b do
// not count padding; Mixed_7c pools its last branch with a max pool), TensorFlow's 2015 weights.
// Every conv is BasicConv2d (conv without bias, batch norm eps 0.001 in eval mode, ReLU).
//   images [N, 3, H, W] in [-1, 1] -> bilinear 299x299 -> trunk -> Mixed_7c [N, 2048, 8, 8]
//   -> global average pool: features [N, 2048] -> fc: logits [N, 1008]
//
// Weights: a safetensors file with torchvision's state_dict names (Conv2d_1a_3x3.conv.weight,
// Conv2d_1a_3x3.bn.running_mean, ..., Mixed_7c.branch_pool.bn.running_var, fc.weight, fc.bias);
// scripts/inception_weights_to_safetensors.py writes it from pytorch-fid's weights.
// `*.num_batches_tracked` entries are ignored; any other tensor must be one of the network's.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/tensor.h"
#include "engine/io/safetensors.h"
#include "models/eval/feature_net.h"

namespace gan::models::eval {

constexpr int64_t kInceptionSize = 299;
constexpr int64_t kInceptionFeatures = 2048;
constexpr int64_t kInceptionClasses = 1008;

// Every tensor the weights file must hold, with its shape, in the network's order.
std::vector<std::pair<std::string, Shape>> inception_tensor_shapes();

class InceptionV3 {
 public:
  // Checks `weights` against inception_tensor_shapes(); errors name `source`, the tensor, the shape
  // found and the shape expected. Batch norm is folded into each conv (in float64) as it loads.
  InceptionV3(const io::SafetensorsFile& weights, const std::string& source, Device device);
  static InceptionV3 load(const std::string& path, Device device);

  struct Output {
    Tensor features;  // [N, 2048]
    Tensor logits;    // [N, 1008]
  };
  // x [N, 3, H, W] float32 on the network's device, in [-1, 1]: resized to 299x299 first.
  Output forward(const Tensor& x) const;
  Device device() const { return device_; }

 private:
  struct Conv {
    Tensor weight, bias;  // batch norm folded in
    int64_t stride = 1, pad_h = 0, pad_w = 0;
  };
  Tensor conv(const std::string& name, const Tensor& x) const;  // conv + folded BN + ReLU
  Tensor block_a(const std::string& name, const Tensor& x) const;
  Tensor block_b(const std::string& name, const Tensor& x) const;
  Tensor block_c(const std::string& name, const Tensor& x) const;
  Tensor block_d(const std::string& name, const Tensor& x) const;
  Tensor block_e(const std::string& name, const Tensor& x, bool max_pool) const;

  Device device_;
  std::map<std::string, Conv> convs_;
  Tensor fc_weight_, fc_bias_;
};

// The FeatureNet "inception": features = the 2048-d pool features, probs = softmax of the 1008
// logits; 1-channel images are repeated to 3 channels. Runs batches of at most `batch` images
// without autograd history.
class InceptionFeatureNet : public FeatureNet {
 public:
  InceptionFeatureNet(InceptionV3 net, int64_t batch);
  std::string name() const override { return "inception"; }
  int64_t feature_dim() const override { return kInceptionFeatures; }
  int64_t classes() const override { return kInceptionClasses; }
  int64_t channels() const override { return 3; }
  Features compute(const Tensor& images) override;

 private:
  InceptionV3 net_;
  int64_t batch_;
};

// Loads the weights file (see above) onto `device`.
std::unique_ptr<FeatureNet> make_inception_feature_net(const std::string& weights_path, Device device);

}  // namespace gan::models::eval
