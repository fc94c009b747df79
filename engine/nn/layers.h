// Layers with PyTorch's names, shapes, defaults and default initialisation, so that weights move
// between this engine and torch.nn without renaming or reshaping.
//
// Every constructor that creates weights takes the Generator that initialises them (the CPU
// default generator when null); weights are created on the CPU; Module::to moves them.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/nn/module.h"
#include "engine/ops/conv.h"
#include "engine/ops/norm.h"
#include "engine/rng/generator.h"

namespace gan::nn {

// A layer whose `weight` parameter spectral normalisation can wrap: Linear, Conv2d, ConvTranspose2d.
class WeightLayer : public Module {
 public:
  using Module::Module;
  Tensor weight;  // the parameter "weight" ("weight_orig" once spectrally normalised)

  // As torch.nn.utils.spectral_norm(layer): the parameter is renamed weight_orig and buffers
  // weight_u [rows] and weight_v [cols] (rows: the output dimension, 0, or 1 for a transposed
  // convolution) hold the power iteration's vectors, drawn from N(0, 1) by `gen` and normalised.
  // Each forward in training refines them by `iterations` steps, then uses weight / sigma
  // (engine/ops/norm.h: spectral_normalize); eval uses them as they are.
  void enable_spectral_norm(Generator& gen, int iterations = 1, double eps = 1e-12);
  bool spectrally_normalised() const { return u_.defined(); }
  // What the layer multiplies by: weight, or weight / sigma.
  Tensor effective_weight();

 protected:
  virtual int64_t output_dim() const { return 0; }

 private:
  Tensor u_, v_;
  int iterations_ = 1;
  double eps_ = 1e-12;
};

// Spectral norm on every Linear, Conv2d and ConvTranspose2d of `net` (Embedding and normalisation
// layers are left alone). Returns how many layers it wrapped.
int apply_spectral_norm(Module& net, Generator& gen, int iterations = 1);

// The activation `layer` may fuse with the `next` layer of a Sequential (Module::forward_fused): a
// ReLU, or a LeakyReLU whose slope is >= 0 (the fused backward reads its mask from the output),
// into `act`. False when next is neither, or when `layer` must run alone: a forward hook watches
// its own output (`gan trace`), or it has a compute dtype of its own to cast to.
bool activation_to_fuse(const Module& layer, const Module& next, NormAct& act);

// y = x W^T + b; W [out, in], b [out]. Init as torch.nn.Linear: W ~ kaiming_uniform(a = sqrt(5)),
// i.e. U(-1/sqrt(in), 1/sqrt(in)), and b ~ U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public WeightLayer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;  // x [N, in] -> [N, out]
  // Followed by ReLU or LeakyReLU (slope >= 0), with a bias: the product, then bias_act.
  bool forward_fused(Module& next, const Tensor& x, Tensor& out) override;
  Tensor bias;                                // undefined when bias = false
  int64_t in_features, out_features;

 protected:
  std::string extra_repr() const override;
};

// A lookup table: indices [N] (float tensors holding integral ids in [0, num)) -> rows [N, dim] of
// weight [num, dim]. Init as torch.nn.Embedding: N(0, 1).
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, Generator* gen = nullptr);
  Tensor forward(const Tensor& indices) override;
  Tensor weight;
  int64_t num, dim;

 protected:
  std::string extra_repr() const override;
};

// 2-D convolution, NCHW, square kernel; W [out, in, k, k]. Init as torch.nn.Conv2d.
class Conv2d : public WeightLayer {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  // Followed by ReLU or LeakyReLU (slope >= 0), with a bias: the convolution, then bias_act.
  bool forward_fused(Module& next, const Tensor& x, Tensor& out) override;
  Tensor bias;
  int64_t in_channels, out_channels, kernel_size;
  Conv2dParams params;

 protected:
  std::string extra_repr() const override;
};

// Transposed 2-D convolution; W [in, out, k, k] as PyTorch. Init as torch.nn.ConvTranspose2d
// (whose fan-in is computed from W's second dimension: out * k * k).
class ConvTranspose2d : public WeightLayer {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
                  int64_t padding = 0, int64_t output_padding = 0, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  // Followed by ReLU or LeakyReLU (slope >= 0), with a bias: the convolution, then bias_act.
  bool forward_fused(Module& next, const Tensor& x, Tensor& out) override;
  Tensor bias;
  int64_t in_channels, out_channels, kernel_size;
  Conv2dParams params;

 protected:
  std::string extra_repr() const override;
  int64_t output_dim() const override { return 1; }  // W [in, out, k, k], as torch's dim=1
};

