// How the CUDA sums split x's dims (engine/cuda/reduction.cpp), for primitives that must sum in
// sum_to's own order: bias_act's backward, whose bias gradient has sum_to's bits.
#pragma once
#include "engine/core/shape.h"
#include "kernels/reduction.cuh"

namespace gan::cuda {

// The plan sum_to runs for x of shape xs summed to os (x's rank, 1 on every reduced dim).
kernels::ReducePlan sum_to_plan(const Shape& xs, const Shape& os);

}  // namespace gan::cuda
