// Fused optimizer updates over a model's whole parameter list (one multi-tensor launch on CUDA):
// Adam, SGD with momentum, RMSProp, and WGAN weight clipping, over the parameters of the DCGAN-64
// generator and discriminator, the MLP GAN generator, and 64 tensors of 2^20 that fill the GPU.
// Pure bandwidth: Adam reads p, g, m, v and writes p, m, v (28 bytes per parameter).
#include "bench/bench_common.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/optim.h"
#include "models/model.h"

using namespace gan;
using namespace gan::bench;

namespace {

enum class Opt { Adam, Sgd, Rmsprop, Clamp };

const char* opt_name(Opt o) {
  static const char* names[] = {"adam", "sgd_momentum", "rmsprop", "clamp"};
  return names[static_cast<int>(o)];
}

// Bytes moved per parameter: tensors read + tensors written, 4 bytes each. Adam: p g m v in, p m v
// out; SGD: p g buf in, p buf out; RMSProp (no momentum): p g sq in, p sq out; clamp: p in and out.
double bytes_per_param(Opt o) {
  static const double tensors[] = {7, 5, 5, 2};
  return 4.0 * tensors[static_cast<int>(o)];
}

struct ParamSet {
  std::string name;
  std::vector<Shape> shapes;
  bool large;
};

std::vector<ParamSet> param_sets() {
  auto shapes = [](const std::string& name, const nn::Module& net) {
    ParamSet p{name, {}, false};
    for (auto& [n, t] : net.named_parameters()) p.shapes.push_back(t.shape());
    return p;
  };
  models::ModelConfig d64, mlp;  // the anchor's DCGAN-64 (3 x 64 x 64, ngf = ndf = 64) and MNIST MLP GAN
  d64.arch = "dcgan64";
  d64.channels = 3;
  d64.image_size = 64;
  Generator init(0);
  models::GanModel a = models::build_model(d64, init), b = models::build_model(mlp, init);
  return {shapes("dcgan64_G", *a.generator), shapes("dcgan64_D", *a.discriminator), shapes("mlp_G", *b.generator),
          {"large_64x2^20", std::vector<Shape>(64, Shape{int64_t(1) << 20}), true}};
}

void optim_case(const ParamSet& ps, Opt o) {
  int64_t count = 0;
  for (const Shape& s : ps.shapes) count += numel_of(s);
  const std::string label = std::to_string(ps.shapes.size()) + " tensors, " + std::to_string(count) + " params";
  for (const Variant& v : variants(false, false, !ps.large)) {
    add_case(std::string("optim.") + opt_name(o) + "/" + ps.name, label, v, ps.large,
             [=](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               const int state_tensors = o == Opt::Adam ? 4 : o == Opt::Clamp ? 1 : 3;
               const int sets = rotation_sets(v, 4.0 * count * state_tensors);
               struct Set {
                 std::vector<Tensor> p, g, a, b, none;
               };
               std::vector<Set> sv(sets);
               for (Set& s : sv)
                 for (const Shape& sh : ps.shapes) {
                   s.p.push_back(randn(sh, d, 0.02));
                   s.g.push_back(randn(sh, d, 0.01));
                   s.a.push_back(randn(sh, d, 0.01));
                   s.b.push_back(rand(sh, d, 1e-6, 1e-4));  // second moments are positive
                   s.none.push_back(Tensor());
                 }
               int64_t step = 1;
               measure(st, v, {bytes_per_param(o) * count, 0}, sets, [&](int i) {
                 Set& s = sv[i];
                 switch (o) {
                   case Opt::Adam:
                     GAN_BACKEND(d, adam_step, s.p, s.g, s.a, s.b, AdamHyper{2e-4, 0.5, 0.999, 1e-8, 0.0, step++});
                     break;
                   case Opt::Sgd: GAN_BACKEND(d, sgd_step, s.p, s.g, s.a, SgdHyper{1e-2, 0.9, 0.0, false}); break;
                   case Opt::Rmsprop:
                     GAN_BACKEND(d, rmsprop_step, s.p, s.g, s.b, s.none, RmspropHyper{5e-5, 0.99, 1e-8, 0.0, 0.0});
                     break;
                   case Opt::Clamp: GAN_BACKEND(d, clamp_params, s.p, 0.01); break;
                 }
               });
             });
  }
}

void register_all() {
  for (const ParamSet& ps : param_sets())
    for (Opt o : {Opt::Adam, Opt::Sgd, Opt::Rmsprop, Opt::Clamp}) optim_case(ps, o);
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
