// Independent references for the op tests: naive loops over plain vectors of doubles, random
// shapes, tolerance checks that know the dtype, and error-message checks.
//
// Nothing here calls an engine op to compute an expected value: inputs come from the engine's
// generator (tested on its own in test_rng.cpp) and are read back with to_double_vector().
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <initializer_list>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/autograd/node.h"
#include "tests/test_helpers.h"

namespace gan::test {

inline const std::vector<DType>& both_dtypes() {
  static const std::vector<DType> d = {DType::Float32, DType::Float64};
  return d;
}

// Uniform [lo, hi) values in `dtype` (not requiring grad).
inline Tensor uniform(const Shape& s, DType dtype, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Generator g(seed);
  return Tensor::rand(s, &g, lo, hi, dtype);
}

// Uniform values kept at least `gap` away from every point in `kinks` (resampled where too close),
// so finite differences never straddle a kink of a piecewise op.
inline Tensor uniform_away_from(const Shape& s, uint64_t seed, double lo, double hi, std::vector<double> kinks,
                                double gap = 1e-2) {
  std::mt19937_64 r(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(numel_of(s)));
  for (double& x : v) {
    bool ok;
    do {
      x = u(r);
      ok = true;
      for (double k : kinks) ok = ok && std::abs(x - k) > gap;
    } while (!ok);
  }
  return Tensor::from_vector(v, s);
}

// A shape of rank `rank` with extents in [lo, hi], odd sizes included (deterministic per seed).
inline Shape random_shape(std::mt19937_64& r, int rank, int64_t lo = 1, int64_t hi = 7) {
  std::uniform_int_distribution<int64_t> d(lo, hi);
  Shape s(static_cast<size_t>(rank));
  for (auto& e : s) e = d(r);
  return s;
}

// Row-major multi-index of `linear` in `shape`.
inline std::vector<int64_t> unravel(int64_t linear, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = linear % shape[d];
    linear /= shape[d];
  }
  return idx;
}

inline int64_t ravel(const std::vector<int64_t>& idx, const Shape& shape) {
  int64_t off = 0;
  for (size_t d = 0; d < shape.size(); ++d) off = off * shape[d] + idx[d];
  return off;
}

// NumPy broadcasting of two shapes, written independently of the engine's.
inline Shape ref_broadcast_shape(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i + a.size() >= n ? a[i + a.size() - n] : 1;
    int64_t db = i + b.size() >= n ? b[i + b.size() - n] : 1;
    out[i] = std::max(da, db);
  }
  return out;
}

// Element of an input of shape `in` that feeds output index `oidx` under broadcasting.
inline int64_t broadcast_source(const std::vector<int64_t>& oidx, const Shape& in) {
  size_t lead = oidx.size() - in.size();
  std::vector<int64_t> idx(in.size());
  for (size_t d = 0; d < in.size(); ++d) idx[d] = in[d] == 1 ? 0 : oidx[lead + d];
  return ravel(idx, in);
}

inline std::vector<double> ref_binary(const std::vector<double>& a, const Shape& sa, const std::vector<double>& b,
                                      const Shape& sb, const std::function<double(double, double)>& f) {
  Shape so = ref_broadcast_shape(sa, sb);
  std::vector<double> out(static_cast<size_t>(numel_of(so)));
  for (int64_t i = 0; i < static_cast<int64_t>(out.size()); ++i) {
    auto oi = unravel(i, so);
    out[i] = f(a[broadcast_source(oi, sa)], b[broadcast_source(oi, sb)]);
  }
  return out;
}

inline std::vector<double> ref_unary(const std::vector<double>& a, const std::function<double(double)>& f) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = f(a[i]);
  return out;
}

// Per-dtype tolerances for an element-wise result against a double reference computed from the
// same (already rounded) inputs: a few ulps of the output type.
inline double default_rtol(DType t) { return t == DType::Float32 ? 1e-5 : 1e-12; }
inline double default_atol(DType t) { return t == DType::Float32 ? 1e-6 : 1e-12; }

inline void expect_matches(const Tensor& got, const std::vector<double>& ref, double rtol, double atol,
                           const std::string& what = "") {
  auto v = got.to_double_vector();
  ASSERT_EQ(v.size(), ref.size()) << what;
  int shown = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    bool ok = (std::isnan(ref[i]) && std::isnan(v[i])) || std::abs(v[i] - ref[i]) <= atol + rtol * std::abs(ref[i]);
    if (!ok && shown++ < 5) ADD_FAILURE() << what << " element " << i << ": got " << v[i] << ", expected " << ref[i];
  }
}

inline void expect_matches(const Tensor& got, const std::vector<double>& ref, const std::string& what = "") {
  expect_matches(got, ref, default_rtol(got.dtype()), default_atol(got.dtype()), what);
}

// Asserts that `f` throws gan::Error whose message contains every one of `parts`.
inline void expect_error_naming(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected a gan::Error";
  } catch (const Error& e) {
    std::string m = e.what();
    for (const auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << "message \"" << m << "\" lacks \"" << p << "\"";
  }
}

inline std::vector<Tensor> inputs(std::initializer_list<Tensor> ts) { return std::vector<Tensor>(ts); }

// The names of the autograd nodes `t`'s history reaches (each node once), to check which ops a
// backward recorded: a fused rule shows its own node, a composite one shows mul, sub, ...
inline std::multiset<std::string> recorded_ops(const Tensor& t) {
  std::multiset<std::string> names;
  std::set<const autograd::Node*> seen;
  std::vector<const autograd::Node*> todo;
  if (t.grad_fn()) todo.push_back(t.grad_fn().get());
  while (!todo.empty()) {
    const autograd::Node* n = todo.back();
    todo.pop_back();
    if (!seen.insert(n).second) continue;
    names.insert(n->name);
    for (const auto& e : n->next)
      if (e.fn) todo.push_back(e.fn.get());
  }
  return names;
}

}  // namespace gan::test
