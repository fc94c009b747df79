// WGAN-GP gradient penalty. The primitives (per-sample interpolation, the fused per-sample norm and
// penalty, its gradient) are bandwidth-bound passes over a batch of images; the whole penalty on
// the DCGAN-32 critic (batch 64: forward, gradient with create_graph, norm, penalty, double
// backward into the critic's weights) is what a WGAN-GP critic step pays on top of a plain one,
// set beside the plain critic forward + backward as bench/torch_anchor.py does.
#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/penalty.h"
#include "engine/ops/ops.h"
#include "engine/ops/penalty.h"
#include "models/model.h"

using namespace gan;
using namespace gan::bench;

namespace {

struct ImgShape {
  const char* ids;
  Shape s;
  bool large;
};

const ImgShape kShapes[] = {
    {"WGAN-GP DCGAN-32 batch 64", {64, 3, 32, 32}, false},
    {"DCGAN-64 batch 128", {128, 3, 64, 64}, false},
    {"large", {256, 3, 256, 256}, true},  // 201 MB per tensor
};

enum class Prim { Interpolate, Forward, Backward };

void prim_case(const ImgShape& is, Prim prim) {
  const char* pname = prim == Prim::Interpolate ? "interpolate" : prim == Prim::Forward ? "gp_fwd" : "gp_bwd";
  for (const Variant& v : variants(false, false, !is.large)) {
    const Shape s = is.s;
    add_case(std::string("penalty.") + pname + "/" + dims_str(s), is.ids, v, is.large,
             [=](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               const int64_t n = s[0];
               const double xb = bytes_of(s), nb = bytes_of({n});
               const double lambda = 10.0;
               Tensor norms = Tensor::empty({n}, DType::Float32, d), penalty = Tensor::empty({}, DType::Float32, d);
               Tensor out = Tensor::empty(s, DType::Float32, d);
               Tensor dpen = Tensor::full({}, 1.0, DType::Float32, d);
               if (prim == Prim::Interpolate) {
                 const int sets = rotation_sets(v, 2 * xb + nb);
                 auto real = randn_sets(sets, s, d), fake = randn_sets(sets, s, d);
                 std::vector<Tensor> eps;
                 for (int i = 0; i < sets; ++i) eps.push_back(rand({n}, d, 0.0, 1.0));
                 measure(st, v, {3 * xb + nb, 0}, sets,
                         [&](int i) { GAN_BACKEND(d, interpolate_per_sample, real[i], fake[i], eps[i], out); });
               } else if (prim == Prim::Forward) {
                 const int sets = rotation_sets(v, xb);
                 auto g = randn_sets(sets, s, d, 0.01);
                 measure(st, v, {xb + nb + 4, 0}, sets,
                         [&](int i) { GAN_BACKEND(d, gradient_penalty_forward, g[i], lambda, norms, penalty); });
               } else {
                 const int sets = rotation_sets(v, xb);
                 auto g = randn_sets(sets, s, d, 0.01);
                 GAN_BACKEND(d, gradient_penalty_forward, g[0], lambda, norms, penalty);
                 measure(st, v, {2 * xb + nb + 4, 0}, sets, [&](int i) {
                   GAN_BACKEND(d, gradient_penalty_backward, g[i], norms, dpen, lambda, out);
                 });
               }
             });
  }
}

// The whole penalty through the critic, in engine ops, as a WGAN-GP critic step computes it.
void critic_case(bool with_penalty) {
  for (const Variant& v : variants(true, true, true)) {
    const int64_t batch = v.gpu() ? 64 : 16;
    const std::string name = std::string("penalty.") + (with_penalty ? "gp_critic_double_bwd" : "critic_fwd_bwd") +
                             "/dcgan32.b" + std::to_string(batch);
    add_case(name, with_penalty ? "fwd, grad(create_graph), penalty, double bwd" : "critic fwd + bwd only", v, false,
             [=](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               models::ModelConfig cfg;  // the anchor's WGAN-GP critic: DCGAN-32, 3 channels, no normalisation
               cfg.arch = "dcgan32";
               cfg.channels = 3;
               cfg.image_size = 32;
               cfg.critic_norm = "none";
               Generator init(0);
               std::shared_ptr<nn::Module> D = models::build_model(cfg, init).discriminator;
               D->to(d);
               Tensor x = randn({batch, 3, 32, 32}, d).requires_grad_();
               measure(st, v, {}, 1, [&](int) {
                 if (with_penalty) {
                   Tensor g = grad({sum((*D)(x))}, {x}, {}, /*create_graph=*/true)[0];
                   gradient_penalty(g, 1.0).backward();  // mean_n (||g_n|| - 1)^2, as the anchor
                 } else {
                   sum((*D)(x)).backward();
                 }
               });
             });
  }
}

void register_all() {
  critic_case(true);  // first: the rows set beside PyTorch's
  critic_case(false);
  for (const ImgShape& s : kShapes)
    for (Prim p : {Prim::Interpolate, Prim::Forward, Prim::Backward}) prim_case(s, p);
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
