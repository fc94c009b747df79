// Finite-difference checks of autograd, for any op, in one line:
//
//   auto r = gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]); }, {x});
//   EXPECT_TRUE(r.ok) << r.report;
//
// gradcheck compares the analytic vector-Jacobian product with central differences of
// L(inputs) = <f(inputs), v> for a fixed random v. gradgradcheck does the same for the function
// G(inputs) = sum_i <dL/d input_i, u_i> (built with create_graph), which checks the second
// derivative against finite differences of the first. Inputs should be float64 CPU tensors.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace gan {

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string report;  // the worst mismatches, when not ok
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
  uint64_t seed = 1234;
};

// Inputs that do not require grad are held constant.
GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opt = {});
GradcheckResult gradgradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opt = {});

}  // namespace gan
