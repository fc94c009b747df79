#include "models/sngan.h"

namespace gan::models {

// The paper's slope; the DCGAN models' 0.2 (ModelConfig::leaky_slope) is not this model's.
static constexpr double kSnganSlope = 0.1;

SnganGenerator::SnganGenerator(const ModelConfig& cfg, Generator& gen) : nn::Module("Generator"), nz_(cfg.nz) {
  const int64_t w0 = 8 * cfg.ngf;
  main = register_module("main", std::make_shared<nn::Sequential>());
  main->push_back(std::make_shared<nn::Linear>(cfg.nz, w0 * 4 * 4, true, &gen));
  main->push_back(std::make_shared<nn::Unflatten>(Shape{w0, 4, 4}));
  main->push_back(std::make_shared<nn::BatchNorm2d>(w0));
  main->push_back(std::make_shared<nn::ReLU>());
  int64_t in = w0;
  for (int64_t w : {4 * cfg.ngf, 2 * cfg.ngf, cfg.ngf}) {  // each doubles the side: 8, 16, 32
    main->push_back(std::make_shared<nn::ConvTranspose2d>(in, w, 4, 2, 1, 0, true, &gen));
    main->push_back(std::make_shared<nn::BatchNorm2d>(w));
    main->push_back(std::make_shared<nn::ReLU>());
    in = w;
  }
  main->push_back(std::make_shared<nn::Conv2d>(in, cfg.channels, 3, 1, 1, true, &gen));
  main->push_back(std::make_shared<nn::Tanh>());
}

Tensor SnganGenerator::forward(const Tensor& z) {
  GAN_CHECK(z.dim() == 2 && z.size(1) == nz_, "SnganGenerator: noise " << z.str() << " should be [N, " << nz_ << "]");
  return main->forward(z);
}

SnganDiscriminator::SnganDiscriminator(const ModelConfig& cfg, Generator& gen)
    : nn::Module("Discriminator"), channels_(cfg.channels) {
  main = register_module("main", std::make_shared<nn::Sequential>());
  int64_t in = cfg.channels;
  auto conv = [&](int64_t out, int64_t k, int64_t stride) {
    main->push_back(std::make_shared<nn::Conv2d>(in, out, k, stride, 1, true, &gen));
    main->push_back(std::make_shared<nn::LeakyReLU>(kSnganSlope));
    in = out;
  };
  for (int64_t w : {cfg.ndf, 2 * cfg.ndf, 4 * cfg.ndf}) {  // 3x3 keeps the side, 4x4 stride 2 halves it
    conv(w, 3, 1);
    conv(w, 4, 2);
  }
  conv(8 * cfg.ndf, 3, 1);
  main->push_back(std::make_shared<nn::Flatten>());
  main->push_back(std::make_shared<nn::Linear>(in * 4 * 4, 1, true, &gen));
}

Tensor SnganDiscriminator::forward(const Tensor& x) {
  GAN_CHECK(x.dim() == 4 && x.size(1) == channels_ && x.size(2) == 32 && x.size(3) == 32,
            "SnganDiscriminator: input " << x.str() << " should be [N, " << channels_ << ", 32, 32]");
  return main->forward(x).reshape({x.size(0)});
}

}  // namespace gan::models
