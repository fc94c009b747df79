#include "models/dcgan.h"

#include "engine/nn/init.h"

namespace gan::models {

using nn::BatchNorm2d;
using nn::Conv2d;
using nn::ConvTranspose2d;
using nn::LeakyReLU;
using nn::ReLU;
using nn::Tanh;
template <class M, class... A>
static std::shared_ptr<nn::Module> make(A&&... a) {
  return std::make_shared<M>(std::forward<A>(a)...);
}

// nn.Identity: holds a place in a Sequential so that later layers keep their indices.
class Identity : public nn::Module {
 public:
  Identity() : nn::Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

// The critic's normalisation after a conv producing [c, s, s] (see ModelConfig::critic_norm).
static std::shared_ptr<nn::Module> critic_norm(const ModelConfig& cfg, int64_t c, int64_t s) {
  if (cfg.critic_norm == "layer") return std::make_shared<nn::LayerNorm>(Shape{c, s, s});
  if (cfg.critic_norm == "none") return std::make_shared<Identity>();
  return std::make_shared<BatchNorm2d>(c);
}

static void check_noise(const Tensor& z, int64_t nz, const char* who) {
  GAN_CHECK(z.dim() == 4 && z.size(1) == nz && z.size(2) == 1 && z.size(3) == 1,
            who << ": noise " << z.str() << " should be [N, " << nz << ", 1, 1]");
}

static void check_images(const Tensor& x, int64_t c, int64_t s, const char* who) {
  GAN_CHECK(x.dim() == 4 && x.size(1) == c && x.size(2) == s && x.size(3) == s,
            who << ": input " << x.str() << " should be [N, " << c << ", " << s << ", " << s << "]");
}

Dcgan64Generator::Dcgan64Generator(const ModelConfig& cfg, Generator& gen) : nn::Module("Generator") {
  const int64_t nz = cfg.nz, ngf = cfg.ngf, nc = cfg.channels;
  main = register_module("main", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      // input is Z, going into a convolution
      make<ConvTranspose2d>(nz, ngf * 8, 4, 1, 0, 0, false, &gen), make<BatchNorm2d>(ngf * 8), make<ReLU>(),
      // (ngf*8) x 4 x 4
      make<ConvTranspose2d>(ngf * 8, ngf * 4, 4, 2, 1, 0, false, &gen), make<BatchNorm2d>(ngf * 4), make<ReLU>(),
      // (ngf*4) x 8 x 8
      make<ConvTranspose2d>(ngf * 4, ngf * 2, 4, 2, 1, 0, false, &gen), make<BatchNorm2d>(ngf * 2), make<ReLU>(),
      // (ngf*2) x 16 x 16
      make<ConvTranspose2d>(ngf * 2, ngf, 4, 2, 1, 0, false, &gen), make<BatchNorm2d>(ngf), make<ReLU>(),
      // (ngf) x 32 x 32
      make<ConvTranspose2d>(ngf, nc, 4, 2, 1, 0, false, &gen), make<Tanh>(),
      // (nc) x 64 x 64
  }));
  nn::init::dcgan_init(*this, gen);
}

Tensor Dcgan64Generator::forward(const Tensor& z) {
  check_noise(z, static_cast<ConvTranspose2d&>((*main)[0]).in_channels, "Dcgan64Generator");
  return main->forward(z);
}

