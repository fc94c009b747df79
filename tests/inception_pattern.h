// The closed-form InceptionV3 weights and images of scripts/inception_pattern.py, in C++ (the
// formulas are documented there). tests/fixtures/inception_pattern.safetensors holds what
// pytorch-fid computes from them; these build the same inputs for the engine.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "models/eval/inception.h"

namespace gan::test {

inline bool inception_name_ends(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// Weight `name` of `shape`, k its position among the sorted weight names.
inline std::vector<double> inception_pattern_value(const std::string& name, const Shape& shape, int64_t k) {
  const int64_t n = numel_of(shape);
  std::vector<double> v(static_cast<size_t>(n));
  const double kk = static_cast<double>(k);
  for (int64_t j = 0; j < n; ++j) {
    const double i = static_cast<double>(j);
    double x;
    if (inception_name_ends(name, "conv.weight") || name == "fc.weight")
      x = std::sqrt(6.0 / static_cast<double>(n / shape[0])) * std::sin(0.37 * i + 0.001 * i * i + 0.11 * kk);
    else if (inception_name_ends(name, "bn.weight"))
      x = 1.0 + 0.2 * std::sin(0.7 * i + 0.3 * kk);
    else if (inception_name_ends(name, "bn.bias") || name == "fc.bias")
      x = 0.01 * std::sin(1.3 * i + 0.5 * kk);
    else if (inception_name_ends(name, "bn.running_mean"))
      x = 0.01 * std::sin(0.9 * i + 0.7 * kk);
    else
      x = 1.0 + 0.5 * std::pow(std::sin(0.5 * i + 0.2 * kk), 2);
    v[static_cast<size_t>(j)] = x;
  }
  return v;
}

// Every weight of the network as float32, as the converter writes them.
inline io::SafetensorsFile inception_pattern_weights() {
  auto shapes = models::eval::inception_tensor_shapes();
  std::sort(shapes.begin(), shapes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  io::SafetensorsFile f;
  for (size_t k = 0; k < shapes.size(); ++k) {
    const auto& [name, shape] = shapes[k];
    f.add(name, Tensor::from_vector(inception_pattern_value(name, shape, static_cast<int64_t>(k)), shape)
                    .to(DType::Float32));
  }
  return f;
}

// rgb [2, 3, 64, 64] and gray [1, 1, 37, 53] in [-1, 1].
inline Tensor inception_pattern_rgb() {
  std::vector<double> v;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 64; ++x)
          v.push_back(0.9 * std::sin(0.21 * x + 0.13 * y + 0.7 * c + 1.1 * n) * std::cos(0.05 * (x - y) + 0.3 * n));
  return Tensor::from_vector(v, {2, 3, 64, 64}).to(DType::Float32);
}

inline Tensor inception_pattern_gray() {
  std::vector<double> v;
  for (int y = 0; y < 37; ++y)
    for (int x = 0; x < 53; ++x) v.push_back(0.9 * std::sin(0.17 * x - 0.11 * y + 0.4) * std::cos(0.07 * y));
  return Tensor::from_vector(v, {1, 1, 37, 53}).to(DType::Float32);
}

// The fixture pytorch-fid's network wrote (scripts/inception_fixture.py).
inline io::SafetensorsFile inception_fixture() {
  return io::load_safetensors(std::string(GAN_SOURCE_DIR) + "/tests/fixtures/inception_pattern.safetensors");
}

}  // namespace gan::test
