// Conv2d and ConvTranspose2d modules over the engine's convolution ops.
#include <cmath>
#include <sstream>

#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/nn/precision.h"
#include "engine/ops/ops.h"

namespace gan::nn {

static Generator& gen_or_default(Generator* gen) { return gen ? *gen : default_generator(Device::cpu()); }

// torch.nn's _ConvNd.reset_parameters: kaiming_uniform(a = sqrt(5)) weight, U(+-1/sqrt(fan_in)) bias.
static void reset_conv(Tensor& weight, Tensor& bias, Generator& g) {
  init::kaiming_uniform_(weight, std::sqrt(5.0), g);
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(init::fan_in_out(weight).first));
    init::uniform_(bias, -bound, bound, g);
  }
}

static std::string conv_repr(int64_t in, int64_t out, int64_t k, const Conv2dParams& p, bool bias, bool transposed) {
  std::ostringstream os;
  os << in << ", " << out << ", kernel_size=(" << k << ", " << k << "), stride=(" << p.stride_h << ", "
     << p.stride_w << "), padding=(" << p.pad_h << ", " << p.pad_w << ")";
  if (transposed && (p.out_pad_h || p.out_pad_w))
    os << ", output_padding=(" << p.out_pad_h << ", " << p.out_pad_w << ")";
  if (!bias) os << ", bias=False";
  return os.str();
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, bool has_bias, Generator* gen)
    : WeightLayer("Conv2d"), in_channels(in), out_channels(out), kernel_size(k),
      params(Conv2dParams::make(stride, padding)) {
  GAN_CHECK(in > 0 && out > 0 && k > 0 && stride > 0 && padding >= 0,
            "Conv2d: invalid configuration in=" << in << " out=" << out << " k=" << k << " stride=" << stride
                                                << " padding=" << padding);
  weight = register_parameter("weight", Tensor::empty({out, in, k, k}));
  if (has_bias) bias = register_parameter("bias", Tensor::empty({out}));
  reset_conv(weight, bias, gen_or_default(gen));
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, like_input(effective_weight(), x), like_input(bias, x), params);
}

bool Conv2d::forward_fused(Module& next, const Tensor& x, Tensor& out) {
  NormAct act;
  if (!bias.defined() || !activation_to_fuse(*this, next, act)) return false;
  out = bias_act(conv2d(x, like_input(effective_weight(), x), Tensor(), params), like_input(bias, x), act);
  return true;
}

std::string Conv2d::extra_repr() const {
  return conv_repr(in_channels, out_channels, kernel_size, params, bias.defined(), false);
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding,
                                 int64_t output_padding, bool has_bias, Generator* gen)
    : WeightLayer("ConvTranspose2d"), in_channels(in), out_channels(out), kernel_size(k),
      params(Conv2dParams::make(stride, padding, output_padding)) {
  GAN_CHECK(in > 0 && out > 0 && k > 0 && stride > 0 && padding >= 0 && output_padding >= 0 &&
                output_padding < stride,
            "ConvTranspose2d: invalid configuration in=" << in << " out=" << out << " k=" << k << " stride=" << stride
                                                         << " padding=" << padding
                                                         << " output_padding=" << output_padding);
  weight = register_parameter("weight", Tensor::empty({in, out, k, k}));
  if (has_bias) bias = register_parameter("bias", Tensor::empty({out}));
  reset_conv(weight, bias, gen_or_default(gen));
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, like_input(effective_weight(), x), like_input(bias, x), params);
}

bool ConvTranspose2d::forward_fused(Module& next, const Tensor& x, Tensor& out) {
  NormAct act;
  if (!bias.defined() || !activation_to_fuse(*this, next, act)) return false;
  out = bias_act(conv_transpose2d(x, like_input(effective_weight(), x), Tensor(), params), like_input(bias, x), act);
  return true;
}

std::string ConvTranspose2d::extra_repr() const {
  return conv_repr(in_channels, out_channels, kernel_size, params, bias.defined(), true);
}

}  // namespace gan::nn