Dcgan64Discriminator::Dcgan64Discriminator(const ModelConfig& cfg, Generator& gen) : nn::Module("Discriminator") {
  const int64_t ndf = cfg.ndf, nc = cfg.channels;
  main = register_module("main", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      // input is (nc) x 64 x 64
      make<Conv2d>(nc, ndf, 4, 2, 1, false, &gen), make<LeakyReLU>(cfg.leaky_slope),
      // (ndf) x 32 x 32
      make<Conv2d>(ndf, ndf * 2, 4, 2, 1, false, &gen), critic_norm(cfg, ndf * 2, 16), make<LeakyReLU>(cfg.leaky_slope),
      // (ndf*2) x 16 x 16
      make<Conv2d>(ndf * 2, ndf * 4, 4, 2, 1, false, &gen), critic_norm(cfg, ndf * 4, 8),
      make<LeakyReLU>(cfg.leaky_slope),
      // (ndf*4) x 8 x 8
      make<Conv2d>(ndf * 4, ndf * 8, 4, 2, 1, false, &gen), critic_norm(cfg, ndf * 8, 4),
      make<LeakyReLU>(cfg.leaky_slope),
      // (ndf*8) x 4 x 4
      make<Conv2d>(ndf * 8, 1, 4, 1, 0, false, &gen),
      // 1 x 1 x 1 (a logit: no Sigmoid)
  }));
  nn::init::dcgan_init(*this, gen);
}

Tensor Dcgan64Discriminator::forward(const Tensor& x) {
  auto& first = static_cast<Conv2d&>((*main)[0]);
  check_images(x, first.in_channels, 64, "Dcgan64Discriminator");
  return main->forward(x).reshape({x.size(0)});
}

Dcgan32Generator::Dcgan32Generator(const ModelConfig& cfg, Generator& gen) : nn::Module("Generator") {
  const int64_t nz = cfg.nz, ngf = cfg.ngf, nc = cfg.channels;
  main = register_module("main", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      // input is Z, going into a convolution
      make<ConvTranspose2d>(nz, ngf * 8, 4, 1, 0, 0, false, &gen), make<BatchNorm2d>(ngf * 8), make<ReLU>(),
      // (ngf*8) x 4 x 4
      make<ConvTranspose2d>(ngf * 8, ngf * 4, 4, 2, 1, 0, false, &gen), make<BatchNorm2d>(ngf * 4), make<ReLU>(),
      // (ngf*4) x 8 x 8
      make<ConvTranspose2d>(ngf * 4, ngf * 2, 4, 2, 1, 0, false, &gen), make<BatchNorm2d>(ngf * 2), make<ReLU>(),
      // (ngf*2) x 16 x 16
      make<ConvTranspose2d>(ngf * 2, nc, 4, 2, 1, 0, false, &gen), make<Tanh>(),
      // (nc) x 32 x 32
  }));
  nn::init::dcgan_init(*this, gen);
}

Tensor Dcgan32Generator::forward(const Tensor& z) {
  check_noise(z, static_cast<ConvTranspose2d&>((*main)[0]).in_channels, "Dcgan32Generator");
  return main->forward(z);
}

Dcgan32Discriminator::Dcgan32Discriminator(const ModelConfig& cfg, Generator& gen) : nn::Module("Discriminator") {
  const int64_t ndf = cfg.ndf, nc = cfg.channels;
  main = register_module("main", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      // input is (nc) x 32 x 32
      make<Conv2d>(nc, ndf * 2, 4, 2, 1, false, &gen), make<LeakyReLU>(cfg.leaky_slope),
      // (ndf*2) x 16 x 16
      make<Conv2d>(ndf * 2, ndf * 4, 4, 2, 1, false, &gen), critic_norm(cfg, ndf * 4, 8),
      make<LeakyReLU>(cfg.leaky_slope),
      // (ndf*4) x 8 x 8
      make<Conv2d>(ndf * 4, ndf * 8, 4, 2, 1, false, &gen), critic_norm(cfg, ndf * 8, 4),
      make<LeakyReLU>(cfg.leaky_slope),
      // (ndf*8) x 4 x 4
      make<Conv2d>(ndf * 8, 1, 4, 1, 0, false, &gen),
      // 1 x 1 x 1 (a logit)
  }));
  nn::init::dcgan_init(*this, gen);
}

Tensor Dcgan32Discriminator::forward(const Tensor& x) {
  auto& first = static_cast<Conv2d&>((*main)[0]);
  check_images(x, first.in_channels, 32, "Dcgan32Discriminator");
  return main->forward(x).reshape({x.size(0)});
}

}  // namespace gan::models
