// The 4x4 stride-2 convolutions (every down- and upsampling layer of DCGAN, and the PatchGAN
// discriminators) with 56% of im2col's multiplications: a polyphase split into four 2x2 stride-1
// convolutions, each computed by Winograd's F(2x2, 2x2). engine/cpu/conv.cpp calls these when
// applies() holds; the algebra is in conv_winograd.cpp.
//
// Shapes are conv2d's view (engine/backend/conv.h): x[N, Ci, H, W], w[Co, Ci, 4, 4],
// y[N, Co, Ho, Wo], stride 2, padding (ph, pw), any H, W, Ho, Wo the caller's shapes give.
#pragma once

#include <cstdint>
#include <string>

namespace gan::cpu::winograd {

struct Shape {
  int64_t N, Ci, H, W, Co, Ho, Wo, ph, pw;
};

// 4x4 kernels at stride 2 with enough channels for the products to outweigh the transforms
// (GAN_CONV unset or auto); GAN_CONV=winograd takes every 4x4 stride-2 layer this way,
// GAN_CONV=im2col none. Read at each call, so a test can switch it.
bool applies(int64_t Ci, int64_t Co, int64_t kH, int64_t kW, int64_t sh, int64_t sw, int64_t Ho, int64_t Wo);

// "" when GAN_CONV is unset, empty or one of auto, winograd, im2col; otherwise the error that names
// it, its value and what was expected (gan and the benchmarks stop with it before any work).
std::string conv_setting_error();

// What runs the 4x4 stride-2 convolutions under the current GAN_CONV, for `gan train`'s cpu: line.
std::string describe();

// y = conv2d(x, w)
template <class T>
void forward(const T* x, const T* w, T* y, const Shape& s);
// dx = conv2d's input gradient of dy (also conv_transpose2d's forward, dy its input), overwritten
template <class T>
void backward_data(const T* dy, const T* w, T* dx, const Shape& s);
// dw = conv2d's weight gradient, overwritten
template <class T>
void backward_weight(const T* x, const T* dy, T* dw, const Shape& s);

}  // namespace gan::cpu::winograd
