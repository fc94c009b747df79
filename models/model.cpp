#include "models/model.h"

#include "models/conditional.h"
#include "models/dcgan.h"
#include "models/mlp_gan.h"
#include "models/sngan.h"
#include "models/toy.h"

namespace gan::models {

Shape noise_shape(const ModelConfig& cfg, int64_t n) {
  if (cfg.arch == "mlp" || cfg.arch == "toy" || cfg.arch == "sngan32") return {n, cfg.nz};
  return {n, cfg.nz, 1, 1};
}

Tensor draw_noise(const ModelConfig& cfg, const Shape& shape, Generator& gen, Device device) {
  if (cfg.noise == "uniform") return Tensor::rand(shape, &gen, -1.0, 1.0, DType::Float32, device);
  return Tensor::randn(shape, &gen, DType::Float32, device);
}

Tensor GanModel::noise(int64_t n, Generator& gen, Device device) const {
  return draw_noise(config, noise_shape(n), gen, device);
}

std::shared_ptr<nn::Sequential> linear_stack(int64_t in, const std::vector<int64_t>& hidden, int64_t out,
                                             const std::function<std::shared_ptr<nn::Module>()>& activation,
                                             Generator& gen) {
  auto seq = std::make_shared<nn::Sequential>();
  for (int64_t w : hidden) {
    seq->push_back(std::make_shared<nn::Linear>(in, w, true, &gen));
    seq->push_back(activation());
    in = w;
  }
  seq->push_back(std::make_shared<nn::Linear>(in, out, true, &gen));
  return seq;
}

void spectral_norm_as_configured(const ModelConfig& cfg, nn::Module& net, bool generator, Generator& init) {
  if (cfg.spectral_norm_on(generator)) nn::apply_spectral_norm(net, init);
}

static std::shared_ptr<nn::Module> new_generator(const ModelConfig& cfg, Generator& init) {
  if (cfg.conditional() || !cfg.codes.empty()) return std::make_shared<ConditionalGenerator>(cfg, init);
  if (cfg.arch == "mlp") return std::make_shared<MlpGenerator>(cfg, init);
  if (cfg.arch == "toy") return std::make_shared<ToyGenerator>(cfg, init);
  if (cfg.arch == "dcgan32") return std::make_shared<Dcgan32Generator>(cfg, init);
  if (cfg.arch == "sngan32") return std::make_shared<SnganGenerator>(cfg, init);
  return std::make_shared<Dcgan64Generator>(cfg, init);
}

std::shared_ptr<nn::Module> build_generator(const ModelConfig& cfg, Generator& init) {
  cfg.validate();
  GAN_CHECK(!cfg.cyclegan(), "a cyclegan model translates images rather than drawing them from noise: use gan translate "
                             "--checkpoint C --direction a2b|b2a (docs/cyclegan.md)");
  auto g = new_generator(cfg, init);
  spectral_norm_as_configured(cfg, *g, true, init);
  return g;
}

static std::shared_ptr<nn::Module> new_discriminator(const ModelConfig& cfg, Generator& init) {
  if (cfg.arch == "mlp") return std::make_shared<MlpDiscriminator>(cfg, init);
  if (cfg.arch == "toy") return std::make_shared<ToyDiscriminator>(cfg, init);
  if (cfg.arch == "dcgan32") return std::make_shared<Dcgan32Discriminator>(cfg, init);
  if (cfg.arch == "sngan32") return std::make_shared<SnganDiscriminator>(cfg, init);
  return std::make_shared<Dcgan64Discriminator>(cfg, init);
}

GanModel build_model(const ModelConfig& cfg, Generator& init) {
  GanModel m;
  m.config = cfg;
  m.generator = build_generator(cfg, init);
  m.discriminator = new_discriminator(cfg, init);
  spectral_norm_as_configured(cfg, *m.discriminator, false, init);
  return m;
}

}  // namespace gan::models
