// Stride, padding and output padding of a 2-D convolution: what the conv primitives (backend/conv.h)
// and the differentiable ops (ops/conv.h, which re-exports it) both take.
#pragma once
#include <cstdint>

namespace gan {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t out_pad_h = 0, out_pad_w = 0;  // conv_transpose2d only
  static Conv2dParams make(int64_t stride, int64_t pad, int64_t out_pad = 0) {
    return {stride, stride, pad, pad, out_pad, out_pad};
  }
};

}  // namespace gan
