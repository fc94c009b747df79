#include "models/sampling.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/io/file_util.h"
#include "engine/io/image.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "models/checkpoint.h"
#include "models/data.h"
#include "models/conditional.h"
#include "models/model.h"

namespace gan::models {

LoadedGenerator load_generator(const std::string& path, Device device, const std::optional<ModelConfig>& fallback,
                               bool use_ema) {
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
  g.ema = use_ema && has_network(f, "generator_ema");
  g.generator->load_state_dict(network_state(f, g.ema ? "generator_ema" : "generator", path), path);
  g.generator->to(device);
  g.generator->eval();
  return g;
}

namespace {

// Class ids for a conditional sample: all `cls`, or one row per class of `cols` samples.
Tensor class_inputs(const ModelConfig& cfg, const SampleCondition& c, int64_t n, int64_t* cols) {
  const int64_t k = cfg.num_classes;
  if (c.cls) {
    GAN_CHECK(*c.cls >= 0 && *c.cls < k, "sample: --class " << *c.cls << " outside the model's classes 0.." << k - 1);
    *cols = 0;
    return Tensor::full({n}, static_cast<double>(*c.cls));
  }
  GAN_CHECK(n >= k, "sample: --n " << n << " is fewer than one row of the " << k << " classes");
  *cols = n / k;
  std::vector<float> y;
  for (int64_t r = 0; r < k; ++r)
    for (int64_t j = 0; j < *cols; ++j) y.push_back(static_cast<float>(r));
  return Tensor::from_vector(y, {k * *cols});
}

// InfoGAN code vectors [n, W]: random (categorical uniform, continuous in [-1, 1]) unless fixed;
// a traversal of `rows` x c.steps varies one continuous code from -2 to 2 along each row.
Tensor code_inputs(const ModelConfig& cfg, const SampleCondition& c, int64_t n, Generator& gen, int64_t* cols) {
  const std::vector<LatentCode> codes = parse_codes(cfg.codes);
  std::map<std::string, double> fixed = c.codes;
  if (fixed.count("cat")) fixed["cat0"] = fixed.at("cat"), fixed.erase("cat");
  int64_t cats = 0, conts = 0;
  std::set<std::string> known;
  for (const LatentCode& k : codes)
    for (int64_t i = 0; i < (k.categorical ? 1 : k.size); ++i)
      known.insert(k.categorical ? "cat" + std::to_string(cats++) : "cont" + std::to_string(conts++));
  for (auto& [name, v] : fixed) GAN_CHECK(known.count(name), "sample: --code " << name << ": the model's codes (" << cfg.codes << ") have no such code");
  GAN_CHECK(c.traverse.empty() || (known.count(c.traverse) && c.traverse.rfind("cont", 0) == 0),
            "sample: --traverse " << c.traverse << ": not a continuous code of " << cfg.codes);
  const int64_t rows = n, steps = c.traverse.empty() ? 1 : c.steps, total = rows * steps, width = code_input_width(codes);
  *cols = c.traverse.empty() ? 0 : steps;
  std::vector<float> v(static_cast<size_t>(total * width), 0.f);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> row(static_cast<size_t>(width), 0.f);  // drawn once per row
    int64_t off = 0, ci = 0, cj = 0;
    for (const LatentCode& k : codes) {
      if (k.categorical) {
        const std::string name = "cat" + std::to_string(ci++);
        const double id = fixed.count(name) ? fixed.at(name) : static_cast<double>(gen.below(static_cast<uint64_t>(k.size)));
        GAN_CHECK(id >= 0 && id < k.size && id == std::floor(id), "sample: --code " << name << "=" << id
                                                                             << " is not one of 0.." << k.size - 1);
        row[static_cast<size_t>(off + static_cast<int64_t>(id))] = 1.f;
      } else {
        for (int64_t i = 0; i < k.size; ++i) {
          const std::string name = "cont" + std::to_string(cj++);
          row[static_cast<size_t>(off + i)] = static_cast<float>(fixed.count(name) ? fixed.at(name) : 2 * gen.uniform() - 1);
        }
      }
      off += k.size;
    }
    for (int64_t s = 0; s < steps; ++s) {
      float* out = &v[static_cast<size_t>((r * steps + s) * width)];
      std::copy(row.begin(), row.end(), out);
      if (c.traverse.empty()) continue;
      int64_t pos = 0, j = 0;  // the traversed code's column
      for (const LatentCode& k : codes) {
        if (!k.categorical)
          for (int64_t i = 0; i < k.size; ++i, ++j)
            if ("cont" + std::to_string(j) == c.traverse) out[pos + i] = static_cast<float>(-2.0 + 4.0 * s / (steps - 1));
        pos += k.size;
      }
    }
  }
  return Tensor::from_vector(v, {total, width});
}

}  // namespace

