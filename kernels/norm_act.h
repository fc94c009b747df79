// The activation a batch-norm primitive may apply to its own output: batch norm + ReLU or
// LeakyReLU in one pass forward and one backward (DCGAN's generator and discriminator chains).
// Plain C++ and CUDA alike: the CPU loops and the CUDA kernels call the same two formulas, which
// are the element-wise table's Relu, LeakyRelu and LeakyReluBackward rows (elementwise_ops.h), so
// a fused layer gives the bits of batch_norm followed by relu / leaky_relu.
//
// The backward reads the mask from the output y, not from the normalised value z: with a slope
// >= 0, y > 0 exactly where z > 0 (a negative slope is not fused). So a fused layer keeps x (for
// batch norm's gradient) and y (which the next layer keeps anyway), never z.
#pragma once
#include "kernels/host_device.h"

namespace gan::kernels {

enum class NormActKind : int { None, Relu, LeakyRelu };

struct NormAct {
  NormActKind kind = NormActKind::None;
  double slope = 0;  // LeakyRelu's negative slope, >= 0; 0 for Relu
};

// y = act(z), as relu(z) = z < 0 ? 0 : z and leaky_relu(z) = z > 0 ? z : slope z.
template <class T>
GAN_HD T norm_act_forward(NormActKind kind, T slope, T z) {
  if (kind == NormActKind::Relu) return z < T(0) ? T(0) : z;
  if (kind == NormActKind::LeakyRelu) return z > T(0) ? z : slope * z;
  return z;
}

// The upstream gradient g of y = act(z) carried back to z, given y: as leaky_relu_backward(g, z,
// slope), relu's with slope 0.
template <class T>
GAN_HD T norm_act_backward(NormActKind kind, T slope, T g, T y) {
  if (kind == NormActKind::None) return g;
  return y > T(0) ? g : slope * g;
}

}  // namespace gan::kernels
