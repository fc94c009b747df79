#include "models/sampling.h"

#include <cmath>

#include "engine/io/file_util.h"
#include "engine/io/image.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "models/checkpoint.h"
#include "models/data.h"
#include "models/model.h"

namespace gan::models {

LoadedGenerator load_generator(const std::string& path, Device device, const std::optional<ModelConfig>& fallback) {
  io::SafetensorsFile f = io::load_safetensors(path);
  ModelConfig cfg;
  std::string data;
  if (is_checkpoint(f)) {
    TrainConfig tc = checkpoint_config(f, path);
    cfg = tc.model;
    data = tc.data;
  } else {
    GAN_CHECK(fallback.has_value(), path << ": has no model description (not written by `gan train`); say which "
                                            "model it holds with --model and its sizes");
    cfg = *fallback;
    cfg.validate();
  }
  Generator init(0);
  LoadedGenerator g{cfg, data, build_generator(cfg, init), device};
  g.generator->load_state_dict(network_state(f, "generator", path), path);
  g.generator->to(device);
  g.generator->eval();
  return g;
}

Tensor sample_images(const LoadedGenerator& g, int64_t n, uint64_t seed) {
  GAN_CHECK(n > 0, "sample: --n must be positive, got " << n);
  NoGradGuard no_grad;
  Generator gen(seed);
  Tensor z = Tensor::randn(noise_shape(g.config, n), &gen, DType::Float32, g.device);
  return g.generator->forward(z);
}

Tensor interpolate_images(const LoadedGenerator& g, int64_t rows, int64_t steps, uint64_t seed) {
  GAN_CHECK(rows > 0 && steps >= 2, "sample: interpolation needs --n >= 1 rows and --interpolate >= 2 steps, got "
                                        << rows << " and " << steps);
  NoGradGuard no_grad;
  Generator gen(seed);
  const int64_t nz = g.config.nz;
  std::vector<float> a = Tensor::randn({rows, nz}, &gen).to_float_vector();
  std::vector<float> b = Tensor::randn({rows, nz}, &gen).to_float_vector();
  std::vector<float> z(static_cast<size_t>(rows * steps * nz));
  for (int64_t r = 0; r < rows; ++r) {
    const float* pa = &a[r * nz];
    const float* pb = &b[r * nz];
    double na = 0, nb = 0, dot = 0;
    for (int64_t i = 0; i < nz; ++i) {
      na += double(pa[i]) * pa[i];
      nb += double(pb[i]) * pb[i];
      dot += double(pa[i]) * pb[i];
    }
    // Slerp keeps intermediate points at the typical norm of Gaussian noise; linear
    // interpolation would pass through low-norm points the generator rarely saw.
    double omega = std::acos(std::clamp(dot / std::sqrt(na * nb), -1.0, 1.0));
    for (int64_t s = 0; s < steps; ++s) {
      double t = static_cast<double>(s) / static_cast<double>(steps - 1);
      double wa, wb;
      if (omega < 1e-6) {
        wa = 1 - t;
        wb = t;
      } else {
        wa = std::sin((1 - t) * omega) / std::sin(omega);
        wb = std::sin(t * omega) / std::sin(omega);
      }
      float* out = &z[(r * steps + s) * nz];
      for (int64_t i = 0; i < nz; ++i) out[i] = static_cast<float>(wa * pa[i] + wb * pb[i]);
    }
  }
  Tensor zt = Tensor::from_vector(z, noise_shape(g.config, rows * steps), g.device);
  return g.generator->forward(zt);
}

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void write_images(const Tensor& images, const std::string& path, int64_t nrow) {
  if (ends_with(path, ".npy")) {
    io::save_npy(path, images.to(DType::Float32));
  } else if (ends_with(path, ".png")) {
    int64_t n = images.size(0);
    if (nrow <= 0) nrow = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
    io::save_png(path, io::make_grid(images, nrow));
  } else {
    GAN_FAIL("--out " << path << ": unknown output type (expected a .png or .npy file name)");
  }
}

void write_toy_points(const Tensor& points, const std::string& data, const std::string& path) {
  GAN_CHECK(points.dim() == 2 && points.size(1) == 2, "write_toy_points: points " << points.str() << " should be [N, 2]");
  if (ends_with(path, ".npy")) return io::save_npy(path, points.to(DType::Float32));
  GAN_CHECK(ends_with(path, ".png"), "--out " << path << ": unknown output type (expected a .png or .npy file name)");
  io::save_png(path, toy_source(data, 1, 0)->picture(points, nullptr, std::to_string(points.size(0)) + " samples"));
}

}  // namespace gan::models
