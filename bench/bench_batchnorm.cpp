// Batch norm in training mode: forward (batch statistics, normalise, running-stat update), the
// three-term backward, and the two back to back (the figure the target speaks of: faster than
// cuDNN at every DCGAN shape). Hand-written kernels vs cuDNN on the GPU; the CPU runs the same
// layers at batch 16. Then instance norm at CycleGAN's layers (the same kernels, through the op).
#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/norm.h"
#include "engine/ops/ops.h"

using namespace gan;
using namespace gan::bench;

namespace {

enum class Pass { Fwd, Bwd, FwdBwd };

void bn_case(const NormShape& s, Pass pass) {
  const char* pname = pass == Pass::Fwd ? "fwd_train" : pass == Pass::Bwd ? "bwd" : "fwd_bwd";
  for (const Variant& v : variants(true, false, !s.large)) {
    const int64_t batch = v.gpu() ? kBatch : kCpuBatch;
    const Shape xs = {batch, s.c, s.hw, s.hw};
    add_case(std::string("batchnorm.") + pname + "/" + dims_str(xs), s.ids, v, s.large,
        [=](benchmark::State& st, const Variant& v) {
          const Device d = v.device();
          const Shape cs = {s.c};
          const double xb = bytes_of(xs), cb = bytes_of(cs);
          // Least traffic: x in, y out, weight/bias in, saved stats out, running stats in and out;
          // backward: dy and x in, dx out, weight and saved stats in, dweight/dbias out.
          const double fwd_bytes = 2 * xb + 8 * cb, bwd_bytes = 3 * xb + 5 * cb;
          const double bytes = pass == Pass::Fwd ? fwd_bytes : pass == Pass::Bwd ? bwd_bytes : fwd_bytes + bwd_bytes;
          const int n = rotation_sets(v, pass == Pass::Fwd ? xb : 2 * xb);
          auto xv = randn_sets(n, xs, d, 2.0);
          auto dyv = pass == Pass::Fwd ? std::vector<Tensor>() : randn_sets(n, xs, d);
          Tensor weight = add(randn(cs, d, 0.02), 1.0), bias = randn(cs, d, 0.1);
          Tensor rmean = randn(cs, d, 0.1), rvar = rand(cs, d, 0.5, 1.5);
          Tensor y = Tensor::empty(xs, DType::Float32, d), dx = Tensor::empty(xs, DType::Float32, d);
          Tensor mean = Tensor::empty(cs, DType::Float32, d), invstd = Tensor::empty(cs, DType::Float32, d);
          Tensor dw = Tensor::empty(cs, DType::Float32, d), db = Tensor::empty(cs, DType::Float32, d);
          auto fwd = [&](int i) {
            GAN_BACKEND(d, batch_norm_forward_train, xv[i], weight, bias, y, mean, invstd, rmean, rvar, 0.1, 1e-5);
          };
          auto bwd = [&](int i) { GAN_BACKEND(d, batch_norm_backward, dyv[i], xv[i], weight, mean, invstd, dx, dw, db); };
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
    for (Pass p : {Pass::Fwd, Pass::Bwd, Pass::FwdBwd}) bn_case(s, p);
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
