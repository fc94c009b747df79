// DCGAN (Radford et al. 2016) as in pytorch/examples dcgan/main.py, and a 32x32 variant.
//
// Both generators take noise [N, nz, 1, 1] and end in Tanh; both discriminators return one logit
// per image ([N]): the example's final Sigmoid is left out because the loss is BCE-with-logits
// (it has no parameters, so the state_dict names are unchanged and a generator or discriminator
// saved here loads into the example's Generator / Discriminator with load_state_dict).
// Weights are initialised as the example's weights_init (conv N(0, 0.02), BatchNorm N(1, 0.02)).
//
// The discriminators' normalisation follows ModelConfig::critic_norm: BatchNorm2d (default),
// LayerNorm over (C, H, W) (WGAN-GP critics; PyTorch: nn.LayerNorm([C, H, W]), weight ones and
// bias zeros, e.g. main.3.weight [ndf*4, 8, 8] in the 32x32 critic) or nothing (nn.Identity in
// that slot), always at the same Sequential index so that the other names do not move.
#pragma once
#include "engine/nn/layers.h"
#include "models/config.h"

namespace gan::models {

// 64x64: ConvTranspose2d stack nz -> ngf*8 (4x4) -> ngf*4 (8x8) -> ngf*2 (16x16) -> ngf (32x32) -> C (64x64).
class Dcgan64Generator : public nn::Module {
 public:
  Dcgan64Generator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& z) override;
  std::shared_ptr<nn::Sequential> main;
};

// 64x64: Conv2d stack C (64x64) -> ndf (32x32) -> ndf*2 (16x16) -> ndf*4 (8x8) -> ndf*8 (4x4) -> 1.
class Dcgan64Discriminator : public nn::Module {
 public:
  Dcgan64Discriminator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Sequential> main;
};

// 32x32: nz -> ngf*8 (4x4) -> ngf*4 (8x8) -> ngf*2 (16x16) -> C (32x32); with ngf = 64 that is
// z -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32xC.
class Dcgan32Generator : public nn::Module {
 public:
  Dcgan32Generator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& z) override;
  std::shared_ptr<nn::Sequential> main;
};

// 32x32, the generator mirrored: C (32x32) -> ndf*2 (16x16) -> ndf*4 (8x8) -> ndf*8 (4x4) -> 1.
class Dcgan32Discriminator : public nn::Module {
 public:
  Dcgan32Discriminator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Sequential> main;
};

}  // namespace gan::models
