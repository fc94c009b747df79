#include "models/toy.h"

#include <cmath>
#include <limits>

#include "engine/ops/ops.h"
#include "models/model.h"

namespace gan::models {

bool is_toy_data(const std::string& spec) {
  return spec == "gaussians8" || spec == "gaussians25" || spec == "swissroll";
}

ToyData toy_data(const std::string& spec) {
  ToyData d;
  d.name = spec;
  if (spec == "gaussians8") {
    for (int k = 0; k < 8; ++k) d.modes.push_back({2 * std::cos(k * M_PI / 4), 2 * std::sin(k * M_PI / 4)});
    d.sigma = 0.02;
    d.extent = 3;
  } else if (spec == "gaussians25") {
    for (int i = -2; i <= 2; ++i)
      for (int j = -2; j <= 2; ++j) d.modes.push_back({2.0 * i, 2.0 * j});
    d.sigma = 0.05;
    d.extent = 6;
  } else if (spec == "swissroll") {
    d.extent = 2.5;
  } else {
    GAN_FAIL("--data " << spec << ": unknown toy data set (expected gaussians8, gaussians25 or swissroll)");
  }
  return d;
}

Tensor sample_toy(const ToyData& data, int64_t n, Generator& gen) {
  GAN_CHECK(n > 0, "sample_toy: needs a positive count, got " << n);
  std::vector<float> u = Tensor::rand({n}, &gen).to_float_vector();
  std::vector<float> e = Tensor::randn({n, 2}, &gen).to_float_vector();
  std::vector<float> out(static_cast<size_t>(2 * n));
  const int64_t k = static_cast<int64_t>(data.modes.size());
  for (int64_t i = 0; i < n; ++i) {
    double x, y;
    if (k > 0) {
      int64_t m = std::min<int64_t>(static_cast<int64_t>(u[i] * k), k - 1);
      x = data.modes[m].first + data.sigma * e[2 * i];
      y = data.modes[m].second + data.sigma * e[2 * i + 1];
    } else {
      double t = 1.5 * M_PI * (1 + 2 * u[i]);
      x = (t * std::cos(t) + 0.25 * e[2 * i]) / 7.5;
      y = (t * std::sin(t) + 0.25 * e[2 * i + 1]) / 7.5;
    }
    out[2 * i] = static_cast<float>(x);
    out[2 * i + 1] = static_cast<float>(y);
  }
  return Tensor::from_vector(out, {n, 2});
}

static std::shared_ptr<nn::Module> relu() { return std::make_shared<nn::ReLU>(); }

ToyGenerator::ToyGenerator(const ModelConfig& cfg, Generator& gen) : nn::Module("Generator") {
  main = register_module("main", linear_stack(cfg.nz, cfg.g_hidden, 2, relu, gen));
}

Tensor ToyGenerator::forward(const Tensor& z) {
  GAN_CHECK(z.dim() == 2, "ToyGenerator: noise " << z.str() << " should be [N, nz]");
  return main->forward(z);
}

ToyDiscriminator::ToyDiscriminator(const ModelConfig& cfg, Generator& gen) : nn::Module("Discriminator") {
  main = register_module("main", linear_stack(2, cfg.d_hidden, 1, relu, gen));
}

Tensor ToyDiscriminator::forward(const Tensor& x) {
  GAN_CHECK(x.dim() == 2 && x.size(1) == 2, "ToyDiscriminator: input " << x.str() << " should be [N, 2]");
  return main->forward(x).reshape({x.size(0)});
}

Coverage mode_coverage(const std::vector<double>& xy, const ToyData& data) {
  GAN_CHECK(!data.modes.empty(), "mode coverage: data set " << data.name << " has no modes to count");
  GAN_CHECK(xy.size() % 2 == 0 && !xy.empty(), "mode coverage: needs a non-empty list of 2-D points");
  Coverage c;
  c.n = static_cast<int64_t>(xy.size() / 2);
  c.modes = static_cast<int64_t>(data.modes.size());
  c.histogram.assign(static_cast<size_t>(c.modes), 0);
  for (int64_t i = 0; i < c.n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    int64_t arg = 0;
    for (int64_t m = 0; m < c.modes; ++m) {
      double dx = xy[2 * i] - data.modes[m].first, dy = xy[2 * i + 1] - data.modes[m].second;
      double d2 = dx * dx + dy * dy;
      if (d2 < best) {
        best = d2;
        arg = m;
      }
    }
    // NaN points compare false here and count as low quality.
    if (std::sqrt(best) <= 3 * data.sigma) {
      ++c.histogram[arg];
      ++c.high_quality;
    }
  }
  c.high_quality_share = static_cast<double>(c.high_quality) / static_cast<double>(c.n);
  if (c.high_quality == 0) {
    c.reverse_kl = std::numeric_limits<double>::infinity();
  } else {
    for (int64_t h : c.histogram) {
      if (h == 0) continue;
      ++c.modes_covered;
      double p = static_cast<double>(h) / static_cast<double>(c.high_quality);
      c.reverse_kl += p * std::log(p * static_cast<double>(c.modes));
    }
  }
  return c;
}

Coverage mode_coverage(const Tensor& points, const ToyData& data) {
  GAN_CHECK(points.dim() == 2 && points.size(1) == 2, "mode coverage: points " << points.str() << " should be [N, 2]");
  return mode_coverage(points.to_double_vector(), data);
}

}  // namespace gan::models
