// Shared helpers for the test suite.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/autograd/gradcheck.h"
#include "engine/io/datasets.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "models/config.h"

namespace gan::test {

// The smallest MLP GAN config the training tests use (nz 8, one hidden layer of 16 on each side).
inline models::TrainConfig tiny_mlp(int64_t batch, int64_t steps, uint64_t seed) {
  models::TrainConfig c;
  c.model.arch = "mlp";
  c.model.nz = 8;
  c.model.g_hidden = {16};
  c.model.d_hidden = {16};
  c.batch = batch;
  c.steps = steps;
  c.seed = seed;
  return c;
}

// The smallest DCGAN-32 the training tests use: nz 6, ngf = ndf = 4, batch 4.
inline models::TrainConfig tiny_dcgan32(int64_t steps, int64_t channels = 1, uint64_t seed = 5) {
  models::TrainConfig c;
  c.model.arch = "dcgan32";
  c.model.nz = 6;
  c.model.ngf = c.model.ndf = 4;
  c.model.channels = channels;
  c.model.image_size = 32;
  c.batch = 4;
  c.steps = steps;
  c.seed = seed;
  return c;
}

// n random c x s x s images (uniform bytes): data whose content does not matter, only its flow
// through loaders and models of any size.
inline io::ImageDataset random_images(int64_t n, int64_t c, int64_t s, uint64_t seed) {
  io::ImageDataset ds;
  ds.count = n;
  ds.channels = c;
  ds.height = ds.width = s;
  Generator g(seed);
  for (int64_t i = 0; i < n * c * s * s; ++i) ds.pixels.push_back(static_cast<uint8_t>(g.below(256)));
  ds.source = "random";
  return ds;
}

// A float64 CPU tensor of N(0, 1) values from a fixed seed, optionally requiring grad.
inline Tensor randn64(const Shape& s, uint64_t seed, bool requires_grad = true) {
  Generator g(seed);
  Tensor t = Tensor::randn(s, &g, DType::Float64);
  if (requires_grad) t.requires_grad_();
  return t;
}

inline Tensor rand64(const Shape& s, uint64_t seed, double lo, double hi, bool requires_grad = true) {
  Generator g(seed);
  Tensor t = Tensor::rand(s, &g, lo, hi, DType::Float64);
  if (requires_grad) t.requires_grad_();
  return t;
}

// The same shape, dtype and bytes (any devices; two undefined tensors count as the same): what a
// claim of "no rounding of its own" or "the same batch" is checked with.
inline bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  const Tensor ca = a.cpu(), cb = b.cpu();
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

// Relative error ||a - b|| / ||b|| (any devices, any dtypes).
inline double rel_error(const Tensor& a, const Tensor& b) {
  auto x = a.to_double_vector(), y = b.to_double_vector();
  EXPECT_EQ(x.size(), y.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += y[i] * y[i];
  }
  if (std::isnan(num)) return INFINITY;
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline void expect_close(const Tensor& a, const std::vector<double>& expected, double tol = 1e-6) {
  auto v = a.to_double_vector();
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], expected[i], tol) << "element " << i;
}

// Two checkpoints with the same tensors in the same order, bit for bit (runs that must not differ,
// e.g. with layer fusion on and off); at least `at_least` of them, so an empty file cannot pass.
inline void expect_same_tensors(const io::SafetensorsFile& a, const io::SafetensorsFile& b, size_t at_least = 1) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  EXPECT_GE(a.tensors.size(), at_least);
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].first, b.tensors[i].first);
    EXPECT_TRUE(a.tensors[i].second.data == b.tensors[i].second.data) << a.tensors[i].first;
  }
}

}  // namespace gan::test

#define EXPECT_GRADCHECK(f, inputs)                        \
  do {                                                     \
    auto gc_ = ::gan::gradcheck((f), (inputs));            \
    EXPECT_TRUE(gc_.ok) << "gradient check failed:\n" << gc_.report; \
  } while (0)

#define EXPECT_GRADGRADCHECK(f, inputs)                    \
  do {                                                     \
    auto gc_ = ::gan::gradgradcheck((f), (inputs));        \
    EXPECT_TRUE(gc_.ok) << "second-derivative check failed:\n" << gc_.report; \
  } while (0)
