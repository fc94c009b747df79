// DCGAN (Radford et al. 2016) as in pytorch/examples dcgan/main.py, and a 32x32 variant.
//
// Both generators take noise [N, nz, 1, 1] and end in Tanh; both discriminators return one logit
// per image ([N]): the example's final Sigmoid is left out because the loss is BCE-with-logits
// (it has no parameters, so the state_dict names are unchanged and a generator or discriminator
// saved here loads into the example's Generator / Discriminator with load_state_dict).
// Weights are initialised as the example's weights_init (conv N(0, 0.02), BatchNorm N(1, 0.02)).
//
// Generator, ConvTranspose2d(4) layers each followed by BatchNorm2d and ReLU but the last (Tanh):
//   64x64: nz -> (ngf*8) x 4 x 4 -> (ngf*4) x 8 x 8 -> (ngf*2) x 16 x 16 -> ngf x 32 x 32 -> nc x 64 x 64
//   32x32: nz -> (ngf*8) x 4 x 4 -> (ngf*4) x 8 x 8 -> (ngf*2) x 16 x 16 -> nc x 32 x 32
// Discriminator, Conv2d(4) layers each followed by the critic's normalisation (not the first) and
// LeakyReLU, then Conv2d(4, stride 1, no padding) to one logit:
//   64x64: nc x 64 x 64 -> ndf x 32 x 32 -> (ndf*2) x 16 x 16 -> (ndf*4) x 8 x 8 -> (ndf*8) x 4 x 4 -> 1
//   32x32: nc x 32 x 32 -> (ndf*2) x 16 x 16 -> (ndf*4) x 8 x 8 -> (ndf*8) x 4 x 4 -> 1
// With ngf = 64 the 32x32 generator is z -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32xC.
// --upsample nearest|pixelshuffle replaces each stride-2 ConvTranspose2d by two modules
// (Upsample(2), Conv2d(3, 1, 1)) or (Conv2d(3, 1, 1) to 4x the channels, PixelShuffle(2)), so the
// later indices move by one per replaced layer, as in the equivalent torch nn.Sequential.
//
// The discriminators' normalisation follows ModelConfig::critic_norm: BatchNorm2d (default),
// LayerNorm over (C, H, W) (WGAN-GP critics; PyTorch: nn.LayerNorm([C, H, W]), weight ones and
// bias zeros, e.g. main.3.weight [ndf*4, 8, 8] in the 32x32 critic) or nothing (nn.Identity in
// that slot), always at the same Sequential index so that the other names do not move.
#pragma once
#include "engine/nn/layers.h"
#include "models/config.h"

namespace gan::models {

template <int Side>  // 32 or 64
class DcganGenerator : public nn::Module {
 public:
  DcganGenerator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& z) override;
  std::shared_ptr<nn::Sequential> main;

 private:
  int64_t nz_;
};

template <int Side>
class DcganDiscriminator : public nn::Module {
 public:
  DcganDiscriminator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Sequential> main;

 private:
  int64_t channels_;
};

using Dcgan64Generator = DcganGenerator<64>;
using Dcgan64Discriminator = DcganDiscriminator<64>;
using Dcgan32Generator = DcganGenerator<32>;
using Dcgan32Discriminator = DcganDiscriminator<32>;
extern template class DcganGenerator<32>;
extern template class DcganGenerator<64>;
extern template class DcganDiscriminator<32>;
extern template class DcganDiscriminator<64>;

}  // namespace gan::models
