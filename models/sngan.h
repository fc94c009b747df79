// The SNGAN paper's standard CNN for 32x32 images (Miyato et al. 2018, table 3; widths scale with
// --ngf/--ndf, 64 giving the paper's 512/256/128/64). Used with --spectral-norm d (its default)
// and --loss hinge. Both are plain nn.Sequential `main`, so state_dict names are main.I.*:
//
// Generator, z [N, nz] ~ N(0, I) (nz 128 by default for this model):
//   Linear(nz, 4*4*8ngf) -> Unflatten(8ngf, 4, 4) -> BatchNorm2d -> ReLU      (8ngf) x 4 x 4
//   3 x [ConvTranspose2d(4, stride 2, pad 1) -> BatchNorm2d -> ReLU]           ngf x 32 x 32
//       widths 4ngf, 2ngf, ngf
//   Conv2d(ngf, C, 3, 1, 1) -> Tanh                                            C x 32 x 32
// Discriminator, LeakyReLU(0.1) after every conv:
//   Conv2d(C, ndf, 3, 1, 1), Conv2d(ndf, ndf, 4, 2, 1)                        ndf x 16 x 16
//   Conv2d(ndf, 2ndf, 3, 1, 1), Conv2d(2ndf, 2ndf, 4, 2, 1)                   (2ndf) x 8 x 8
//   Conv2d(2ndf, 4ndf, 3, 1, 1), Conv2d(4ndf, 4ndf, 4, 2, 1)                  (4ndf) x 4 x 4
//   Conv2d(4ndf, 8ndf, 3, 1, 1) -> Flatten -> Linear(8ndf*4*4, 1)             one logit [N]
// Weights keep PyTorch's default initialisation of each layer (the reference code's choice too).
#pragma once
#include "engine/nn/layers.h"
#include "models/config.h"

namespace gan::models {

class SnganGenerator : public nn::Module {
 public:
  SnganGenerator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& z) override;  // [N, nz] -> [N, C, 32, 32]
  std::shared_ptr<nn::Sequential> main;

 private:
  int64_t nz_;
};

class SnganDiscriminator : public nn::Module {
 public:
  SnganDiscriminator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, C, 32, 32] -> [N]
  std::shared_ptr<nn::Sequential> main;

 private:
  int64_t channels_;
};

}  // namespace gan::models
