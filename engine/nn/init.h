// In-place initialisers (torch.nn.init) and the DCGAN initialisation of pytorch/examples.
// They write through the tensors' storage without recording autograd history.
#pragma once
#include "engine/nn/module.h"
#include "engine/rng/generator.h"

namespace gan::nn::init {

void normal_(Tensor& t, double mean, double std, Generator& gen);
void uniform_(Tensor& t, double lo, double hi, Generator& gen);
void constant_(Tensor& t, double value);

// (fan_in, fan_out) as torch.nn.init._calculate_fan_in_and_fan_out: dim 1 times the receptive
// field is fan_in, dim 0 times it is fan_out (so ConvTranspose2d's fan_in is out * k * k).
std::pair<int64_t, int64_t> fan_in_out(const Tensor& t);

// U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)) (leaky_relu gain).
void kaiming_uniform_(Tensor& t, double a, Generator& gen);

// pytorch/examples dcgan weights_init: every Conv* module's weight ~ N(0, 0.02) (its bias, when
// it has one, 0), every BatchNorm* module's weight ~ N(1, 0.02) and bias 0. Other modules keep
// their default initialisation.
void dcgan_init(Module& m, Generator& gen);

}  // namespace gan::nn::init
