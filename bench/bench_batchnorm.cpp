// Batch norm in training mode: forward (batch statistics, normalise, running-stat update), the
// three-term backward, and the two back to back (the figure the target speaks of: faster than
// cuDNN at every DCGAN shape). Hand-written kernels vs cuDNN on the GPU; the CPU runs the same
// layers at batch 16. Then batch norm + LeakyReLU(0.2) forward and backward, fused in one kernel
// each (act_fwd_bwd) and as batch norm and the element-wise activation kernels one after the other
// (then_act_fwd_bwd): what the fusion saves. Then instance norm at CycleGAN's layers (the same
// kernels, through the op).
#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/elementwise.h"
#include "engine/backend/norm.h"
#include "engine/ops/ops.h"

using namespace gan;
using namespace gan::bench;

namespace {

enum class Pass { Fwd, Bwd, FwdBwd, ActFwdBwd, ThenActFwdBwd };

const char* pass_name(Pass p) {
  switch (p) {
    case Pass::Fwd: return "fwd_train";
    case Pass::Bwd: return "bwd";
    case Pass::FwdBwd: return "fwd_bwd";
    case Pass::ActFwdBwd: return "act_fwd_bwd";
    case Pass::ThenActFwdBwd: return "then_act_fwd_bwd";
  }
  return "";
}

void bn_case(const NormShape& s, Pass pass) {
  const char* pname = pass_name(pass);
  for (const Variant& v : variants(true, false, !s.large)) {
    const int64_t batch = v.gpu() ? kBatch : kCpuBatch;
    const Shape xs = {batch, s.c, s.hw, s.hw};
    add_case(std::string("batchnorm.") + pname + "/" + dims_str(xs), s.ids, v, s.large,
        [=](benchmark::State& st, const Variant& v) {
          const Device d = v.device();
          const Shape cs = {s.c};
          const double xb = bytes_of(xs), cb = bytes_of(cs);
          // Least traffic: x in, y out, weight/bias in, saved stats out, running stats in and out;
          // backward: dy and x in, dx out, weight and saved stats in, dweight/dbias out. With the
          // activation fused, the backward also reads y (the mask); unfused, the activation's own
          // passes add z out and in forward, and z in, the gradient out and in backward.
          const bool act = pass == Pass::ActFwdBwd || pass == Pass::ThenActFwdBwd;
          const double fwd_bytes = 2 * xb + 8 * cb, bwd_bytes = (pass == Pass::ActFwdBwd ? 4 : 3) * xb + 5 * cb;
          const double extra = pass == Pass::ThenActFwdBwd ? 5 * xb : 0;
          const double bytes =
              pass == Pass::Fwd ? fwd_bytes : pass == Pass::Bwd ? bwd_bytes : fwd_bytes + bwd_bytes + extra;
          const int n = rotation_sets(v, pass == Pass::Fwd ? xb : 2 * xb);
          auto xv = randn_sets(n, xs, d, 2.0);
          auto dyv = pass == Pass::Fwd ? std::vector<Tensor>() : randn_sets(n, xs, d);
          Tensor weight = add(randn(cs, d, 0.02), 1.0), bias = randn(cs, d, 0.1);
          Tensor rmean = randn(cs, d, 0.1), rvar = rand(cs, d, 0.5, 1.5);
          Tensor y = Tensor::empty(xs, DType::Float32, d), dx = Tensor::empty(xs, DType::Float32, d);
          const bool then_act = pass == Pass::ThenActFwdBwd;  // z and gz: the unfused activation's tensors
          Tensor z = then_act ? Tensor::empty(xs, DType::Float32, d) : Tensor();
          Tensor gz = then_act ? Tensor::empty(xs, DType::Float32, d) : Tensor();
          Tensor mean = Tensor::empty(cs, DType::Float32, d), invstd = Tensor::empty(cs, DType::Float32, d);
          Tensor dw = Tensor::empty(cs, DType::Float32, d), db = Tensor::empty(cs, DType::Float32, d);
          const kernels::NormAct leaky{kernels::NormActKind::LeakyRelu, 0.2}, none{};
          auto fwd = [&](int i) {
            if (pass == Pass::ThenActFwdBwd) {
              GAN_BACKEND(d, batch_norm_forward_train, xv[i], weight, bias, none, z, mean, invstd, rmean, rvar, 0.1,
                          1e-5);
              GAN_BACKEND(d, unary, UnaryOp::LeakyRelu, z, y, 0.2, 0.0);
              return;
            }
            GAN_BACKEND(d, batch_norm_forward_train, xv[i], weight, bias, act ? leaky : none, y, mean, invstd, rmean,
                        rvar, 0.1, 1e-5);
          };
          auto bwd = [&](int i) {
            if (pass == Pass::ThenActFwdBwd) {
              GAN_BACKEND(d, binary, BinaryOp::LeakyReluBackward, dyv[i], z, gz, 0.2);
              GAN_BACKEND(d, batch_norm_backward, gz, none, Tensor(), xv[i], weight, mean, invstd, dx, dw, db);
              return;
            }
            GAN_BACKEND(d, batch_norm_backward, dyv[i], act ? leaky : none, act ? y : Tensor(), xv[i], weight, mean,
                        invstd, dx, dw, db);
          };
          if (pass == Pass::Bwd) fwd(0);  // saved statistics for the backward
          measure(st, v, {bytes, 0}, n, [&](int i) {
            if (pass != Pass::Bwd) fwd(i);
            if (pass != Pass::Fwd) bwd(i);
          });
        });
  }
}

// Instance norm (engine/ops/norm.h) through the op, as a CycleGAN layer calls it: batch_norm on
// [1, N C, H W] with weight and bias repeated N times, so it times the batch-norm kernels at many
// short channels plus the repeat of the affine vectors (and, backward, their sum back to [C]).
// Forward alone runs without autograd; fwd_bwd records it and takes d/dx, d/dweight, d/dbias of
// <y, dy>. Same batch on the CPU and the GPU: CycleGAN trains at batch 1 (the recipe's default)
// to 4.
struct InstanceShape {
  const char* ids;
  int64_t n, c, hw;
};

void in_case(const InstanceShape& s, bool backward) {
  for (const Variant& v : variants(true, false, true)) {
    const Shape xs = {s.n, s.c, s.hw, s.hw};
    add_case(std::string("instancenorm.") + (backward ? "fwd_bwd" : "fwd") + "/" + dims_str(xs), s.ids, v, false,
             [=](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               const Shape cs = {s.c};
               const double xb = bytes_of(xs), cb = bytes_of(cs);
               // Least traffic: x in, y out, weight/bias in; backward: dy and x in, dx out, weight
               // in, dweight/dbias out (the statistics are per plane, negligible beside x).
               const double bytes = 2 * xb + 2 * cb + (backward ? 3 * xb + 3 * cb : 0);
               const int n = rotation_sets(v, backward ? 2 * xb : xb);
               auto xv = randn_sets(n, xs, d, 2.0);
               auto dyv = backward ? randn_sets(n, xs, d) : std::vector<Tensor>();
               Tensor weight = add(randn(cs, d, 0.02), 1.0), bias = randn(cs, d, 0.1);
               if (backward) {
                 for (Tensor& x : xv) x.requires_grad_();
                 weight.requires_grad_();
                 bias.requires_grad_();
               }
               measure(st, v, {bytes, 0}, n, [&](int i) {
                 if (!backward) {
                   NoGradGuard ng;
                   instance_norm(xv[i], weight, bias);
                   return;
                 }
                 grad({instance_norm(xv[i], weight, bias)}, {xv[i], weight, bias}, {dyv[i]});
               });
             });
  }
}

void register_all() {
  for (const NormShape& s : batchnorm_shapes())
    for (Pass p : {Pass::Fwd, Pass::Bwd, Pass::FwdBwd, Pass::ActFwdBwd, Pass::ThenActFwdBwd}) bn_case(s, p);
  // pytorch-CycleGAN-and-pix2pix's ResnetGenerator (ngf 64) at 256 x 256: the stem, the two
  // downsampling layers and the residual blocks; and its PatchGAN critic's middle layer.
  const InstanceShape in_shapes[] = {
      {"CycleGAN G stem", 1, 64, 256},         {"CycleGAN G down 1", 1, 128, 128},
      {"CycleGAN G residual blocks", 1, 256, 64}, {"CycleGAN G residual blocks", 4, 256, 64},
      {"CycleGAN D layer 3", 1, 256, 32},
  };
  for (const InstanceShape& s : in_shapes)
    for (bool bwd : {false, true}) in_case(s, bwd);
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
