// A whole GAN in one page: a generator learns to produce numbers distributed like a mixture of
// two Gaussians, N(-2, 0.5^2) and N(+2, 0.5^2) with equal weight, while a discriminator learns to
// tell its numbers from real ones. It uses only the engine's public API: tensors and ops
// (engine/ops/ops.h), layers (engine/nn) and Adam (engine/optim). The image GANs in models/ run
// exactly this loop (models/trainer.cpp), with convolutions instead of three Linear layers;
// docs/backprop.md follows one step of it down to every gradient.
//
//   toy_gan_1d [steps]      prints a histogram of real vs generated samples and exits non-zero
//                           when the generated mean, spread and mode balance miss the target's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/layers.h"
#include "engine/ops/ops.h"
#include "engine/optim/optimizer.h"

using namespace gan;

constexpr double kModeOffset = 2.0, kModeStd = 0.5;
constexpr int64_t kNoise = 4, kHidden = 32, kBatch = 256;

// Real data: pick a mode with a fair coin (sign of u - 1/2), add Gaussian noise around it.
// Tensors are [batch, 1]: one feature per sample, as Linear expects [N, features].
Tensor real_batch(int64_t n, Generator& gen) {
  Tensor coin = sign(Tensor::rand({n, 1}, &gen) - 0.5);  // -1 or +1
  return coin * kModeOffset + Tensor::randn({n, 1}, &gen) * kModeStd;
}

// A three-layer perceptron. LeakyReLU keeps a gradient for negative inputs, which matters for a
// discriminator: a dead unit would stop telling the generator anything.
std::shared_ptr<nn::Sequential> mlp(int64_t in, int64_t out, Generator& init) {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Linear>(in, kHidden, true, &init));
  net->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  net->push_back(std::make_shared<nn::Linear>(kHidden, kHidden, true, &init));
  net->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  net->push_back(std::make_shared<nn::Linear>(kHidden, out, true, &init));
  return net;
}

struct Stats {
  double mean = 0, std = 0, right = 0;  // right: fraction of samples above 0 (the + mode)
};
Stats stats_of(const Tensor& x) {
  std::vector<double> v = x.to_double_vector();
  Stats s;
  for (double e : v) s.mean += e, s.right += e > 0;
  s.mean /= static_cast<double>(v.size());
  s.right /= static_cast<double>(v.size());
  for (double e : v) s.std += (e - s.mean) * (e - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size()));
  return s;
}

// Two rows of '#' per bin, real above generated, so the reader can see both modes form.
void print_histogram(const Tensor& real, const Tensor& fake) {
  const double lo = -4, hi = 4;
  const int bins = 16;
  for (const auto& [name, t] : {std::pair<const char*, Tensor>{"real", real}, {"fake", fake}}) {
    std::vector<int> count(bins, 0);
    std::vector<double> v = t.to_double_vector();
    for (double e : v)
      if (e >= lo && e < hi) count[static_cast<int>((e - lo) / (hi - lo) * bins)]++;
    std::printf("%s |", name);
    for (int c : count) std::printf("%c", " .:-=+*#%@"[std::min<int>(9, c * 60 / static_cast<int>(v.size()))]);
    std::printf("|  [%g, %g)\n", lo, hi);
  }
}

int main(int argc, char** argv) {
  const int64_t steps = argc > 1 ? std::atoll(argv[1]) : 1500;
  Generator gen(1234);  // one seed: weights, data and noise, so every run is the same run

  auto G = mlp(kNoise, 1, gen);  // z [N, 4] -> x [N, 1]
  auto D = mlp(1, 1, gen);       // x [N, 1] -> logit [N, 1]: no sigmoid, the loss applies it
  // Adam with beta1 = 0.5, the DCGAN setting: a shorter momentum memory copes better with the
  // moving target each network is to the other.
  optim::AdamOptions adam;
  adam.lr = 1e-3;
  adam.beta1 = 0.5;
  optim::Adam opt_g(G->named_parameters(), adam);
  optim::Adam opt_d(D->named_parameters(), adam);

  for (int64_t step = 1; step <= steps; ++step) {
    Tensor real = real_batch(kBatch, gen);
    Tensor z = Tensor::randn({kBatch, kNoise}, &gen);
    Tensor fake = G->forward(z);  // recorded in the graph: the generator step reuses it

    // --- Discriminator step: push D(real) up and D(fake) down. ---
    // fake.detach() cuts the graph: this loss must not send gradients into G's weights.
    // bce_with_logits(l, t) = mean of -[t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))].
    Tensor loss_d = bce_with_logits(D->forward(real), 1.0) + bce_with_logits(D->forward(fake.detach()), 0.0);
    opt_d.zero_grad();  // gradients accumulate (+=), so clear last step's first
    loss_d.backward();  // D's weights receive the sum of the real and the fake pass's gradients
    opt_d.step();

    // --- Generator step: make D call the fakes real. ---
    // The non-saturating loss -log sigmoid(D(G(z))) (target 1) rather than log(1 - sigmoid(...)):
    // it gives G strong gradients exactly when D confidently rejects its samples (early on).
    // D's weights are frozen so this backward does not compute gradients that would be discarded.
    D->set_requires_grad(false);
    Tensor loss_g = bce_with_logits(D->forward(fake), 1.0);
    opt_g.zero_grad();
    loss_g.backward();  // flows through D (fixed) into G's weights
    D->set_requires_grad(true);
    opt_g.step();

    if (step % 300 == 0 || step == steps)
      std::printf("step %4lld  loss_d %.4f  loss_g %.4f\n", static_cast<long long>(step), loss_d.item(),
                  loss_g.item());
  }

  // Evaluate without recording a graph: nothing here will be differentiated.
  NoGradGuard no_grad;
  Tensor real = real_batch(8192, gen);
  Tensor fake = G->forward(Tensor::randn({8192, kNoise}, &gen));
  print_histogram(real, fake);
  Stats r = stats_of(real), f = stats_of(fake);
  std::printf("real: mean %+.3f std %.3f right-mode %.2f\n", r.mean, r.std, r.right);
  std::printf("fake: mean %+.3f std %.3f right-mode %.2f\n", f.mean, f.std, f.right);
  // The target's std is sqrt(2^2 + 0.5^2) = 2.06; a generator stuck on one mode has std ~0.5 and
  // puts all samples on one side, so these checks fail on mode collapse.
  bool ok = std::abs(f.mean - r.mean) < 0.35 && std::abs(f.std - r.std) < 0.35 && f.right > 0.3 && f.right < 0.7;
  std::printf("%s\n", ok ? "OK: the generator matches the mixture" : "FAILED: the generator misses the mixture");
  return ok ? 0 : 1;
}
