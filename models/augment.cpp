#include "models/augment.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/ops/ops.h"

namespace gan::models {

namespace {

const std::vector<std::string> kAugment{"flip", "translate"};
const std::vector<std::string> kDiffAugment{"color", "translation", "cutout"};

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// n values drawn by `draw`, as a tensor of `shape` on `like`'s device and dtype.
template <class F>
Tensor drawn(int64_t n, const Shape& shape, const Tensor& like, F&& draw) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(draw());
  return Tensor::from_vector(v, shape).to(like.dtype()).to(like.device());
}

// Integers uniform in [lo, hi] (inclusive).
int64_t uniform_int(Generator& gen, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(gen.below(static_cast<uint64_t>(hi - lo + 1)));
}

Tensor random_translation(const Tensor& x, Generator& gen) {
  const int64_t n = x.size(0);
  const int64_t sy = static_cast<int64_t>(x.size(2) / 8.0 + 0.5), sx = static_cast<int64_t>(x.size(3) / 8.0 + 0.5);
  std::vector<float> shifts;
  for (int64_t i = 0; i < n; ++i) {
    shifts.push_back(static_cast<float>(uniform_int(gen, -sy, sy)));
    shifts.push_back(static_cast<float>(uniform_int(gen, -sx, sx)));
  }
  return translate2d(x, Tensor::from_vector(shifts, {n, 2}).to(x.dtype()).to(x.device()));
}

}  // namespace

std::vector<std::string> parse_augment_spec(const std::string& spec, const std::string& flag) {
  const std::vector<std::string>& known = flag == "--augment" ? kAugment : kDiffAugment;
  std::vector<std::string> out;
  size_t start = 0;
  while (!spec.empty() && start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(start, end - start);
    GAN_CHECK(std::find(known.begin(), known.end(), item) != known.end(),
              flag << " " << spec << ": unknown transform '" << item << "' (expected a comma-separated list of "
                   << joined(known) << ")");
    GAN_CHECK(std::find(out.begin(), out.end(), item) == out.end(), flag << " " << spec << ": '" << item << "' twice");
    out.push_back(item);
    start = end + 1;
  }
  return out;
}

Tensor augment_real(const Tensor& images, const std::vector<std::string>& transforms, Generator& gen) {
  GAN_CHECK(images.dim() == 4, "--augment: images " << images.str() << " should be [N, C, H, W]");
  NoGradGuard no_grad;
  Tensor x = images;
  const int64_t n = x.size(0);
  for (const auto& t : transforms) {
    if (t == "flip") x = flip_horizontal(x, drawn(n, {n}, x, [&] { return gen.below(2); }));
    else if (t == "translate") x = random_translation(x, gen);
  }
  return x;
}

Tensor diff_augment(const Tensor& images, const std::vector<std::string>& transforms, Generator& gen) {
  GAN_CHECK(images.dim() == 4, "--diffaugment: images " << images.str() << " should be [N, C, H, W]");
  Tensor x = images;
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  auto factor = [&] { return drawn(n, {n}, x, [&] { return gen.uniform(); }); };
  for (const auto& t : transforms) {
    if (t == "color") {
      x = adjust_brightness(x, factor());
      x = adjust_saturation(x, factor());
      x = adjust_contrast(x, factor());
    } else if (t == "translation") {
      x = random_translation(x, gen);
    } else if (t == "cutout") {
      const int64_t ch = static_cast<int64_t>(h * 0.5 + 0.5), cw = static_cast<int64_t>(w * 0.5 + 0.5);
      std::vector<float> centers;
      for (int64_t i = 0; i < n; ++i) {  // an even-sided square's centre may sit on the far edge
        centers.push_back(static_cast<float>(uniform_int(gen, 0, h - (ch % 2))));
        centers.push_back(static_cast<float>(uniform_int(gen, 0, w - (cw % 2))));
      }
      x = cutout(x, Tensor::from_vector(centers, {n, 2}).to(x.dtype()).to(x.device()), ch, cw);
    }
  }
  return x;
}

}  // namespace gan::models
