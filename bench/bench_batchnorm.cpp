// Batch norm in training mode: forward (batch statistics, normalise, running-stat update), the
// three-term backward, and the two back to back (the figure the target speaks of: faster than
// cuDNN at every DCGAN shape). Hand-written kernels vs cuDNN on the GPU; the CPU runs the same
// layers at batch 16.
#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
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

void register_all() {
  for (const NormShape& s : batchnorm_shapes())
    for (Pass p : {Pass::Fwd, Pass::Bwd, Pass::FwdBwd}) bn_case(s, p);
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
