#include "models/eval/diagnostics.h"

#include <algorithm>
#include <cmath>

#include "engine/ops/ops.h"

namespace gan::models::eval {

Tensor input_gradient(const TensorFn& critic, const Tensor& x, int64_t separate_rows) {
  GAN_CHECK(separate_rows >= 0 && separate_rows <= x.size(0),
            "input_gradient: " << separate_rows << " separate rows of a batch of " << x.size(0));
  GradModeGuard on(true);
  Tensor in = x.detach().clone();
  in.requires_grad_(true);
  Tensor out = critic(in);
  GAN_CHECK(out.defined() && out.numel() == x.size(0),
            "input_gradient: the critic gave " << (out.defined() ? out.str() : "nothing") << " for " << x.str()
                                               << " (one value per image expected)");
  if (separate_rows == 0) return grad({sum(out)}, {in}).at(0).detach();
  std::vector<Tensor> rows;
  for (int64_t n = 0; n < separate_rows; ++n) {
    std::vector<double> pick(static_cast<size_t>(out.numel()), 0.0);
    pick[static_cast<size_t>(n)] = 1.0;
    Tensor go = Tensor::from_vector(pick, out.shape(), out.device()).to(out.dtype());
    rows.push_back(slice(grad({out}, {in}, {go}).at(0).detach(), 0, n, n + 1));
  }
  return cat(rows, 0);
}

Tensor saliency_maps(const Tensor& g) {
  GAN_CHECK(g.dim() == 4, "saliency_maps: expected a gradient [N, C, H, W], got " << g.str());
  const int64_t n = g.size(0), c = g.size(1), hw = g.size(2) * g.size(3);
  const std::vector<double> v = g.to_double_vector();
  std::vector<double> m(static_cast<size_t>(n * hw), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t p = 0; p < hw; ++p) {
        double& d = m[static_cast<size_t>(i * hw + p)];
        d = std::max(d, std::abs(v[static_cast<size_t>((i * c + k) * hw + p)]));
      }
  return Tensor::from_vector(m, {n, g.size(2), g.size(3)});
}

std::vector<double> latent_sensitivity(const TensorFn& generator, const Tensor& z, double eps, int64_t batch) {
  return latent_sensitivity([&](const Tensor& l, const std::vector<int64_t>&) { return generator(l); }, z, eps, batch);
}

std::vector<double> latent_sensitivity(const LatentFn& generator, const Tensor& z, double eps, int64_t batch) {
  GAN_CHECK(z.dim() == 2 || (z.dim() == 4 && z.size(2) == 1 && z.size(3) == 1),
            "latent_sensitivity: latents " << z.str() << " should be [N, nz] or [N, nz, 1, 1]");
  GAN_CHECK(eps > 0, "latent_sensitivity: eps must be positive, got " << eps);
  NoGradGuard no_grad;
  const int64_t n = z.size(0), nz = z.size(1);
  const Shape shape = z.shape();
  Tensor flat = z.reshape({n, nz}).to(Device::cpu()).to(DType::Float32);
  const std::vector<float> base = flat.to_float_vector();
  // Every (dimension, sign, sample) as one row of a big latent batch, run `batch` rows at a time.
  std::vector<double> sums(static_cast<size_t>(nz), 0.0);
  const int64_t rows = nz * n;  // pairs
  const int64_t per = std::max<int64_t>(1, batch / 2);
  for (int64_t start = 0; start < rows; start += per) {
    const int64_t count = std::min(per, rows - start);
    std::vector<float> plus, minus;
    std::vector<int64_t> samples;
    plus.reserve(static_cast<size_t>(count * nz));
    minus.reserve(static_cast<size_t>(count * nz));
    for (int64_t r = start; r < start + count; ++r) {
      const int64_t dim = r / n, sample = r % n;
      samples.push_back(sample);
      for (int64_t k = 0; k < nz; ++k) {
        const float v = base[static_cast<size_t>(sample * nz + k)];
        plus.push_back(k == dim ? v + static_cast<float>(eps) : v);
        minus.push_back(k == dim ? v - static_cast<float>(eps) : v);
      }
    }
    Shape s = shape;
    s[0] = count;
    Tensor zp = Tensor::from_vector(plus, s, z.device()), zm = Tensor::from_vector(minus, s, z.device());
    Tensor diff = sub(generator(zp, samples), generator(zm, samples));
    const std::vector<double> norms = per_sample_norm(diff.reshape({count, -1})).to_double_vector();
    for (int64_t r = 0; r < count; ++r) sums[static_cast<size_t>((start + r) / n)] += norms[static_cast<size_t>(r)];
  }
  for (double& s : sums) s /= 2 * eps * static_cast<double>(n);
  return sums;
}

Tensor critic_features(nn::Module& critic, const Tensor& x, const TensorFn& forward, int64_t batch) {
  NoGradGuard no_grad;
  std::vector<std::pair<nn::Module*, bool>> leaves;  // a leaf layer and whether it has weights
  for (auto& [path, m] : critic.named_modules())
    if (m->children().empty()) leaves.emplace_back(m, !m->named_parameters().empty());
  GAN_CHECK(leaves.size() >= 2, "critic_features: the critic has " << leaves.size() << " layer(s); needs two or more");
  // Outputs in the order the layers ran (a layer may run more than once).
  std::vector<std::pair<bool, Tensor>> seen;
  struct Untap {
    std::vector<std::pair<nn::Module*, bool>>& l;
    ~Untap() {
      for (auto& [m, w] : l) m->set_forward_hook(nullptr);
    }
  } untap{leaves};
  for (auto& [m, weighted] : leaves) {
    const bool w = weighted;
    m->set_forward_hook([&seen, w](const Tensor& out) { seen.emplace_back(w, out); });
  }
  std::vector<Tensor> parts;
  for (int64_t s = 0; s < x.size(0); s += batch) {
    seen.clear();
    Tensor xb = slice(x, 0, s, std::min(x.size(0), s + batch));
    if (forward) forward(xb);
    else critic(xb);
    int64_t last = -1;
    for (int64_t i = static_cast<int64_t>(seen.size()) - 1; i >= 0; --i)
      if (seen[static_cast<size_t>(i)].first) {
        last = i;
        break;
      }
    GAN_CHECK(last >= 1, "critic_features: no layer ran before the critic's last layer with weights");
    const Tensor& f = seen[static_cast<size_t>(last - 1)].second;
    GAN_CHECK(f.size(0) == xb.size(0), "critic_features: the penultimate output " << f.str() << " is not one row per image");
    parts.push_back(f.reshape({xb.size(0), -1}).to(Device::cpu()).to(DType::Float64));
  }
  return cat(parts, 0);
}

}  // namespace gan::models::eval
