#include "models/mlp_gan.h"

namespace gan::models {

MlpGenerator::MlpGenerator(const ModelConfig& cfg, Generator& gen)
    : nn::Module("Generator"), image_shape_{cfg.channels, cfg.image_size, cfg.image_size} {
  main = register_module("main", std::make_shared<nn::Sequential>());
  int64_t in = cfg.nz;
  for (int64_t w : cfg.g_hidden) {
    main->push_back(std::make_shared<nn::Linear>(in, w, true, &gen));
    main->push_back(std::make_shared<nn::LeakyReLU>(cfg.leaky_slope));
    in = w;
  }
  main->push_back(std::make_shared<nn::Linear>(in, numel_of(image_shape_), true, &gen));
  main->push_back(std::make_shared<nn::Tanh>());
}

Tensor MlpGenerator::forward(const Tensor& z) {
  GAN_CHECK(z.dim() == 2, "MlpGenerator: noise " << z.str() << " should be [N, nz]");
  Shape s{z.size(0)};
  s.insert(s.end(), image_shape_.begin(), image_shape_.end());
  return main->forward(z).reshape(s);
}

MlpDiscriminator::MlpDiscriminator(const ModelConfig& cfg, Generator& gen) : nn::Module("Discriminator") {
  main = register_module("main", std::make_shared<nn::Sequential>());
  int64_t in = cfg.channels * cfg.image_size * cfg.image_size;
  for (int64_t w : cfg.d_hidden) {
    main->push_back(std::make_shared<nn::Linear>(in, w, true, &gen));
    main->push_back(std::make_shared<nn::LeakyReLU>(cfg.leaky_slope));
    in = w;
  }
  main->push_back(std::make_shared<nn::Linear>(in, 1, true, &gen));
}

Tensor MlpDiscriminator::forward(const Tensor& x) {
  GAN_CHECK(x.dim() >= 2, "MlpDiscriminator: input " << x.str() << " has no batch dimension");
  return main->forward(x.flatten(1)).reshape({x.size(0)});
}

}  // namespace gan::models
