#include "models/translate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/autograd/grad_mode.h"
#include "engine/io/datasets.h"
#include "engine/io/file_util.h"
#include "engine/io/image.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "models/checkpoint.h"
#include "models/cyclegan_recipe.h"
#include "models/eval/evaluate.h"

namespace gan::models {

LoadedTranslator load_translator(const std::string& path, const std::string& direction, Device device) {
  GAN_CHECK(direction == "a2b" || direction == "b2a", "--direction: expected a2b or b2a, got '" << direction << "'");
  io::SafetensorsFile f = io::load_safetensors(path);
  GAN_CHECK(is_checkpoint(f), path << ": not a checkpoint written by gan train");
  LoadedTranslator t{checkpoint_config(f, path), direction, nullptr, device};
  GAN_CHECK(t.config.recipe == "cyclegan", path << ": a " << t.config.model.arch
                                                << " checkpoint draws images from noise (gan sample); gan translate "
                                                << "takes a cyclegan checkpoint");
  const std::string net = direction == "a2b" ? "g_ab" : "g_ba";
  t.net = build_translator(t.config.model);
  t.net->load_state_dict(network_state(f, net, path), path);
  t.net->to(device);
  t.net->eval();
  return t;
}

Tensor translate_images(const LoadedTranslator& t, const Tensor& images, int64_t chunk) {
  const ModelConfig& m = t.config.model;
  GAN_CHECK(images.dim() == 4 && images.size(1) == m.channels && images.size(0) > 0,
            "translate: expected images [N, " << m.channels << ", H, W], got " << images.str());
  GAN_CHECK(chunk > 0, "translate: chunk must be positive, got " << chunk);
  NoGradGuard no_grad;
  std::vector<Tensor> out;
  for (int64_t s = 0; s < images.size(0); s += chunk) {
    Tensor x = slice(images, 0, s, std::min(images.size(0), s + chunk)).to(DType::Float32).to(t.device);
    out.push_back((*t.net)(x).to(Device::cpu()));
  }
  return out.size() == 1 ? out[0] : cat(out, 0);
}

namespace {
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
bool image_file(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp" || e == ".gif" || e == ".tga";
}
}  // namespace

ImageSet read_image_set(const std::string& path, int64_t channels, int64_t size) {
  ImageSet set;
  if (ends_with(path, ".npy")) {
    Tensor x = io::load_npy(path).to(DType::Float32);
    GAN_CHECK(x.dim() == 4 && x.size(0) > 0 && x.size(1) == channels && x.size(2) % 4 == 0 && x.size(3) % 4 == 0 &&
                  x.size(2) >= 8 && x.size(3) >= 8,
              path << ": expected images [N, " << channels << ", H, W] in [-1, 1] with H and W multiples of 4, at "
                   << "least 8 (the generator halves the side twice), got " << x.str());
    const float* p = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i)
      GAN_CHECK(std::isfinite(p[i]) && p[i] >= -1.001f && p[i] <= 1.001f,
                path << ": element " << i << " is " << p[i] << "; images are expected in [-1, 1]");
    set.images = x;
    char name[32];
    for (int64_t i = 0; i < x.size(0); ++i) {
      std::snprintf(name, sizeof name, "%06lld", static_cast<long long>(i));
      set.names.emplace_back(name);
    }
    return set;
  }
  GAN_CHECK(io::file_exists(path), path << ": no such file or folder (expected a folder of images or an .npy array)");
  GAN_CHECK(io::is_directory(path), path << ": expected a folder of images or an .npy array");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path))
    if (e.is_regular_file() && image_file(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  GAN_CHECK(!files.empty(), path << ": holds no PNG, JPEG, BMP, GIF or TGA images");
  io::ImageDataset ds;
  ds.channels = channels;
  ds.height = ds.width = size;
  ds.source = path;
  for (const auto& f : files) {
    std::vector<uint8_t> bytes = io::read_file(f.string());
    io::append_image_file(bytes.data(), bytes.size(), f.string(), ds);
    set.names.push_back(std::filesystem::relative(f, path).replace_extension().string());
  }
  set.images = eval::dataset_images(ds);
  return set;
}

std::string write_image_set(const std::string& path, const ImageSet& set) {
  const int64_t n = set.images.size(0);
  if (ends_with(path, ".npy")) {
    io::save_npy(path, set.images);
    return std::to_string(n) + " images " + set.images.str() + " to " + path;
  }
  GAN_CHECK(static_cast<int64_t>(set.names.size()) == n, "translate: " << set.names.size() << " names for " << n << " images");
  io::make_directories(path);
  for (int64_t i = 0; i < n; ++i) {
    const std::string out = path + "/" + set.names[i] + ".png";
    io::make_directories(std::filesystem::path(out).parent_path().string());
    io::save_png(out, io::make_grid(slice(set.images, 0, i, i + 1), 1, 0));
  }
  return std::to_string(n) + " images to " + path + "/";
}

}  // namespace gan::models
