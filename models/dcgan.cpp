#include "models/dcgan.h"

#include "engine/nn/init.h"

namespace gan::models {

namespace {

// nn.Identity: holds a place in a Sequential so that later layers keep their indices.
class Identity : public nn::Module {
 public:
  Identity() : nn::Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

// The critic's normalisation after a conv producing [c, s, s] (see ModelConfig::critic_norm).
std::shared_ptr<nn::Module> critic_norm(const ModelConfig& cfg, int64_t c, int64_t s) {
  if (cfg.critic_norm == "layer") return std::make_shared<nn::LayerNorm>(Shape{c, s, s});
  if (cfg.critic_norm == "none") return std::make_shared<Identity>();
  return std::make_shared<nn::BatchNorm2d>(c);
}

// The widths after each layer but the last, from 4 x 4 outwards (generator) or inwards
// (discriminator): 8, 4, 2 (, 1) times the base width.
std::vector<int64_t> widths(int side, int64_t base) {
  std::vector<int64_t> w{base * 8, base * 4, base * 2};
  if (side == 64) w.push_back(base);
  return w;
}

}  // namespace

// Doubles the side of [in, s, s] to [out, 2s, 2s] as ModelConfig::upsample says.
static void push_upsampling(nn::Sequential& main, const std::string& how, int64_t in, int64_t out, Generator& gen) {
  if (how == "nearest") {
    main.push_back(std::make_shared<nn::Upsample>(2));
    main.push_back(std::make_shared<nn::Conv2d>(in, out, 3, 1, 1, false, &gen));
  } else if (how == "pixelshuffle") {
    main.push_back(std::make_shared<nn::Conv2d>(in, out * 4, 3, 1, 1, false, &gen));
    main.push_back(std::make_shared<nn::PixelShuffle>(2));
  } else {
    main.push_back(std::make_shared<nn::ConvTranspose2d>(in, out, 4, 2, 1, 0, false, &gen));
  }
}

template <int Side>
DcganGenerator<Side>::DcganGenerator(const ModelConfig& cfg, Generator& gen) : nn::Module("Generator"), nz_(cfg.nz) {
  main = register_module("main", std::make_shared<nn::Sequential>());
  int64_t in = cfg.nz;
  bool first = true;
  for (int64_t w : widths(Side, cfg.ngf)) {  // the first layer maps z to 4 x 4, the others double the side
    if (first) main->push_back(std::make_shared<nn::ConvTranspose2d>(in, w, 4, 1, 0, 0, false, &gen));
    else push_upsampling(*main, cfg.upsample, in, w, gen);
    main->push_back(std::make_shared<nn::BatchNorm2d>(w));
    main->push_back(std::make_shared<nn::ReLU>());
    in = w;
    first = false;
  }
  push_upsampling(*main, cfg.upsample, in, cfg.channels, gen);
  main->push_back(std::make_shared<nn::Tanh>());
  nn::init::dcgan_init(*this, gen);
}

template <int Side>
Tensor DcganGenerator<Side>::forward(const Tensor& z) {
  GAN_CHECK(z.dim() == 4 && z.size(1) == nz_ && z.size(2) == 1 && z.size(3) == 1,
            "Dcgan" << Side << "Generator: noise " << z.str() << " should be [N, " << nz_ << ", 1, 1]");
  return main->forward(z);
}

template <int Side>
DcganDiscriminator<Side>::DcganDiscriminator(const ModelConfig& cfg, Generator& gen)
    : nn::Module("Discriminator"), channels_(cfg.channels) {
  main = register_module("main", std::make_shared<nn::Sequential>());
  std::vector<int64_t> w = widths(Side, cfg.ndf);
  int64_t in = cfg.channels, side = Side;
  for (auto it = w.rbegin(); it != w.rend(); ++it) {  // each halves the side
    main->push_back(std::make_shared<nn::Conv2d>(in, *it, 4, 2, 1, false, &gen));
    side /= 2;
    if (it != w.rbegin()) main->push_back(critic_norm(cfg, *it, side));
    main->push_back(std::make_shared<nn::LeakyReLU>(cfg.leaky_slope));
    in = *it;
  }
  main->push_back(std::make_shared<nn::Conv2d>(in, 1, 4, 1, 0, false, &gen));  // 1 x 1 x 1: a logit
  nn::init::dcgan_init(*this, gen);
}

template <int Side>
Tensor DcganDiscriminator<Side>::forward(const Tensor& x) {
  GAN_CHECK(x.dim() == 4 && x.size(1) == channels_ && x.size(2) == Side && x.size(3) == Side,
            "Dcgan" << Side << "Discriminator: input " << x.str() << " should be [N, " << channels_ << ", " << Side
                    << ", " << Side << "]");
  return main->forward(x).reshape({x.size(0)});
}

template class DcganGenerator<32>;
template class DcganGenerator<64>;
template class DcganDiscriminator<32>;
template class DcganDiscriminator<64>;

}  // namespace gan::models
