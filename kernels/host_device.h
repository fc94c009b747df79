// Code that compiles as plain C++ and as CUDA device code: the GAN_HD qualifier and the math
// functions the shared formulas call (element-wise op table, BCE, index arithmetic, Philox).
//
// The math wrappers pick the float or the double library function explicitly, so a float formula
// never silently runs in double on the device (expf, not exp), and on the host they are the same
// calls std::exp / std::log ... make. min and max are written as std::min / std::max are
// ((b < a) ? b : a), so a NaN in the first argument passes through on every backend alike.
#pragma once
#include <cmath>

#if defined(__CUDACC__)
#define GAN_HD __host__ __device__ __forceinline__
#else
#define GAN_HD inline
#endif

namespace gan::hd {

GAN_HD float exp(float v) { return ::expf(v); }
GAN_HD double exp(double v) { return ::exp(v); }
GAN_HD float log(float v) { return ::logf(v); }
GAN_HD double log(double v) { return ::log(v); }
GAN_HD float log1p(float v) { return ::log1pf(v); }
GAN_HD double log1p(double v) { return ::log1p(v); }
GAN_HD float sqrt(float v) { return ::sqrtf(v); }
GAN_HD double sqrt(double v) { return ::sqrt(v); }
GAN_HD float tanh(float v) { return ::tanhf(v); }
GAN_HD double tanh(double v) { return ::tanh(v); }
GAN_HD float pow(float v, float p) { return ::powf(v, p); }
GAN_HD double pow(double v, double p) { return ::pow(v, p); }
GAN_HD float abs(float v) { return ::fabsf(v); }
GAN_HD double abs(double v) { return ::fabs(v); }

template <class T> GAN_HD T min(T a, T b) { return b < a ? b : a; }
template <class T> GAN_HD T max(T a, T b) { return a < b ? b : a; }

}  // namespace gan::hd
