// Differentiable element-wise ops. Binary ops broadcast (NumPy rules). Gradients: ops.cpp's
// rules, written in these same ops so that they can be differentiated again.
#pragma once
#include "engine/core/tensor.h"

namespace gan {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);

// Piecewise-constant maps: their gradient is zero almost everywhere, so they are not recorded.
Tensor sign(const Tensor& x);
Tensor leaky_step(const Tensor& x, double slope);       // x > 0 ? 1 : slope
Tensor inside_mask(const Tensor& x, double lo, double hi);  // lo < x < hi ? 1 : 0

// Same-device dtype conversion and broadcasting helpers (both differentiable).
Tensor cast(const Tensor& x, DType dtype);
// x broadcast to `shape` (copy).
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Sums x down to `shape` (the inverse of broadcasting: the gradient of a broadcast input).
Tensor sum_to(const Tensor& x, const Shape& shape);

Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
inline Tensor operator-(double s, const Tensor& a) { return add(neg(a), s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return mul(a, 1.0 / s); }

}  // namespace gan
