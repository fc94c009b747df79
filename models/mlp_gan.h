// The fully connected GAN (Goodfellow et al. 2014 style, the classic MNIST baseline).
//
// Generator  G: z [N, nz] -> main = Linear(nz, 256), LeakyReLU(0.2), Linear(256, 512),
//               LeakyReLU(0.2), Linear(512, 1024), LeakyReLU(0.2), Linear(1024, C*H*W), Tanh
//               -> reshaped to images [N, C, H, W].
// Discriminator D: images [N, C, H, W] flattened -> main = Linear(C*H*W, 512), LeakyReLU(0.2),
//               Linear(512, 256), LeakyReLU(0.2), Linear(256, 1) -> logits [N].
// Hidden widths are options; parameter names (main.0.weight, main.2.weight, ...) match a
// PyTorch module holding the same nn.Sequential as `self.main`.
#pragma once
#include "engine/nn/layers.h"
#include "models/config.h"

namespace gan::models {

class MlpGenerator : public nn::Module {
 public:
  MlpGenerator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& z) override;  // [N, nz] -> [N, C, H, W] in (-1, 1)
  std::shared_ptr<nn::Sequential> main;

 private:
  Shape image_shape_;
};

class MlpDiscriminator : public nn::Module {
 public:
  MlpDiscriminator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> logits [N]
  std::shared_ptr<nn::Sequential> main;
};

}  // namespace gan::models
