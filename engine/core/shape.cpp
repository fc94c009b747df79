#include "engine/core/shape.h"

#include <algorithm>

#include "engine/core/error.h"

namespace gan {

bool numel_fits(const Shape& s, int64_t& n) {
  n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements) return false;
  return true;
}

int64_t numel_of(const Shape& s) {
  // Extents come from flags and file headers: a product that wraps would allocate a small buffer
  // and be indexed as a large one, so overflow is an error here, where every size is computed.
  int64_t n;
  GAN_CHECK(numel_fits(s, n),
            "shape " << shape_str(s) << ": more than 2^60 elements (an extent from a flag or file header too large?)");
  return n;
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

int64_t wrap_dim(int64_t d, int64_t ndim, const char* op) {
  GAN_CHECK(d >= -ndim && d < ndim, op << ": dimension " << d << " out of range for a tensor of rank " << ndim);
  return d < 0 ? d + ndim : d;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    GAN_CHECK(da == db || da == 1 || db == 1,
              op << ": shapes " << shape_str(a) << " and " << shape_str(b) << " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool broadcasts_to(const Shape& in, const Shape& out) {
  if (in.size() > out.size()) return false;
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != 1 && in[i] != out[off + i]) return false;
  return true;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  auto cs = contiguous_strides(in);
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[off + i] = in[i] == 1 ? 0 : cs[i];
  return st;
}

bool broadcast_run(const Shape& in, const Shape& out, int64_t& inner, int64_t& mid) {
  if (in.size() > out.size()) return false;
  const size_t off = out.size() - in.size();
  size_t lo = out.size(), hi = 0;  // the block [lo, hi) of out's dims where `in` is not 1
  for (size_t d = 0; d < in.size(); ++d)
    if (in[d] != 1) {
      if (lo == out.size()) lo = off + d;
      hi = off + d + 1;
    }
  if (lo >= hi) return false;
  int64_t m = 1, k = 1;
  for (size_t d = lo; d < hi; ++d) {
    if (in[d - off] != out[d]) return false;  // a broadcast dim inside the block
    m *= out[d];
  }
  for (size_t d = hi; d < out.size(); ++d) k *= out[d];
  inner = k;
  mid = m;
  return true;
}

}  // namespace gan
