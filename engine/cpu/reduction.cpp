// CPU reductions and data movement. Sums accumulate in double so float32 results do not depend
// on the number of threads in any visible way.
#include "engine/backend/reduction.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/cpu/broadcast.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/reduce_sums.h"

namespace gan::cpu {

void sum_to(const Tensor& x, Tensor& out) {
  GAN_DISPATCH_FLOAT(x.dtype(), "sum", [&] {
    const scalar_t* px = x.data<scalar_t>();
    reduce_sums(x.shape(), out.shape(), out.data<scalar_t>(), [px](int64_t i) { return static_cast<double>(px[i]); });
  });
}

void broadcast_copy(const Tensor& x, Tensor& out) {
  GAN_DISPATCH_FLOAT(x.dtype(), "broadcast_to", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const Shape& os = out.shape();
    auto sx = broadcast_strides(x.shape(), os);
    const int64_t inner = os.empty() ? 1 : os.back();
    const int64_t ix = os.empty() ? 0 : sx.back();
    const int64_t rows = inner ? out.numel() / inner : 0;
    parallel_for(rows, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t off = broadcast_offset(r * inner, os, sx);
        for (int64_t i = 0; i < inner; ++i) po[r * inner + i] = px[off + i * ix];
      }
    }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(inner, 1)));
  });
}

void permute(const Tensor& x, Tensor& out, const std::vector<int64_t>& perm) {
  GAN_DISPATCH_FLOAT(x.dtype(), "permute", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    auto xst = contiguous_strides(x.shape());
    std::vector<int64_t> st(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) st[i] = xst[perm[i]];
    const Shape& os = out.shape();
    parallel_for(out.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        int64_t off = 0, rem = i;
        for (size_t d = os.size(); d-- > 0;) {
          off += (rem % os[d]) * st[d];
          rem /= os[d];
        }
        po[i] = px[off];
      }
    });
  });
}

void slice_copy(const Tensor& src, Tensor& dst, int64_t dim, int64_t src_start, int64_t dst_start, int64_t length) {
  const size_t es = dtype_size(src.dtype());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= src.shape()[d];
  for (int64_t d = dim + 1; d < src.dim(); ++d) inner *= src.shape()[d];
  const int64_t sd = src.shape()[dim], dd = dst.shape()[dim];
  const char* ps = static_cast<const char*>(src.raw_data());
  char* pd = static_cast<char*>(dst.raw_data());
  parallel_for(outer, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      std::memcpy(pd + ((o * dd + dst_start) * inner) * es, ps + ((o * sd + src_start) * inner) * es,
                  static_cast<size_t>(length * inner) * es);
  }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(length * inner, 1)));
}

void per_sample_norm(const Tensor& x, Tensor& out, double eps) {
  GAN_DISPATCH_FLOAT(x.dtype(), "per_sample_norm", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const int64_t n = x.shape()[0], m = n ? x.numel() / n : 0;
    parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t s = b; s < e; ++s) {
        double acc = 0;
        for (int64_t i = 0; i < m; ++i) acc += double(px[s * m + i]) * px[s * m + i];
        po[s] = static_cast<scalar_t>(std::sqrt(acc + eps));
      }
    }, 1);
  });
}

}  // namespace gan::cpu
