#include "models/mlp_gan.h"

#include "models/model.h"

namespace gan::models {

static std::function<std::shared_ptr<nn::Module>()> leaky(const ModelConfig& cfg) {
  return [slope = cfg.leaky_slope] { return std::make_shared<nn::LeakyReLU>(slope); };
}

MlpGenerator::MlpGenerator(const ModelConfig& cfg, Generator& gen)
    : nn::Module("Generator"), image_shape_{cfg.channels, cfg.image_size, cfg.image_size} {
  main = register_module("main", linear_stack(cfg.nz, cfg.g_hidden, numel_of(image_shape_), leaky(cfg), gen));
  main->push_back(std::make_shared<nn::Tanh>());
}

Tensor MlpGenerator::forward(const Tensor& z) {
  GAN_CHECK(z.dim() == 2, "MlpGenerator: noise " << z.str() << " should be [N, nz]");
  Shape s{z.size(0)};
  s.insert(s.end(), image_shape_.begin(), image_shape_.end());
  return main->forward(z).reshape(s);
}

MlpDiscriminator::MlpDiscriminator(const ModelConfig& cfg, Generator& gen) : nn::Module("Discriminator") {
  main = register_module("main", linear_stack(cfg.channels * cfg.image_size * cfg.image_size, cfg.d_hidden, 1, leaky(cfg), gen));
}

Tensor MlpDiscriminator::forward(const Tensor& x) {
  GAN_CHECK(x.dim() >= 2, "MlpDiscriminator: input " << x.str() << " has no batch dimension");
  return main->forward(x.flatten(1)).reshape({x.size(0)});
}

}  // namespace gan::models
