#include "engine/nn/init.h"

#include <cmath>

#include "engine/backend/dispatch.h"
#include "engine/backend/elementwise.h"

namespace gan::nn::init {

void normal_(Tensor& t, double mean, double std, Generator& gen) {
  GAN_BACKEND(t.device(), random_normal, t, gen.seed(), gen.next_draw(), mean, std);
}

void uniform_(Tensor& t, double lo, double hi, Generator& gen) {
  GAN_BACKEND(t.device(), random_uniform, t, gen.seed(), gen.next_draw(), lo, hi);
}

void constant_(Tensor& t, double value) { t.fill_(value); }

std::pair<int64_t, int64_t> fan_in_out(const Tensor& t) {
  GAN_CHECK(t.dim() >= 2, "fan_in_out: needs a tensor of rank >= 2, got " << t.str());
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

void kaiming_uniform_(Tensor& t, double a, Generator& gen) {
  int64_t fan_in = fan_in_out(t).first;
  GAN_CHECK(fan_in > 0, "kaiming_uniform_: zero fan-in for " << t.str());
  double gain = std::sqrt(2.0 / (1.0 + a * a));
  double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in));
  uniform_(t, -bound, bound, gen);
}

void dcgan_init(Module& m, Generator& gen) {
  m.apply([&](Module& mod) {
    const std::string& name = mod.type_name();
    bool conv = name.find("Conv") != std::string::npos;
    bool bn = name.find("BatchNorm") != std::string::npos;
    if (!conv && !bn) return;
    // Only the module's own tensors: children are visited by apply().
    for (auto& [pname, p] : mod.named_parameters()) {
      if (pname.find('.') != std::string::npos) continue;
      if (pname == "weight") conv ? normal_(p, 0.0, 0.02, gen) : normal_(p, 1.0, 0.02, gen);
      else if (pname == "bias") constant_(p, 0.0);
    }
  });
}

}  // namespace gan::nn::init
