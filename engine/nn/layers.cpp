// Linear, activations and reshaping layers (the ones built on matmul and element-wise ops).
#include <cmath>
#include <sstream>

#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/nn/precision.h"
#include "engine/ops/ops.h"

namespace gan::nn {

static Generator& gen_or_default(Generator* gen) { return gen ? *gen : default_generator(Device::cpu()); }

void WeightLayer::enable_spectral_norm(Generator& gen, int iterations, double eps) {
  GAN_CHECK(!spectrally_normalised(), type_name() << ": spectral norm is already on");
  GAN_CHECK(iterations >= 1, type_name() << ": spectral norm needs at least one power iteration, got " << iterations);
  const int64_t dim = output_dim(), rows = weight.size(dim), cols = weight.numel() / rows;
  NoGradGuard no_grad;
  auto unit = [&](int64_t n) {
    Tensor x = Tensor::randn({n}, &gen, weight.dtype());
    return div(x, clamp(sqrt(sum(square(x))), eps, INFINITY)).to(weight.device());
  };
  rename_parameter("weight", "weight_orig");
  u_ = register_buffer("weight_u", unit(rows));
  v_ = register_buffer("weight_v", unit(cols));
  iterations_ = iterations;
  eps_ = eps;
}

Tensor WeightLayer::effective_weight() {
  if (!spectrally_normalised()) return weight;
  return spectral_normalize(weight, u_, v_, output_dim(), iterations_, eps_, is_training());
}

int apply_spectral_norm(Module& net, Generator& gen, int iterations) {
  int n = 0;
  for (auto& [path, m] : net.named_modules())
    if (auto* w = dynamic_cast<WeightLayer*>(m)) {
      w->enable_spectral_norm(gen, iterations);
      ++n;
    }
  return n;
}

Linear::Linear(int64_t in, int64_t out, bool has_bias, Generator* gen)
    : WeightLayer("Linear"), in_features(in), out_features(out) {
  GAN_CHECK(in > 0 && out > 0, "Linear: features must be positive, got in=" << in << " out=" << out);
  Generator& g = gen_or_default(gen);
  weight = register_parameter("weight", Tensor::empty({out, in}));
  init::kaiming_uniform_(weight, std::sqrt(5.0), g);
  if (has_bias) {
    bias = register_parameter("bias", Tensor::empty({out}));
    double bound = 1.0 / std::sqrt(static_cast<double>(in));
    init::uniform_(bias, -bound, bound, g);
  }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, like_input(effective_weight(), x), like_input(bias, x)); }

bool Linear::forward_fused(Module& next, const Tensor& x, Tensor& out) {
  NormAct act;
  if (!bias.defined() || !activation_to_fuse(*this, next, act)) return false;
  out = bias_act(linear(x, like_input(effective_weight(), x)), like_input(bias, x), act);
  return true;
}

bool activation_to_fuse(const Module& layer, const Module& next, NormAct& act) {
  if (layer.has_forward_hook() || layer.compute_dtype() != DType::Float32) return false;
  if (dynamic_cast<const ReLU*>(&next)) {
    act = {NormActKind::Relu, 0.0};
    return true;
  }
  if (auto* leaky = dynamic_cast<const LeakyReLU*>(&next); leaky && leaky->negative_slope >= 0) {
    act = {NormActKind::LeakyRelu, leaky->negative_slope};
    return true;
  }
  return false;
}

Embedding::Embedding(int64_t n, int64_t d, Generator* gen) : Module("Embedding"), num(n), dim(d) {
  GAN_CHECK(n > 0 && d > 0, "Embedding: sizes must be positive, got num=" << n << " dim=" << d);
  weight = register_parameter("weight", Tensor::empty({n, d}));
  init::normal_(weight, 0.0, 1.0, gen_or_default(gen));
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices); }

std::string Embedding::extra_repr() const { return std::to_string(num) + ", " + std::to_string(dim); }

std::string Linear::extra_repr() const {
  std::ostringstream os;
  os << "in_features=" << in_features << ", out_features=" << out_features
     << ", bias=" << (bias.defined() ? "True" : "False");
  return os.str();
}

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor PixelShuffle::forward(const Tensor& x) { return pixel_shuffle(x, r); }
Tensor Upsample::forward(const Tensor& x) { return upsample_nearest2d(x, scale); }

ReflectionPad2d::ReflectionPad2d(int64_t p) : Module("ReflectionPad2d"), pad(p) {
  GAN_CHECK(p >= 0, "ReflectionPad2d: padding must not be negative, got " << p);
}
Tensor ReflectionPad2d::forward(const Tensor& x) { return reflection_pad2d(x, pad); }
std::string ReflectionPad2d::extra_repr() const {
  const std::string p = std::to_string(pad);
  return "(" + p + ", " + p + ", " + p + ", " + p + ")";
}

std::string LeakyReLU::extra_repr() const {
  std::ostringstream os;
  os << "negative_slope=" << negative_slope;
  return os.str();
}

Tensor Flatten::forward(const Tensor& x) {
  GAN_CHECK(x.dim() >= 1, "Flatten: input " << x.str() << " has no batch dimension");
  return x.dim() == 1 ? x.reshape({x.size(0), 1}) : x.flatten(1);
}

Tensor Unflatten::forward(const Tensor& x) {
  GAN_CHECK(x.dim() == 2 && x.size(1) == numel_of(shape),
            "Unflatten: input " << x.str() << " cannot be viewed as [N, " << shape_str(shape).substr(1));
  Shape s{x.size(0)};
  s.insert(s.end(), shape.begin(), shape.end());
  return x.reshape(s);
}

std::string Unflatten::extra_repr() const { return "dim=1, unflattened_size=" + shape_str(shape); }

}  // namespace gan::nn