// Batch norm over [N, C, H, W] (or [N, C]). Parameters weight (ones), bias (zeros); buffers
// running_mean (zeros), running_var (ones) and the counter num_batches_tracked. Training mode
// normalises with the batch statistics and updates the running ones (momentum as PyTorch);
// eval mode uses the running ones. With `sum_across` set, training mode takes the statistics of a
// batch split across processes (batch_norm_across, torch.nn.SyncBatchNorm); eval mode never
// communicates (one process may sample alone).
class BatchNorm2d;
// Sets sum_across on every BatchNorm2d of `net` (an empty function: each process's batch alone).
void set_batch_norm_sum(Module& net, const SumAcross& sum_across);

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true);
  Tensor forward(const Tensor& x) override;
  // Followed by ReLU or LeakyReLU (slope >= 0) in training: batch_norm_act, one op for both.
  bool forward_fused(Module& next, const Tensor& x, Tensor& out) override;
  Tensor weight, bias, running_mean, running_var;
  SumAcross sum_across;  // empty: this process's batch alone
  int64_t num_features;
  int64_t num_batches_tracked = 0;
  double eps, momentum;

 protected:
  std::string extra_repr() const override;

 private:
  void check_input(const Tensor& x) const;
  Tensor forward_float(const Tensor& x);  // forward on float32 or float64 input
  void count_batch(const Tensor& x);  // num_batches_tracked, also in a recorded step's replays
};

// Instance norm over [N, C, H, W]: each (sample, channel) plane normalised by its own mean and
// biased variance (engine/ops/norm.h: instance_norm), then, when affine, weight (ones) and bias
// (zeros) [C]. torch.nn.InstanceNorm2d(num_features, eps, affine=affine) with its default
// track_running_stats=False: no buffers, and train and eval mode compute the same thing.
class InstanceNorm2d : public Module {
 public:
  explicit InstanceNorm2d(int64_t num_features, double eps = 1e-5, bool affine = false);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;  // undefined unless affine
  int64_t num_features;
  double eps;

 protected:
  std::string extra_repr() const override;
};

// Layer norm over the trailing dims `normalized_shape`; weight (ones) and bias (zeros) of that shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
  Shape normalized_shape;
  double eps;

 protected:
  std::string extra_repr() const override;
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : Module("LeakyReLU"), negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override;
  double negative_slope;

 protected:
  std::string extra_repr() const override;
};

class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override;
};

// torch.nn.PixelShuffle(r): [N, C r^2, H, W] -> [N, C, H r, W r] (engine/ops/spatial.h).
class PixelShuffle : public Module {
 public:
  explicit PixelShuffle(int64_t r) : Module("PixelShuffle"), r(r) {}
  Tensor forward(const Tensor& x) override;
  int64_t r;

 protected:
  std::string extra_repr() const override { return "upscale_factor=" + std::to_string(r); }
};

// torch.nn.Upsample(scale_factor=s, mode='nearest'), integer s.
class Upsample : public Module {
 public:
  explicit Upsample(int64_t scale) : Module("Upsample"), scale(scale) {}
  Tensor forward(const Tensor& x) override;
  int64_t scale;

 protected:
  std::string extra_repr() const override { return "scale_factor=" + std::to_string(scale) + ", mode='nearest'"; }
};

// torch.nn.ReflectionPad2d(pad): [N, C, H, W] -> [N, C, H + 2 pad, W + 2 pad], mirrored at the
// border without repeating the edge (engine/ops/spatial.h); pad < H and pad < W.
class ReflectionPad2d : public Module {
 public:
  explicit ReflectionPad2d(int64_t pad);
  Tensor forward(const Tensor& x) override;
  int64_t pad;

 protected:
  // torch prints the 4-tuple (left, right, top, bottom).
  std::string extra_repr() const override;
};

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override;
};

// [N, d1, d2, ...] -> [N, d1 * d2 * ...] (torch.nn.Flatten with its defaults).
class Flatten : public Module {
 public:
  Flatten() : Module("Flatten") {}
  Tensor forward(const Tensor& x) override;
};

// [N, prod(shape)] -> [N, shape...] (torch.nn.Unflatten(1, shape)).
class Unflatten : public Module {
 public:
  explicit Unflatten(Shape shape) : Module("Unflatten"), shape(std::move(shape)) {}
  Tensor forward(const Tensor& x) override;
  Shape shape;

 protected:
  std::string extra_repr() const override;
};

}  // namespace gan::nn
