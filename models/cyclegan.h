// CycleGAN's networks (Zhu et al. 2017, "Unpaired Image-to-Image Translation using
// Cycle-Consistent Adversarial Networks"), laid out as the reference implementation's
// ResnetGenerator and NLayerDiscriminator (pytorch-CycleGAN-and-pix2pix, models/networks.py) with
// its defaults: instance norm without affine parameters or running statistics (so every
// convolution has a bias), no dropout, reflection padding, weights N(0, 0.02) and biases 0. A
// state dict written here therefore loads into the reference's modules with load_state_dict().
//
// ResnetGenerator, `model` an nn.Sequential (S the side, k = ngf):
//   0 ReflectionPad2d(3), 1 Conv2d(C, k, 7), 2 InstanceNorm2d, 3 ReLU       k x S x S      (c7s1-k)
//   4 Conv2d(k, 2k, 3, 2, 1), 5 norm, 6 ReLU                                2k x S/2 x S/2 (d2k)
//   7 Conv2d(2k, 4k, 3, 2, 1), 8 norm, 9 ReLU                               4k x S/4 x S/4 (d4k)
//   10 .. 9+n ResnetBlock(4k): x + conv_block(x), conv_block = 0 ReflectionPad2d(1),
//      1 Conv2d(4k, 4k, 3), 2 norm, 3 ReLU, 4 ReflectionPad2d(1), 5 Conv2d(4k, 4k, 3), 6 norm
//   10+n ConvTranspose2d(4k, 2k, 3, 2, 1, output_padding 1), norm, ReLU      2k x S/2 x S/2 (u2k)
//   13+n ConvTranspose2d(2k, k, 3, 2, 1, output_padding 1), norm, ReLU       k x S x S      (uk)
//   16+n ReflectionPad2d(3), 17+n Conv2d(k, C, 7), 18+n Tanh               C x S x S      (c7s1-C)
// so with 9 blocks the names are model.1.weight ... model.10.conv_block.1.weight ... model.26.bias.
//
// NLayerDiscriminator (PatchGAN), `model` an nn.Sequential, L strided layers, k = ndf:
//   Conv2d(C, k, 4, 2, 1), LeakyReLU(0.2)                                   k x S/2
//   for i in 1..L-1: Conv2d(k m(i-1), k m(i), 4, 2, 1), norm, LeakyReLU     m(i) = min(2^i, 8)
//   Conv2d(k m(L-1), k m(L), 4, 1, 1), norm, LeakyReLU                      S/2^L - 1
//   Conv2d(k m(L), 1, 4, 1, 1)                                              1 x (S/2^L - 2)^2
// one unbounded score per patch (the loss is LSGAN's MSE). L = 3 sees 70x70 pixels per score.
#pragma once
#include <memory>

#include "engine/nn/layers.h"
#include "engine/rng/generator.h"

namespace gan::models {

// x + conv_block(x), as the reference's ResnetBlock (its conv_block a child of that name).
class ResnetBlock : public nn::Module {
 public:
  ResnetBlock(int64_t dim, Generator& gen);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Sequential> conv_block;
};

class ResnetGenerator : public nn::Module {
 public:
  ResnetGenerator(int64_t channels, int64_t ngf, int64_t blocks, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, C, S, S] -> [N, C, S, S] in (-1, 1), S % 4 == 0
  std::shared_ptr<nn::Sequential> model;
};

class PatchDiscriminator : public nn::Module {
 public:
  PatchDiscriminator(int64_t channels, int64_t ndf, int64_t layers, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, C, S, S] -> [N, 1, P, P]
  std::shared_ptr<nn::Sequential> model;
};

// The history of generated images one discriminator learns from (Shrivastava et al. 2017, as the
// reference's ImagePool): until `size` images are held, each new fake is kept and returned; then
// each is, with probability 1/2, swapped for a random held one (which is returned in its place),
// else returned as is. The held images and their count are the module's buffer `images` [size, C,
// S, S] and counter `count`, so checkpoints carry the pool and a resumed run draws from the same
// history. Its coin flips and picks come from the generator passed to query (the run's noise stream).
class ImagePool : public nn::Module {
 public:
  ImagePool(int64_t size, int64_t channels, int64_t side);
  // The images D sees for the fakes `fakes` [B, C, S, S] (no history; a pool of size 0 returns them).
  Tensor query(const Tensor& fakes, Generator& gen);
  Tensor forward(const Tensor& fakes) override;  // refuses: a query needs the run's generator
  int64_t size() const { return size_; }
  int64_t held() const { return count_; }

 private:
  int64_t size_, count_ = 0;
  Tensor images_;
};

}  // namespace gan::models
