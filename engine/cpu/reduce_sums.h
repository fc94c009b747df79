// The CPU's sums over dims, written once for every primitive that sums: out[k] = the sum, in
// double, of load(i) over the flat offsets i of x's elements that reduce into output k. Every
// element is loaded exactly once, in an order that depends on the shapes alone (not on the
// number of threads), so two primitives that load the same values give the same bits: sum_to,
// and bias_act_backward, whose load also writes the masked gradient it sums.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/core/shape.h"
#include "engine/cpu/parallel.h"
#include "kernels/bfloat16.h"

namespace gan::cpu {

namespace reduce_detail {

// x's dims with neighbouring dims of the same kind (kept / reduced) merged.
struct Coalesced {
  std::vector<int64_t> extent, stride;
  std::vector<bool> reduced;
};

inline Coalesced coalesce(const Shape& xs, const Shape& os) {
  Coalesced c;
  auto st = contiguous_strides(xs);
  for (size_t d = 0; d < xs.size(); ++d) {
    if (xs[d] == 1) continue;
    bool red = os[d] == 1;
    if (!c.extent.empty() && c.reduced.back() == red && c.stride.back() == st[d] * xs[d]) {
      c.extent.back() *= xs[d];
      c.stride.back() = st[d];
    } else {
      c.extent.push_back(xs[d]);
      c.stride.push_back(st[d]);
      c.reduced.push_back(red);
    }
  }
  return c;
}

// A double sum stored as S: bfloat16 through float, as a float32 sum rounded into bfloat16 is.
template <class S>
S store_sum(double v) {
  if constexpr (std::is_same_v<S, bf16>) return bf16(static_cast<float>(v));
  else return static_cast<S>(v);
}

}  // namespace reduce_detail

// out (os: x's rank, 1 on every reduced dim) = sums of load(i) over x's shape xs.
template <class S, class Load>
void reduce_sums(const Shape& xs, const Shape& os, S* po, Load&& load) {
  using reduce_detail::store_sum;
  const reduce_detail::Coalesced c = reduce_detail::coalesce(xs, os);
  std::vector<int64_t> kext, kstr, rext, rstr;
  for (size_t i = 0; i < c.extent.size(); ++i) {
    (c.reduced[i] ? rext : kext).push_back(c.extent[i]);
    (c.reduced[i] ? rstr : kstr).push_back(c.stride[i]);
  }
  int64_t nout = 1, nred = 1;
  for (int64_t e : os) nout *= e;
  for (int64_t e : rext) nred *= e;
  if (nred == 0) {  // a sum over an empty dim is 0 (and the loops below would divide by it)
    std::fill(po, po + nout, store_sum<S>(0.0));
    return;
  }
  // Sum of the reduced coordinates starting at `base`; the innermost reduced dim is the tight loop.
  auto reduce_from = [&](int64_t base) {
    double acc = 0;
    if (rext.empty()) return load(base);
    const int64_t inner = rext.back(), istr = rstr.back();
    const int64_t outer = nred / inner;
    for (int64_t o = 0; o < outer; ++o) {
      int64_t off = base, rem = o;
      for (size_t d = rext.size() - 1; d-- > 0;) {
        off += (rem % rext[d]) * rstr[d];
        rem /= rext[d];
      }
      for (int64_t i = 0; i < inner; ++i) acc += load(off + i * istr);
    }
    return acc;
  };
  auto base_of = [&](int64_t k) {
    int64_t off = 0;
    for (size_t d = kext.size(); d-- > 0;) {
      off += (k % kext[d]) * kstr[d];
      k /= kext[d];
    }
    return off;
  };
  if (nout == 1 && nred > kParallelGrain) {
    // One output: split the reduction itself across threads (losses, means).
    const int64_t inner = rext.back(), istr = rstr.back(), outer = nred / inner;
    std::vector<double> partial(outer, 0.0);
    parallel_for(outer, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        int64_t off = 0, rem = o;
        for (size_t d = rext.size() - 1; d-- > 0;) {
          off += (rem % rext[d]) * rstr[d];
          rem /= rext[d];
        }
        double acc = 0;
        for (int64_t i = 0; i < inner; ++i) acc += load(off + i * istr);
        partial[o] = acc;
      }
    }, 1);
    double total = 0;
    for (double p : partial) total += p;
    po[0] = store_sum<S>(total);
    return;
  }
  parallel_for(nout, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) po[k] = store_sum<S>(reduce_from(base_of(k)));
  }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(nred, 1)));
}

}  // namespace gan::cpu
