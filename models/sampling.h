// Images from a trained generator: random samples, latent interpolations, and writing them as a
// PNG grid or a .npy array.
#pragma once
#include <memory>
#include <map>
#include <optional>
#include <string>

#include "engine/nn/module.h"
#include "models/config.h"

namespace gan::models {

struct LoadedGenerator {
  ModelConfig config;
  std::string data;  // the run's --data (from the checkpoint's config; empty for foreign files)
  std::shared_ptr<nn::Module> generator;  // in eval mode
  Device device;
  bool ema = false;  // the weights are the moving average (generator_ema.*) of a --ema run
};

// The generator of a checkpoint. Checkpoints of this engine describe their model in metadata;
// for other safetensors files holding `generator.*` tensors (or bare PyTorch Generator names,
// `main.0.weight`, ...) pass `fallback` to say which model they are. Errors name the file. A run
// trained with --ema is sampled from its moving average unless `use_ema` is false.
LoadedGenerator load_generator(const std::string& path, Device device,
                               const std::optional<ModelConfig>& fallback = std::nullopt, bool use_ema = true);

// What a conditional generator is asked for (`gan sample --class / --code / --traverse`).
struct SampleCondition {
  std::optional<int64_t> cls;            // class-conditional: every sample of this class
  std::map<std::string, double> codes;   // InfoGAN: fixed values; "cat" (the first categorical code),
                                         // "catI", "contJ" (the I-th / J-th of their kind, from 0)
  std::string traverse;                  // InfoGAN: "contJ" varies from -2 to 2 along each row
  int64_t steps = 9;                     // columns of a traversal
};

// n images [n, C, H, W] in [-1, 1] from noise drawn with `seed` (toy models: points [n, 2]).
// Conditional generators: without --class one row per class (z shared down each column), n
// rounded down to whole rows; InfoGAN: codes drawn at random unless fixed, or a traversal of n
// rows. `columns`, when given, receives the samples per grid row that show this (0: any).
Tensor sample_images(const LoadedGenerator& g, int64_t n, uint64_t seed, const SampleCondition& cond = {},
                     int64_t* columns = nullptr);
// `rows` interpolations of `steps` images each ([rows * steps, C, H, W], row-major): spherical
// interpolation between two noise vectors per row, endpoints included.
Tensor interpolate_images(const LoadedGenerator& g, int64_t rows, int64_t steps, uint64_t seed);

// FILE.png: a grid with `nrow` images per row (0: a near-square grid); FILE.npy: the float32
// array [N, C, H, W]. Other extensions are refused. Written atomically.
void write_images(const Tensor& images, const std::string& path, int64_t nrow = 0);

// Toy points [N, 2]: FILE.npy holds them as float32 (N, 2); FILE.png is a scatter plot over
// 1000 points of the toy data set `data` (no critic heat map: only the generator is loaded).
void write_toy_points(const Tensor& points, const std::string& data, const std::string& path);

}  // namespace gan::models
