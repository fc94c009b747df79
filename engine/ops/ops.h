// Every differentiable op of the engine, in one include.
#pragma once
#include "engine/autograd/autograd.h"
#include "engine/core/tensor.h"
#include "engine/ops/activation.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/loss.h"
#include "engine/ops/norm.h"
#include "engine/ops/penalty.h"
#include "engine/ops/reduction.h"
#include "engine/ops/shape_ops.h"
#include "engine/rng/generator.h"
