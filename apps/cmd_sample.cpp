// gan sample: images from a checkpoint's generator, as a PNG grid or a .npy array.
#include <cstdio>
#include <memory>
#include <map>
#include <optional>
#include <sstream>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "models/run.h"
#include "models/sampling.h"
#include "models/toy.h"

namespace gan::app {

namespace {

struct SampleFlags {
  std::string checkpoint, out, device = "auto";
  int64_t n = 64, interpolate = 0, nrow = 0;
  CLI::Option* n_opt = nullptr;
  uint64_t seed = 0;
  models::ModelConfig model;  // only for files without a model description
  CLI::Option *model_opt = nullptr, *nz_opt = nullptr, *ngf_opt = nullptr, *channels_opt = nullptr;
  int64_t cls = -1;
  std::string codes, traverse;
  bool no_ema = false;
};

// --code cat=3,cont0=0.5 -> {"cat": 3, "cont0": 0.5}
std::map<std::string, double> parse_code_values(const std::string& spec) {
  std::map<std::string, double> out;
  std::stringstream ss(spec);
  for (std::string item; std::getline(ss, item, ',');) {
    const size_t eq = item.find('=');
    GAN_CHECK(eq != std::string::npos && eq > 0, "--code " << spec << ": '" << item << "' is not NAME=VALUE (e.g. cat=3,cont0=0.5)");
    try {
      size_t used = 0;
      const std::string v = item.substr(eq + 1);
      out[item.substr(0, eq)] = std::stod(v, &used);
      GAN_CHECK(used == v.size(), "");
    } catch (...) {
      GAN_FAIL("--code " << spec << ": '" << item.substr(eq + 1) << "' is not a number");
    }
  }
  return out;
}

// Toy checkpoints: N points (the coverage protocol's 2500 unless --n is given), their file, and
// the mode-coverage report on data with modes.
int run_sample_toy(const SampleFlags& f, const models::LoadedGenerator& g) {
  GAN_CHECK(f.interpolate == 0, "--interpolate: not available for toy (2-D) models");
  GAN_CHECK(models::is_toy_data(g.data), f.checkpoint << ": a toy model without a toy data set in its config");
  const int64_t n = f.n_opt->count() ? f.n : models::kCoverageSamples;
  Tensor pts = models::sample_images(g, n, f.seed);
  models::write_toy_points(pts, g.data, f.out);
  std::printf("wrote %s: %lld points (%s generator, data %s)\n", f.out.c_str(), static_cast<long long>(n),
              g.config.arch.c_str(), g.data.c_str());
  models::ToyData d = models::toy_data(g.data);
  if (!d.modes.empty()) {
    models::Coverage c = models::mode_coverage(pts, d);
    std::printf("mode coverage (VEEGAN/PacGAN protocol%s): modes covered %lld/%lld, high-quality %.1f%% "
                "(within 3 sigma = %.2f of the nearest mode), reverse KL %.4f\n",
                n == models::kCoverageSamples ? ", N = 2500" : ", protocol N is 2500", static_cast<long long>(c.modes_covered),
                static_cast<long long>(c.modes), 100 * c.high_quality_share, 3 * d.sigma, c.reverse_kl);
    std::string hist;
    for (int64_t h : c.histogram) hist += (hist.empty() ? "" : " ") + std::to_string(h);
    std::printf("high-quality points per mode: %s\n", hist.c_str());
  }
  return 0;
}

// A checkpoint of gan train describes its model: model flags that say otherwise are a mistake
// (the wrong file, or the wrong flags), not something to ignore silently.
void check_model_flags(const SampleFlags& f, const models::ModelConfig& m) {
  auto check = [&](CLI::Option* o, const std::string& given, const std::string& saved) {
    GAN_CHECK(o->count() == 0 || given == saved,
              o->get_name() << " " << given << " contradicts " << f.checkpoint << ", whose generator has "
                            << o->get_name().substr(2) << " " << saved
                            << " (a checkpoint of gan train describes its model: leave the flag out)");
  };
  check(f.model_opt, f.model.arch, m.arch);
  check(f.nz_opt, std::to_string(f.model.nz), std::to_string(m.nz));
  check(f.ngf_opt, std::to_string(f.model.ngf), std::to_string(m.ngf));
  check(f.channels_opt, std::to_string(f.model.channels), std::to_string(m.channels));
}

int run_sample(const SampleFlags& f) {
  Device device = models::resolve_device(f.device);
  std::optional<models::ModelConfig> fallback;
  if (f.model_opt->count()) {
    fallback = f.model;
    fallback->image_size = models::ModelConfig{}.image_size;
    if (f.model.arch == "dcgan32") fallback->image_size = 32;
    if (f.model.arch == "dcgan64") fallback->image_size = 64;
  }
  models::LoadedGenerator g = models::load_generator(f.checkpoint, device, fallback, !f.no_ema);
  check_model_flags(f, g.config);
  if (g.config.arch == "toy") return run_sample_toy(f, g);
  Tensor images;
  int64_t nrow = f.nrow;
  if (f.interpolate > 0) {
    images = models::interpolate_images(g, f.n, f.interpolate, f.seed);
    if (nrow == 0) nrow = f.interpolate;
  } else {
    models::SampleCondition c;
    if (f.cls >= 0) c.cls = f.cls;
    if (!f.codes.empty()) c.codes = parse_code_values(f.codes);
    c.traverse = f.traverse;
    int64_t columns = 0;
    images = models::sample_images(g, f.n, f.seed, c, &columns);
    if (nrow == 0) nrow = columns;
  }
  models::write_images(images, f.out, nrow);
  std::printf("wrote %s: %lld images %lldx%lldx%lld (%s %s%s)\n", f.out.c_str(), static_cast<long long>(images.size(0)),
              static_cast<long long>(images.size(1)), static_cast<long long>(images.size(2)),
              static_cast<long long>(images.size(3)), g.config.arch.c_str(),
              f.interpolate > 0 ? "interpolations" : "samples", g.ema ? ", moving-average weights" : "");
  return 0;
}

}  // namespace

Runner add_sample_command(CLI::App& app) {
  auto f = std::make_shared<SampleFlags>();
  app.add_option("--checkpoint", f->checkpoint, "A checkpoint (safetensors) written by gan train")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--out", f->out, "Output file: FILE.png (grid; toy: scatter plot) or FILE.npy (float32 [N, C, H, W] in [-1, 1]; toy: [N, 2])")
      ->required();
  f->n_opt = app.add_option("--n", f->n, "Number of images (with --interpolate: number of rows; toy models: points, 2500)")
                 ->check(integer(1, 1000000))
                 ->capture_default_str();
  app.add_option("--seed", f->seed, "Noise seed")->check(seed_value())->capture_default_str();
  app.add_option("--interpolate", f->interpolate, "K: write latent interpolations of K steps per row")
      ->check(integer(2, 1000));
  app.add_option("--nrow", f->nrow, "Images per grid row (default: square grid)")->check(integer(1, 100000));
  app.add_option("--class", f->cls, "Class-conditional generators: every sample of class K (default: one row per class)")
      ->check(integer(0, 1 << 20));
  app.add_option("--code", f->codes, "InfoGAN: fixed code values, e.g. cat=3,cont0=0.5 (the others drawn at random)");
  app.add_option("--traverse", f->traverse, "InfoGAN: contJ varies from -2 to 2 along each of --n rows");
  app.add_option("--device", f->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_flag("--no-ema", f->no_ema, "Runs trained with --ema: sample the raw generator, not its moving average");
  f->model_opt = app.add_option("--model", f->model.arch,
                                "For files not written by gan train (e.g. from PyTorch): mlp, dcgan32 or dcgan64")
                     ->check(CLI::IsMember({"mlp", "dcgan32", "dcgan64"}));
  f->nz_opt = app.add_option("--nz", f->model.nz, "With --model: latent size")->check(integer(1, 1 << 16));
  f->ngf_opt = app.add_option("--ngf", f->model.ngf, "With --model: generator width")->check(integer(1, 1 << 14));
  f->channels_opt = app.add_option("--channels", f->model.channels, "With --model: image channels (1 or 3)")
                        ->check(CLI::IsMember({1, 3}));
  return [f]() -> int {
    const std::string& o = f->out;
    GAN_CHECK((o.size() > 4 && (o.compare(o.size() - 4, 4, ".png") == 0 || o.compare(o.size() - 4, 4, ".npy") == 0)),
              "--out " << o << ": expected a file name ending in .png or .npy");
    return run_sample(*f);
  };
}

}  // namespace gan::app
