// The GAN models and training iterations the whole-step benchmark times, written directly in the
// engine's differentiable ops and its fused Adam primitive, so the benchmark depends on nothing
// above the engine. They follow bench/torch_anchor.py (and through it pytorch/examples dcgan) layer
// for layer and step for step, so engine and PyTorch times describe the same work:
//   mlp_mnist       G z(100) -> 256 -> 512 -> 1024 -> 784 (LeakyReLU 0.2, Tanh); D 784 -> 512 -> 256 -> 1
//   dcgan64         pytorch/examples dcgan, nz 100, ngf = ndf = 64, 3 x 64 x 64
//   dcgan32_cifar   G z -> 512x4x4 -> 256x8x8 -> 128x16x16 -> 3x32x32; D 3 -> 128 -> 256 -> 512 -> 1
//   dcgan32_mnist   the same with one channel
//   wgangp_dcgan32_cifar   dcgan32 with no normalisation in the critic; 5 critic steps with the
//                  gradient penalty (lambda 10) through double backward, then one G step
// One BCE iteration: D on a real batch (target 1) and on G(z).detach() (target 0), one backward of
// the sum, Adam on D; then G through D(G(z)) with target 1, Adam on G (lr 2e-4, betas 0.5, 0.999).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::bench {

// A stack of layers of one of three kinds, each optionally followed by batch norm and an activation.
struct Layer {
  enum Kind { Linear, Conv, ConvT } kind;
  enum Act { None, ReLU, Leaky, Tanh } act;
  int64_t in, out, stride = 1, pad = 0;
  bool bn = false;
  Tensor w, b;                              // b: Linear only (DCGAN convolutions have no bias)
  Tensor bn_w, bn_b, run_mean, run_var;     // when bn
};

class Net {
 public:
  std::vector<Layer> layers;
  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::vector<Tensor> parameters() const;
  void zero_grad() const;
  // Creates the weights on `device`: N(0, 0.02) for convolutions and N(1, 0.02)/0 for batch norm
  // (pytorch/examples weights_init); U(-1/sqrt(in), 1/sqrt(in)) for Linear (torch.nn.Linear).
  void init(Device device);
};

// Adam over a parameter list, one fused multi-tensor update per step (engine/backend/optim.h).
class Adam {
 public:
  Adam(std::vector<Tensor> params, double lr, double beta1, double beta2);
  void step();

 private:
  std::vector<Tensor> params_, m_, v_;
  double lr_, beta1_, beta2_;
  int64_t t_ = 0;
};

struct GanModel {
  std::string name;      // as bench/torch_anchor.py names it
  Net G, D;
  Shape image;           // per sample
  int64_t nz = 100;
  bool conv = true;      // z is [B, nz, 1, 1] (else [B, nz])
};

GanModel make_model(const std::string& name);  // mlp_mnist, dcgan64, dcgan32_cifar, dcgan32_mnist,
                                               // dcgan32_cifar_nonorm (the WGAN-GP critic)

// One training iteration, ready to run repeatedly on fixed data (the real batch stays on the device,
// as in the anchor: no data loading in the numbers).
class TrainStep {
 public:
  // loss: "bce" or "wgan-gp"; WGAN-GP takes n_critic critic steps per generator step.
  TrainStep(const std::string& model, const std::string& loss, int64_t batch, Device device, int n_critic = 5);
  void run();
  int64_t batch() const { return batch_; }

 private:
  void bce_step();
  void wgan_gp_step();
  Tensor noise() const;

  GanModel m_;
  std::string loss_;
  int64_t batch_;
  Device device_;
  int n_critic_;
  Tensor real_;
  std::unique_ptr<Adam> optD_, optG_;
};

}  // namespace gan::bench