Tensor sample_images(const LoadedGenerator& g, int64_t n, uint64_t seed, const SampleCondition& c, int64_t* columns) {
  GAN_CHECK(n > 0, "sample: --n must be positive, got " << n);
  NoGradGuard no_grad;
  Generator gen(seed);
  int64_t cols = 0;
  const ModelConfig& cfg = g.config;
  auto* cond = dynamic_cast<ConditionalGenerator*>(g.generator.get());
  if (!cond) {
    GAN_CHECK(!c.cls && c.codes.empty() && c.traverse.empty(),
              "sample: --class, --code and --traverse need a conditional or InfoGAN generator; this one (" << cfg.arch
                                                                                                  << ") takes noise only");
    if (columns) *columns = 0;
    return g.generator->forward(draw_noise(cfg, noise_shape(cfg, n), gen, g.device));
  }
  GAN_CHECK(cfg.conditional() || !c.cls, "sample: --class needs a class-conditional generator (this one has codes " << cfg.codes << ")");
  GAN_CHECK(!cfg.conditional() || (c.codes.empty() && c.traverse.empty()),
            "sample: --code and --traverse need an InfoGAN generator (this one is class-conditional: use --class)");
  Tensor second = cfg.conditional() ? class_inputs(cfg, c, n, &cols) : code_inputs(cfg, c, n, gen, &cols);
  const int64_t total = second.size(0);
  Tensor z;
  if (cfg.conditional() && !c.cls) {  // z shared down each column, so a column shows one style in every class
    Tensor col = draw_noise(cfg, noise_shape(cfg, cols), gen);
    z = cat(std::vector<Tensor>(static_cast<size_t>(total / cols), col), 0);
  } else if (!c.traverse.empty()) {  // z fixed along each row of a traversal
    std::vector<Tensor> rows;
    Tensor zr = draw_noise(cfg, noise_shape(cfg, n), gen);
    for (int64_t r = 0; r < n; ++r) rows.push_back(cat(std::vector<Tensor>(static_cast<size_t>(c.steps), slice(zr, 0, r, r + 1)), 0));
    z = cat(rows, 0);
  } else {
    z = draw_noise(cfg, noise_shape(cfg, total), gen);
  }
  if (columns) *columns = cols;
  return cond->forward(z.to(g.device), second.to(g.device));
}

Tensor interpolate_images(const LoadedGenerator& g, int64_t rows, int64_t steps, uint64_t seed) {
  GAN_CHECK(rows > 0 && steps >= 2, "sample: interpolation needs --n >= 1 rows and --interpolate >= 2 steps, got "
                                        << rows << " and " << steps);
  GAN_CHECK(!dynamic_cast<ConditionalGenerator*>(g.generator.get()),
            "sample: --interpolate walks the noise of an unconditional generator; for InfoGAN use --traverse");
  NoGradGuard no_grad;
  Generator gen(seed);
  const int64_t nz = g.config.nz;
  std::vector<float> a = draw_noise(g.config, {rows, nz}, gen).to_float_vector();
  std::vector<float> b = draw_noise(g.config, {rows, nz}, gen).to_float_vector();
  // Uniform noise fills a cube: the straight segment between two of its points stays inside it.
  const bool slerp = g.config.noise != "uniform";
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
      if (!slerp || omega < 1e-6) {
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
