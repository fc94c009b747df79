// The 2-D stage for mode collapse: mixtures of Gaussians and the swiss roll as data, the MLP
// generator/critic pair of the WGAN-GP toy experiments, and the mode-coverage metrics of the
// VEEGAN/PacGAN protocol.
//
// Data sets (--data):
//   gaussians8   8 Gaussians centred at (2 cos(k pi/4), 2 sin(k pi/4)), k = 0..7, std 0.02
//   gaussians25  25 Gaussians on the grid {-4, -2, 0, 2, 4}^2, std 0.05
//   swissroll    scikit-learn's make_swiss_roll (t = 1.5 pi (1 + 2u), point (t cos t, 21 v, t sin t)
//                plus N(0, 0.25^2) noise on each coordinate), keeping (x, z) / 7.5
// Each sample picks its mode uniformly, so a batch holds about B/K points of each mode.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/nn/layers.h"
#include "engine/rng/generator.h"
#include "models/config.h"

namespace gan::models {

struct ToyData {
  std::string name;
  std::vector<std::pair<double, double>> modes;  // empty for the swiss roll (no modes to count)
  double sigma = 0;                              // per-coordinate std of each mode
  double extent = 3;                             // plots show [-extent, extent]^2
};

bool is_toy_data(const std::string& spec);
// Throws naming the spec for an unknown name.
ToyData toy_data(const std::string& spec);

// n points [n, 2] float32 on the CPU drawn from `gen` (two draws of the generator per call).
Tensor sample_toy(const ToyData& data, int64_t n, Generator& gen);

// G: z [N, nz] -> main = Linear(nz, h0), ReLU, ..., Linear(h_last, 2) -> points [N, 2].
// With the toy defaults (nz 2, hidden 512, 512, 512) it is the WGAN-GP toy generator.
class ToyGenerator : public nn::Module {
 public:
  ToyGenerator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& z) override;
  std::shared_ptr<nn::Sequential> main;
};

// D: points [N, 2] -> main = Linear(2, h0), ReLU, ..., Linear(h_last, 1) -> values [N].
class ToyDiscriminator : public nn::Module {
 public:
  ToyDiscriminator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Sequential> main;
};

// Mode coverage of generated points, as the VEEGAN/PacGAN 2-D experiments measure it: a point
// is high quality when it lies within 3 sigma (Euclidean distance / sigma) of its nearest mode;
// the histogram counts high-quality points per nearest mode; a mode is covered when it holds at
// least one (the threshold of PacGAN's MetricLogger, which counts nonzero histogram bins);
// reverse KL is KL(p || uniform) = sum_k p_k log(K p_k) of the normalised histogram (+inf when
// no point is high quality). The protocol draws N = 2500 points.
struct Coverage {
  int64_t n = 0, modes = 0, modes_covered = 0, high_quality = 0;
  double high_quality_share = 0;  // high_quality / n
  double reverse_kl = 0;
  std::vector<int64_t> histogram;  // high-quality points per mode
};

// Points [n, 2] (any device, float32/float64). Throws when the data set has no modes.
Coverage mode_coverage(const Tensor& points, const ToyData& data);
// Points as host pairs.
Coverage mode_coverage(const std::vector<double>& xy, const ToyData& data);

// The number of points the coverage protocol draws.
inline constexpr int64_t kCoverageSamples = 2500;

}  // namespace gan::models
