// CPU embedding gather, scatter-add and one-hot. Rows are copied whole; the scatter-add splits the
// columns among threads and walks the ids in order within each, so its sums do not depend on the
// thread count.
#include "engine/backend/embedding.h"

#include <algorithm>
#include <cstring>

#include "engine/cpu/parallel.h"
#include "kernels/class_ids.h"

namespace gan::cpu {

namespace {

// Calls f.template operator()<T, I>() with T = the data dtype, I = the ids' dtype.
template <class F>
void dispatch2(DType data, DType ids, const char* op, F&& f) {
  GAN_DISPATCH_FLOAT(data, op, [&] {
    using T = scalar_t;
    GAN_DISPATCH_FLOAT(ids, op, [&] { f(T{}, scalar_t{}); });
  });
}

}  // namespace

void embedding_gather(const Tensor& weight, const Tensor& indices, Tensor& out) {
  dispatch2(weight.dtype(), indices.dtype(), "embedding", [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    const T* pw = weight.data<T>();
    const I* pi = indices.data<I>();
    T* po = out.data<T>();
    const int64_t n = indices.numel(), k = weight.shape()[0], e = weight.shape()[1];
    parallel_for(n, [&](int64_t b, int64_t en) {
      for (int64_t row = b; row < en; ++row) {
        const int64_t r = hd::class_id(pi[row], k);
        if (r >= 0)
          std::memcpy(po + row * e, pw + r * e, static_cast<size_t>(e) * sizeof(T));
        else
          std::fill(po + row * e, po + (row + 1) * e, hd::quiet_nan<T>());
      }
    }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(e, 1)));
  });
}

void embedding_scatter_add(const Tensor& grad, const Tensor& indices, Tensor& out) {
  dispatch2(grad.dtype(), indices.dtype(), "embedding_backward", [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    const T* pg = grad.data<T>();
    const I* pi = indices.data<I>();
    T* po = out.data<T>();
    const int64_t n = indices.numel(), k = out.shape()[0], e = out.shape()[1];
    std::fill(po, po + k * e, T(0));
    if (k == 0) return;
    // Each thread owns a range of columns and adds the rows in index order.
    parallel_for(e, [&](int64_t c0, int64_t c1) {
      for (int64_t row = 0; row < n; ++row) {
        int64_t r = hd::class_id(pi[row], k);
        if (r >= 0) {
          const T* src = pg + row * e;
          T* dst = po + r * e;
          for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
        } else {
          T* dst = po + hd::class_id_clamped(pi[row], k) * e;
          for (int64_t c = c0; c < c1; ++c) dst[c] = hd::quiet_nan<T>();
        }
      }
    }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)));
  });
}

void one_hot(const Tensor& indices, Tensor& out) {
  dispatch2(out.dtype(), indices.dtype(), "one_hot", [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    const I* pi = indices.data<I>();
    T* po = out.data<T>();
    const int64_t n = indices.numel(), c = out.shape()[1];
    parallel_for(n, [&](int64_t b, int64_t en) {
      for (int64_t row = b; row < en; ++row) {
        const int64_t r = hd::class_id(pi[row], c);
        std::fill(po + row * c, po + (row + 1) * c, r >= 0 ? T(0) : hd::quiet_nan<T>());
        if (r >= 0) po[row * c + r] = T(1);
      }
    }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(c, 1)));
  });
}

}  // namespace gan::cpu
