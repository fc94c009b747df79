// Matrix products. For C = op_a(A) op_b(B) with upstream gradient G:
//   d op_a(A) = G op_b(B)^T   and   d op_b(B) = op_a(A)^T G,
// each expressed as one more matmul with transpose flags (no transposed copies).
// Fused backward: none. Every rule here is composite (matmul, sum), hence differentiable again.
#include "engine/ops/linalg.h"

#include "engine/backend/bias_act.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/elementwise.h"
#include "engine/backend/linalg.h"
#include "engine/backend/reduction.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  check_same_device_dtype("matmul", {&a, &b});
  GAN_CHECK(a.dim() == 2 && b.dim() == 2, "matmul: expects 2-D tensors, got " << a.str() << " and " << b.str());
  int64_t m = ta ? a.size(1) : a.size(0), k = ta ? a.size(0) : a.size(1);
  int64_t k2 = tb ? b.size(1) : b.size(0), n = tb ? b.size(0) : b.size(1);
  GAN_CHECK(k == k2, "matmul: inner sizes differ: " << shape_str(a.shape()) << (ta ? "^T" : "") << " @ "
                                                     << shape_str(b.shape()) << (tb ? "^T" : ""));
  Tensor out = Tensor::empty({m, n}, a.dtype(), a.device());
  GAN_BACKEND(a.device(), matmul, a, ta, b, tb, out, 0.0);
  autograd::record("matmul", {a, b}, {&out}, [a, b, ta, tb](FunctionNode& nd, const Grads& g) -> Grads {
    Tensor ga, gb;
    if (nd.needs(0)) ga = ta ? matmul(b, g[0], tb, true) : matmul(g[0], b, false, !tb);
    if (nd.needs(1)) gb = tb ? matmul(g[0], a, true, ta) : matmul(a, g[0], !ta, false);
    return {ga, gb};
  });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  check_same_device_dtype("linear", {&x, &w, &bias});
  GAN_CHECK(x.dim() == 2 && w.dim() == 2 && x.size(1) == w.size(1),
            "linear: input " << x.str() << " does not match weight " << w.str() << " (expects [N, in] and [out, in])");
  GAN_CHECK(!bias.defined() || bias.shape() == Shape{w.size(0)},
            "linear: bias " << bias.str() << " does not match weight " << w.str());
  Tensor out = Tensor::empty({x.size(0), w.size(0)}, x.dtype(), x.device());
  GAN_BACKEND(x.device(), matmul, x, false, w, true, out, 0.0);
  // The bias goes onto the finished product (not in as the GEMM's starting value), so a Linear and
  // the ReLU / LeakyReLU after it fused into bias_act (engine/nn/layers.cpp) give the same bits.
  if (bias.defined()) GAN_BACKEND(x.device(), bias_act_forward, out, bias, kernels::NormAct{}, out);
  autograd::record("linear", {x, w, bias}, {&out}, [x, w](FunctionNode& nd, const Grads& g) -> Grads {
    return {nd.needs(0) ? matmul(g[0], w) : Tensor(), nd.needs(1) ? matmul(g[0], x, true, false) : Tensor(),
            nd.needs(2) ? sum(g[0], {0}) : Tensor()};
  });
  return out;
}

}  // namespace gan
