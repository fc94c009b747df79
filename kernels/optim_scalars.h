// The per-step scalars of the optimizer updates, computed on the host. Plain C++ (no CUDA types):
// the engine's optimizers compute them for a recorded step's replays (engine/capture/step_graph.h)
// with the very function the CUDA launcher uses, so both paths give the same bits.
#pragma once
#include <cmath>
#include <cstdint>

namespace gan::kernels {

// The per-step values of Adam's update: lr / (1 - beta1^t) and sqrt(1 - beta2^t), in double. One
// function for both ways a launch gets them (arguments, or device memory in a recorded step).
struct AdamStepScalars {
  double step_size, bias_correction2_sqrt;
};
inline AdamStepScalars adam_step_scalars(double lr, double beta1, double beta2, int64_t step) {
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  return {lr / bc1, std::sqrt(bc2)};
}

}  // namespace gan::kernels
