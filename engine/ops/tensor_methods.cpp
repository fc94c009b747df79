// The members of Tensor that run backend primitives or ops: fills, random draws, dtype casts and
// clone. They are declared with the tensor (engine/core/tensor.h) but defined here, above the
// backend and the ops, so that engine/core depends on nothing above it.
#include "engine/backend/dispatch.h"
#include "engine/backend/elementwise.h"
#include "engine/capture/step_graph.h"
#include "engine/core/tensor.h"
#include "engine/ops/elementwise.h"
#include "engine/rng/generator.h"

namespace gan {

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  GAN_BACKEND(device, fill, t, value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  Tensor t = Tensor::empty({n}, dtype, device);
  GAN_BACKEND(device, arange, t);
  return t;
}

// A step being recorded as a CUDA graph reads the draw number from device memory, and each replay
// reserves the next one from the same generator (engine/capture/step_graph.h).
static const uint64_t* draw_for_replays(Device device, Generator& g, uint64_t draw) {
  if (!step_recording(device)) return nullptr;
  return replay_value<uint64_t>(device, draw, [&g] { return g.next_draw(); });
}

// The tensor is made before a draw is reserved, so a call that throws leaves the generator as it was.
Tensor Tensor::randn(const Shape& shape, Generator* gen, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  Generator& g = gen ? *gen : default_generator(device);
  const uint64_t draw = g.next_draw();
  GAN_BACKEND(device, random_normal, t, g.seed(), draw, 0.0, 1.0, draw_for_replays(device, g, draw));
  return t;
}

Tensor Tensor::rand(const Shape& shape, Generator* gen, double lo, double hi, DType dtype, Device device) {
  GAN_CHECK(lo < hi, "rand: empty range [" << lo << ", " << hi << ")");
  Tensor t = Tensor::empty(shape, dtype, device);
  Generator& g = gen ? *gen : default_generator(device);
  const uint64_t draw = g.next_draw();
  GAN_BACKEND(device, random_uniform, t, g.seed(), draw, lo, hi, draw_for_replays(device, g, draw));
  return t;
}

Tensor Tensor::to(DType dtype) const { return dtype == this->dtype() ? *this : cast(*this, dtype); }

Tensor Tensor::clone() const { return mul(*this, 1.0); }

Tensor& Tensor::copy_(const Tensor& src) {
  GAN_CHECK(src.numel() == numel(), "copy_: source " << src.str() << " into " << str() << ": element counts differ");
  if (src.dtype() == dtype()) {
    if (src.raw_data() == raw_data() && src.device() == device()) return *this;  // a view of itself
    copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
  } else {
    Tensor same_dtype = src.detach().to(device());
    GAN_BACKEND(device(), cast_copy, same_dtype, *this);
  }
  return *this;
}

Tensor& Tensor::fill_(double value) {
  GAN_BACKEND(device(), fill, *this, value);
  return *this;
}

}  // namespace gan
