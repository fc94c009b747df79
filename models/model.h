// A generator/discriminator pair built from a ModelConfig, with the noise it expects.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "engine/nn/module.h"
#include "engine/rng/generator.h"
#include "models/config.h"

namespace gan::models {

// [n, nz] for the MLP and toy models, [n, nz, 1, 1] for the DCGANs.
Shape noise_shape(const ModelConfig& cfg, int64_t n);
// Latent noise of `shape` from the model's distribution (cfg.noise: N(0, 1) or U[-1, 1]): the one
// place training, fixed sample inputs and sampling from a checkpoint draw it.
Tensor draw_noise(const ModelConfig& cfg, const Shape& shape, Generator& gen, Device device = Device::cpu());

struct GanModel {
  ModelConfig config;
  std::shared_ptr<nn::Module> generator, discriminator;

  Shape noise_shape(int64_t n) const { return models::noise_shape(config, n); }
  // Noise for n samples from `gen` on `device` (draw_noise).
  Tensor noise(int64_t n, Generator& gen, Device device) const;
};

// Linear layers in -> hidden... -> out, each but the last followed by a fresh `activation()`.
std::shared_ptr<nn::Sequential> linear_stack(int64_t in, const std::vector<int64_t>& hidden, int64_t out,
                                             const std::function<std::shared_ptr<nn::Module>()>& activation,
                                             Generator& gen);

// Builds both networks on the CPU, initialised from `init` (validates the config first).
GanModel build_model(const ModelConfig& cfg, Generator& init);
// Spectral norm on `net` when cfg.spectral_norm asks for it on the generator (or the critic); u and
// v are drawn from `init` after the weights.
void spectral_norm_as_configured(const ModelConfig& cfg, nn::Module& net, bool generator, Generator& init);
// The generator alone (sampling from a checkpoint).
std::shared_ptr<nn::Module> build_generator(const ModelConfig& cfg, Generator& init);

}  // namespace gan::models
