// The activation a fused layer applies to its own output: batch norm + ReLU or LeakyReLU in one
// pass forward and one backward (DCGAN's generator and discriminator chains), and a bias + ReLU or
// LeakyReLU after a matrix product or convolution (bias_act: MLP GANs, SNGAN, CycleGAN critics).
// Plain C++ and CUDA alike: the CPU loops and the CUDA kernels call the same formulas, which are
// the element-wise table's Add, Relu, LeakyRelu and LeakyReluBackward rows (elementwise_ops.h), so
// a fused layer gives the bits of the unfused ops it replaces.
//
// The backward reads the mask from the output y, not from the normalised value z: with a slope
// >= 0, y > 0 exactly where z > 0 (a negative slope is not fused). So a fused layer keeps x (for
// batch norm's gradient) and y (which the next layer keeps anyway), never z.
#pragma once
#include "kernels/bfloat16.h"
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

// The type bias_act computes in: float for bfloat16 storage (kernels/bfloat16.h), T otherwise.
template <class T>
struct NormActCompute {
  using type = T;
};
template <>
struct NormActCompute<bf16> {
  using type = float;
};

// act(x + b) in storage type T, computed as add then the activation are: the sum rounded to T
// (add's own output), then the activation of that value in the compute type C, rounded to T. For
// float and double the roundings are no-ops; for bfloat16 they are the two the unfused ops make.
template <class T, class C>
GAN_HD T bias_act_value(NormActKind kind, C slope, T x, T b) {
  const T z = static_cast<T>(static_cast<C>(x) + static_cast<C>(b));
  return static_cast<T>(norm_act_forward(kind, slope, static_cast<C>(z)));
}

// g carried back through act in storage type T (mask read from the output y), computed in the
// compute type and rounded to T once, as leaky_relu_backward stores it: bias_act's backward.
template <class T>
GAN_HD T norm_act_backward_stored(NormActKind kind, typename NormActCompute<T>::type slope, T g, T y) {
  using C = typename NormActCompute<T>::type;
  return static_cast<T>(norm_act_backward(kind, slope, static_cast<C>(g), static_cast<C>(y)));
}

}  // namespace gan::kernels
