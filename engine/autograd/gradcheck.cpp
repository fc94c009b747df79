#include "engine/autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "engine/ops/ops.h"

namespace gan {

namespace {

// L = <f(inputs), v>, a scalar.
Tensor project(const Tensor& y, const Tensor& v) { return sum(mul(y, v)); }

GradcheckResult compare(const TensorFn& scalar_fn, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  GradcheckResult res;
  std::vector<Tensor> wrt;
  std::vector<size_t> idx;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) {
      GAN_CHECK(inputs[i].dtype() == DType::Float64 && inputs[i].device().is_cpu(),
                "gradcheck: input " << i << " is " << inputs[i].str() << "; use float64 CPU tensors");
      wrt.push_back(inputs[i]);
      idx.push_back(i);
    }
  GAN_CHECK(!wrt.empty(), "gradcheck: no input requires grad");
  Tensor L = scalar_fn(inputs);
  // A function whose gradient is constant has no graph left at second order: its derivative is 0.
  std::vector<Tensor> analytic =
      L.requires_grad() ? grad({L}, wrt, {}, false, /*allow_unused=*/true) : std::vector<Tensor>(wrt.size());
  std::ostringstream rep;
  int shown = 0;
  for (size_t k = 0; k < wrt.size(); ++k) {
    Tensor x = wrt[k];
    double* p = x.data<double>();
    std::vector<double> an = analytic[k].defined() ? analytic[k].to_double_vector() : std::vector<double>(x.numel(), 0.0);
    for (int64_t e = 0; e < x.numel(); ++e) {
      double orig = p[e];
      double lp, lm;
      {
        NoGradGuard ng;
        p[e] = orig + opt.eps;
        lp = scalar_fn(inputs).item();
        p[e] = orig - opt.eps;
        lm = scalar_fn(inputs).item();
        p[e] = orig;
      }
      double num = (lp - lm) / (2 * opt.eps);
      double err = std::abs(num - an[e]);
      res.max_abs_error = std::max(res.max_abs_error, err);
      if (err > opt.atol + opt.rtol * std::abs(num)) {
        res.ok = false;
        if (shown++ < 8)
          rep << "input " << idx[k] << " element " << e << ": analytic " << an[e] << ", numeric " << num << "\n";
      }
    }
  }
  res.report = rep.str();
  return res;
}

Tensor random_like(const Tensor& y, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(y.shape(), &g, y.dtype(), y.device());
}

}  // namespace

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opt) {
  Tensor v;
  auto L = [&](const std::vector<Tensor>& in) {
    Tensor y = f(in);
    if (!v.defined()) v = random_like(y, opt.seed);
    return project(y, v);
  };
  return compare(L, inputs, opt);
}

GradcheckResult gradgradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opt) {
  Tensor v;
  std::vector<Tensor> u;
  auto G = [&](const std::vector<Tensor>& in) {
    std::vector<Tensor> wrt;
    for (const auto& t : in)
      if (t.defined() && t.requires_grad()) wrt.push_back(t);
    GradModeGuard on(true);  // the finite-difference probes run under no-grad; G needs a graph
    Tensor y = f(in);
    if (!v.defined()) v = random_like(y, opt.seed);
    Tensor L = project(y, v);
    std::vector<Tensor> g = grad({L}, wrt, {}, /*create_graph=*/true, /*allow_unused=*/true);
    if (u.empty())
      for (size_t i = 0; i < wrt.size(); ++i) u.push_back(random_like(wrt[i], opt.seed + 1 + i));
    Tensor total = Tensor::scalar(0.0, DType::Float64);
    for (size_t i = 0; i < g.size(); ++i)
      if (g[i].defined()) total = add(total, sum(mul(g[i], u[i])));
    return total;
  };
  return compare(G, inputs, opt);
}

}  // namespace gan
