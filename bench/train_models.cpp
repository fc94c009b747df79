#include "bench/train_models.h"

#include <cmath>

#include "engine/backend/optim.h"
#include "engine/ops/ops.h"
#include "engine/ops/penalty.h"

namespace gan::bench {

namespace {

Layer conv(Layer::Kind k, int64_t in, int64_t out, int64_t stride, int64_t pad, bool bn, Layer::Act act) {
  Layer l{k, act, in, out, stride, pad, bn, {}, {}, {}, {}, {}, {}};
  return l;
}

Layer linear_layer(int64_t in, int64_t out, Layer::Act act) {
  Layer l{Layer::Linear, act, in, out, 1, 0, false, {}, {}, {}, {}, {}, {}};
  return l;
}

Tensor normal(const Shape& s, double mean, double std, Device d) {
  Tensor t = mul(Tensor::randn(s, nullptr, DType::Float32, d), std);
  return mean != 0 ? add(t, mean) : t;
}

Tensor uniform(const Shape& s, double bound, Device d) {
  return Tensor::rand(s, nullptr, -bound, bound, DType::Float32, d);
}

// pytorch/examples dcgan, 64x64.
void dcgan64(GanModel& m) {
  using L = Layer;
  const int64_t nz = 100, ngf = 64, ndf = 64, nc = 3;
  m.G.layers = {
      conv(L::ConvT, nz, ngf * 8, 1, 0, true, L::ReLU),       // (ngf*8) x 4 x 4
      conv(L::ConvT, ngf * 8, ngf * 4, 2, 1, true, L::ReLU),  // (ngf*4) x 8 x 8
      conv(L::ConvT, ngf * 4, ngf * 2, 2, 1, true, L::ReLU),  // (ngf*2) x 16 x 16
      conv(L::ConvT, ngf * 2, ngf, 2, 1, true, L::ReLU),      // ngf x 32 x 32
      conv(L::ConvT, ngf, nc, 2, 1, false, L::Tanh),          // nc x 64 x 64
  };
  m.D.layers = {
      conv(L::Conv, nc, ndf, 2, 1, false, L::Leaky),          // ndf x 32 x 32
      conv(L::Conv, ndf, ndf * 2, 2, 1, true, L::Leaky),      // (ndf*2) x 16 x 16
      conv(L::Conv, ndf * 2, ndf * 4, 2, 1, true, L::Leaky),  // (ndf*4) x 8 x 8
      conv(L::Conv, ndf * 4, ndf * 8, 2, 1, true, L::Leaky),  // (ndf*8) x 4 x 4
      conv(L::Conv, ndf * 8, 1, 1, 0, false, L::None),        // 1 x 1 x 1 logit
  };
  m.image = {nc, 64, 64};
}

void dcgan32(GanModel& m, int64_t nc, bool norm) {
  using L = Layer;
  m.G.layers = {
      conv(L::ConvT, 100, 512, 1, 0, true, L::ReLU),  // 512 x 4 x 4
      conv(L::ConvT, 512, 256, 2, 1, true, L::ReLU),  // 256 x 8 x 8
      conv(L::ConvT, 256, 128, 2, 1, true, L::ReLU),  // 128 x 16 x 16
      conv(L::ConvT, 128, nc, 2, 1, false, L::Tanh),  // nc x 32 x 32
  };
  m.D.layers = {
      conv(L::Conv, nc, 128, 2, 1, false, L::Leaky),   // 128 x 16 x 16
      conv(L::Conv, 128, 256, 2, 1, norm, L::Leaky),   // 256 x 8 x 8
      conv(L::Conv, 256, 512, 2, 1, norm, L::Leaky),   // 512 x 4 x 4
      conv(L::Conv, 512, 1, 1, 0, false, L::None),     // 1 x 1 x 1 logit
  };
  m.image = {nc, 32, 32};
}

void mlp(GanModel& m) {
  using L = Layer;
  m.G.layers = {linear_layer(100, 256, L::Leaky), linear_layer(256, 512, L::Leaky),
                linear_layer(512, 1024, L::Leaky), linear_layer(1024, 784, L::Tanh)};
  m.D.layers = {linear_layer(784, 512, L::Leaky), linear_layer(512, 256, L::Leaky), linear_layer(256, 1, L::None)};
  m.image = {784};
  m.conv = false;
}

}  // namespace

Tensor Net::forward(const Tensor& input) const {
  Tensor x = input;
  for (const Layer& l : layers) {
    switch (l.kind) {
      case Layer::Linear: x = linear(x, l.w, l.b); break;
      case Layer::Conv: x = conv2d(x, l.w, Tensor(), Conv2dParams::make(l.stride, l.pad)); break;
      case Layer::ConvT: x = conv_transpose2d(x, l.w, Tensor(), Conv2dParams::make(l.stride, l.pad)); break;
    }
    if (l.bn) x = batch_norm(x, l.bn_w, l.bn_b, l.run_mean, l.run_var, /*training=*/true, 0.1, 1e-5);
    switch (l.act) {
      case Layer::None: break;
      case Layer::ReLU: x = relu(x); break;
      case Layer::Leaky: x = leaky_relu(x, 0.2); break;
      case Layer::Tanh: x = tanh(x); break;
    }
  }
  return x;
}

std::vector<Tensor> Net::parameters() const {
  std::vector<Tensor> p;
  for (const Layer& l : layers)
    for (const Tensor* t : {&l.w, &l.b, &l.bn_w, &l.bn_b})
      if (t->defined()) p.push_back(*t);
  return p;
}

void Net::zero_grad() const {
  for (Tensor p : parameters()) p.zero_grad();
}

void Net::init(Device d) {
  for (Layer& l : layers) {
    if (l.kind == Layer::Linear) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(l.in));
      l.w = uniform({l.out, l.in}, bound, d).requires_grad_();
      l.b = uniform({l.out}, bound, d).requires_grad_();
    } else {
      // conv2d weights [out, in, k, k]; conv_transpose2d [in, out, k, k]
      Shape ws = l.kind == Layer::Conv ? Shape{l.out, l.in, 4, 4} : Shape{l.in, l.out, 4, 4};
      l.w = normal(ws, 0.0, 0.02, d).requires_grad_();
    }
    if (l.bn) {
      l.bn_w = normal({l.out}, 1.0, 0.02, d).requires_grad_();
      l.bn_b = Tensor::zeros({l.out}, DType::Float32, d).requires_grad_();
      l.run_mean = Tensor::zeros({l.out}, DType::Float32, d);
      l.run_var = Tensor::ones({l.out}, DType::Float32, d);
    }
  }
}

