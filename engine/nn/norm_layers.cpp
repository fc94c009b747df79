// BatchNorm2d, InstanceNorm2d and LayerNorm modules over the engine's normalisation ops.
#include <sstream>

#include "engine/capture/step_graph.h"
#include "engine/nn/layers.h"
#include "engine/nn/precision.h"
#include "engine/ops/ops.h"

namespace gan::nn {

void set_batch_norm_sum(Module& net, const SumAcross& sum_across) {
  for (auto& [path, m] : net.named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) bn->sum_across = sum_across;
}

BatchNorm2d::BatchNorm2d(int64_t c, double eps, double momentum, bool affine, bool track)
    : Module("BatchNorm2d"), num_features(c), eps(eps), momentum(momentum) {
  GAN_CHECK(c > 0, "BatchNorm2d: num_features must be positive, got " << c);
  if (affine) {
    weight = register_parameter("weight", Tensor::ones({c}));
    bias = register_parameter("bias", Tensor::zeros({c}));
  }
  if (track) {
    running_mean = register_buffer("running_mean", Tensor::zeros({c}));
    running_var = register_buffer("running_var", Tensor::ones({c}));
    register_counter("num_batches_tracked", &num_batches_tracked);
  }
}

void BatchNorm2d::check_input(const Tensor& x) const {
  GAN_CHECK((x.dim() == 4 || x.dim() == 2) && x.size(1) == num_features,
            "BatchNorm2d(" << num_features << "): input " << x.str() << " is not [N, " << num_features
                           << ", H, W]");
}

void BatchNorm2d::count_batch(const Tensor& x) {
  if (!running_mean.defined()) return;
  ++num_batches_tracked;
  if (step_recording(x.device())) on_replay(x.device(), [this] { ++num_batches_tracked; });
}

Tensor BatchNorm2d::forward(const Tensor& in) {
  check_input(in);
  return in_float32(in, [&](const Tensor& x) { return forward_float(x); });
}

Tensor BatchNorm2d::forward_float(const Tensor& x) {
  if (is_training()) {
    count_batch(x);
    if (sum_across) return batch_norm_across(x, weight, bias, running_mean, running_var, sum_across, momentum, eps);
    return batch_norm(x, weight, bias, running_mean, running_var, true, momentum, eps);
  }
  // Without running statistics PyTorch normalises with the batch even in eval mode.
  if (!running_mean.defined()) return batch_norm(x, weight, bias, Tensor(), Tensor(), true, momentum, eps);
  return batch_norm(x, weight, bias, running_mean, running_var, false, momentum, eps);
}

bool BatchNorm2d::forward_fused(Module& next, const Tensor& x, Tensor& out) {
  // Training with this process's batch only, and nothing watching the normalised value itself.
  NormAct act;
  if (!is_training() || sum_across || !activation_to_fuse(*this, next, act)) return false;
  check_input(x);
  count_batch(x);
  out = in_float32(x, [&](const Tensor& x32) {
    return batch_norm_act(x32, weight, bias, running_mean, running_var, act, momentum, eps);
  });
  return true;
}

std::string BatchNorm2d::extra_repr() const {
  std::ostringstream os;
  os << num_features << ", eps=" << eps << ", momentum=" << momentum
     << ", affine=" << (weight.defined() ? "True" : "False")
     << ", track_running_stats=" << (running_mean.defined() ? "True" : "False");
  return os.str();
}

InstanceNorm2d::InstanceNorm2d(int64_t c, double eps, bool affine)
    : Module("InstanceNorm2d"), num_features(c), eps(eps) {
  GAN_CHECK(c > 0, "InstanceNorm2d: num_features must be positive, got " << c);
  GAN_CHECK(eps > 0, "InstanceNorm2d: eps must be positive, got " << eps);
  if (affine) {
    weight = register_parameter("weight", Tensor::ones({c}));
    bias = register_parameter("bias", Tensor::zeros({c}));
  }
}

Tensor InstanceNorm2d::forward(const Tensor& x) {
  GAN_CHECK(x.dim() == 4 && x.size(1) == num_features,
            "InstanceNorm2d(" << num_features << "): input " << x.str() << " is not [N, " << num_features
                              << ", H, W]");
  // No running statistics: training and eval both normalise each plane by its own statistics.
  return in_float32(x, [&](const Tensor& x32) { return instance_norm(x32, weight, bias, eps); });
}

std::string InstanceNorm2d::extra_repr() const {
  // As torch prints it (its momentum is unused without running statistics).
  std::ostringstream os;
  os << num_features << ", eps=" << eps << ", momentum=0.1, affine=" << (weight.defined() ? "True" : "False")
     << ", track_running_stats=False";
  return os.str();
}

LayerNorm::LayerNorm(Shape shape, double eps, bool affine)
    : Module("LayerNorm"), normalized_shape(std::move(shape)), eps(eps) {
  GAN_CHECK(!normalized_shape.empty() && numel_of(normalized_shape) > 0,
            "LayerNorm: invalid normalized_shape " << shape_str(normalized_shape));
  if (affine) {
    weight = register_parameter("weight", Tensor::ones(normalized_shape));
    bias = register_parameter("bias", Tensor::zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  int64_t nd = static_cast<int64_t>(normalized_shape.size());
  GAN_CHECK(x.dim() >= nd, "LayerNorm" << shape_str(normalized_shape) << ": input " << x.str() << " has too few dims");
  Shape tail(x.shape().end() - nd, x.shape().end());
  GAN_CHECK(tail == normalized_shape,
            "LayerNorm" << shape_str(normalized_shape) << ": input " << x.str() << " does not end in that shape");
  return in_float32(x, [&](const Tensor& x32) { return layer_norm(x32, nd, weight, bias, eps); });
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream os;
  os << shape_str(normalized_shape) << ", eps=" << eps
     << ", elementwise_affine=" << (weight.defined() ? "True" : "False");
  return os.str();
}

}  // namespace gan::nn