Adam::Adam(std::vector<Tensor> params, double lr, double beta1, double beta2)
    : params_(std::move(params)), lr_(lr), beta1_(beta1), beta2_(beta2) {
  for (const Tensor& p : params_) {
    m_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    v_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
  }
}

void Adam::step() {
  std::vector<Tensor> p, g, m, v;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor gi = params_[i].grad();
    if (!gi.defined()) continue;
    p.push_back(params_[i]);
    g.push_back(gi);
    m.push_back(m_[i]);
    v.push_back(v_[i]);
  }
  if (p.empty()) return;
  const AdamHyper h{lr_, beta1_, beta2_, 1e-8, 0.0, ++t_};
  GAN_BACKEND(p[0].device(), adam_step, p, g, m, v, h);
}

GanModel make_model(const std::string& name) {
  GanModel m;
  m.name = name;
  if (name == "mlp_mnist") mlp(m);
  else if (name == "dcgan64") dcgan64(m);
  else if (name == "dcgan32_cifar") dcgan32(m, 3, true);
  else if (name == "dcgan32_mnist") dcgan32(m, 1, true);
  else if (name == "dcgan32_cifar_nonorm") dcgan32(m, 3, false);
  else GAN_FAIL("bench: unknown model '" << name << "'");
  return m;
}

TrainStep::TrainStep(const std::string& model, const std::string& loss, int64_t batch, Device device, int n_critic)
    : m_(make_model(model)), loss_(loss), batch_(batch), device_(device), n_critic_(n_critic) {
  GAN_CHECK(loss == "bce" || loss == "wgan-gp", "bench: unknown loss '" << loss << "'");
  m_.G.init(device);
  m_.D.init(device);
  Shape rs = {batch};
  rs.insert(rs.end(), m_.image.begin(), m_.image.end());
  real_ = Tensor::rand(rs, nullptr, -1.0, 1.0, DType::Float32, device);
  if (loss == "bce") {
    optD_ = std::make_unique<Adam>(m_.D.parameters(), 2e-4, 0.5, 0.999);
    optG_ = std::make_unique<Adam>(m_.G.parameters(), 2e-4, 0.5, 0.999);
  } else {
    optD_ = std::make_unique<Adam>(m_.D.parameters(), 1e-4, 0.5, 0.9);
    optG_ = std::make_unique<Adam>(m_.G.parameters(), 1e-4, 0.5, 0.9);
  }
}

Tensor TrainStep::noise() const {
  Shape zs = m_.conv ? Shape{batch_, m_.nz, 1, 1} : Shape{batch_, m_.nz};
  return Tensor::randn(zs, nullptr, DType::Float32, device_);
}

void TrainStep::run() {
  if (loss_ == "bce") bce_step();
  else wgan_gp_step();
}

void TrainStep::bce_step() {
  // D: real batch -> 1, fake batch (no gradient into G) -> 0
  m_.D.zero_grad();
  Tensor logits_real = m_.D(real_).reshape({batch_, 1});
  Tensor loss_real = bce_with_logits(logits_real, 1.0);
  Tensor fake = m_.G(noise());
  Tensor loss_fake = bce_with_logits(m_.D(fake.detach()).reshape({batch_, 1}), 0.0);
  add(loss_real, loss_fake).backward();
  optD_->step();
  // G: non-saturating loss, D(G(z)) -> 1
  m_.G.zero_grad();
  Tensor loss_g = bce_with_logits(m_.D(fake).reshape({batch_, 1}), 1.0);
  loss_g.backward();
  optG_->step();
}

void TrainStep::wgan_gp_step() {
  const double lambda = 10.0;
  for (int k = 0; k < n_critic_; ++k) {
    m_.D.zero_grad();
    Tensor fake;
    {
      NoGradGuard no_grad;
      fake = m_.G(noise());
    }
    // One epsilon per sample, x_hat = eps real + (1 - eps) fake; the engine's fused penalty.
    Tensor eps = Tensor::rand({batch_}, nullptr, 0.0, 1.0, DType::Float32, device_);
    Tensor x_hat = interpolate_per_sample(real_, fake, eps).detach().requires_grad_();
    Tensor g = grad({sum(m_.D(x_hat))}, {x_hat}, {}, /*create_graph=*/true)[0];
    Tensor gp = gradient_penalty(g, lambda);
    Tensor loss = add(sub(mean(m_.D(fake)), mean(m_.D(real_))), gp);
    loss.backward();
    optD_->step();
  }
  m_.G.zero_grad();
  Tensor loss_g = neg(mean(m_.D(m_.G(noise()))));
  loss_g.backward();
  optG_->step();
}

}  // namespace gan::bench
