// Element-wise kernels: broadcasting add/mul, gradient accumulation, LeakyReLU and Tanh forward and
// backward, the bias + LeakyReLU pass of a fused layer and its one-pass backward beside the pairs
// of passes they replace, at DCGAN activation sizes, MLP layer outputs and one size far beyond L2.
// These are bandwidth-bound: the
// figure that matters is frac_copy (target: >= 0.9 at the large size). No library path exists for
// them, so GPU cases run the hand-written kernels only; the CPU runs the non-large sizes.
#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/bias_act.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/elementwise.h"
#include "engine/backend/reduction.h"

using namespace gan;
using namespace gan::bench;

namespace {

// x (op) y -> z with y broadcast from `yshape`; bytes: x, y read once, z written once.
void binary_case(const char* name, BinaryOp op, double a, const ActShape& s, Shape yshape) {
  const Shape xs = {s.n, s.c, s.h, s.w};
  for (const Variant& v : variants(false, false, !s.large)) {
    add_case(std::string("elementwise.") + name + "/" + dims_str(xs) + (yshape == xs ? "" : "_" + dims_str(yshape)), s.ids, v, s.large,
        [=](benchmark::State& st, const Variant& v) {
          const Device d = v.device();
          const double set_bytes = bytes_of(xs) + bytes_of(yshape);
          const int n = rotation_sets(v, set_bytes);
          auto xv = randn_sets(n, xs, d), yv = randn_sets(n, yshape, d);
          Tensor z = Tensor::empty(xs, DType::Float32, d);
          measure(st, v, {set_bytes + bytes_of(xs), 0}, n,
                  [&](int i) { GAN_BACKEND(d, binary, op, xv[i], yv[i], z, a); });
        });
  }
}

void unary_case(const char* name, UnaryOp op, double a, const ActShape& s) {
  const Shape xs = {s.n, s.c, s.h, s.w};
  for (const Variant& v : variants(false, false, !s.large)) {
    add_case(std::string("elementwise.") + name + "/" + dims_str(xs), s.ids, v, s.large,
        [=](benchmark::State& st, const Variant& v) {
          const Device d = v.device();
          const int n = rotation_sets(v, bytes_of(xs));
          auto xv = randn_sets(n, xs, d);
          Tensor y = Tensor::empty(xs, DType::Float32, d);
          measure(st, v, {2 * bytes_of(xs), 0}, n,
                  [&](int i) { GAN_BACKEND(d, unary, op, xv[i], y, a, 0.0); });
        });
  }
}

// Gradient accumulation out += x (D's gradients from the real and the fake batch).
void accumulate_case(const ActShape& s) {
  const Shape xs = {s.n, s.c, s.h, s.w};
  for (const Variant& v : variants(false, false, !s.large)) {
    add_case("elementwise.add_inplace/" + dims_str(xs), s.ids, v, s.large, [=](benchmark::State& st, const Variant& v) {
      const Device d = v.device();
      const int n = rotation_sets(v, 2 * bytes_of(xs));
      auto xv = randn_sets(n, xs, d), outv = randn_sets(n, xs, d);
      measure(st, v, {3 * bytes_of(xs), 0}, n, [&](int i) { GAN_BACKEND(d, add_inplace, outv[i], xv[i], 1.0); });
    });
  }
}

// A biased layer's bias + LeakyReLU(0.2): one fused pass (bias_act, x read and y written once), or
// the unfused pair (the bias add, then the activation: two reads, two writes).
void bias_leaky_case(const ActShape& s, bool fused) {
  const Shape xs = {s.n, s.c, s.h, s.w};
  for (const Variant& v : variants(false, false, !s.large)) {
    add_case(std::string("elementwise.") + (fused ? "bias_act_leaky/" : "bias_then_leaky/") + dims_str(xs), s.ids, v,
             s.large, [=](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               const int n = rotation_sets(v, bytes_of(xs));
               auto xv = randn_sets(n, xs, d);
               Tensor b = Tensor::randn({s.c}, nullptr, DType::Float32, d), z = Tensor::empty(xs, DType::Float32, d);
               Tensor y = Tensor::empty(xs, DType::Float32, d), b4 = b.reshape({1, s.c, 1, 1});
               const kernels::NormAct act{kernels::NormActKind::LeakyRelu, 0.2};
               measure(st, v, {(fused ? 2.0 : 4.0) * bytes_of(xs), 0}, n, [&](int i) {
                 if (fused) {
                   GAN_BACKEND(d, bias_act_forward, xv[i], b, act, y);
                 } else {
                   GAN_BACKEND(d, binary, BinaryOp::Add, xv[i], b4, z, 0.0);
                   GAN_BACKEND(d, unary, UnaryOp::LeakyRelu, z, y, 0.2, 0.0);
                 }
               });
             });
  }
}

// Its backward: the mask and the bias gradient in one pass (bias_act_backward: dy and y read, dx
// written once), or the unfused pair (the mask, then the sum reading dx again).
void bias_leaky_backward_case(const ActShape& s, bool fused) {
  const Shape xs = {s.n, s.c, s.h, s.w};
  for (const Variant& v : variants(false, false, !s.large)) {
    add_case(std::string("elementwise.") + (fused ? "bias_act_leaky_bwd/" : "leaky_bwd_then_sum/") + dims_str(xs),
             s.ids, v, s.large, [=](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               const int n = rotation_sets(v, 2 * bytes_of(xs));
               auto gv = randn_sets(n, xs, d), yv = randn_sets(n, xs, d);
               Tensor dx = Tensor::empty(xs, DType::Float32, d), db = Tensor::empty({s.c}, DType::Float32, d);
               Tensor db4 = db.reshape({1, s.c, 1, 1});
               const kernels::NormAct act{kernels::NormActKind::LeakyRelu, 0.2};
               measure(st, v, {(fused ? 3.0 : 4.0) * bytes_of(xs), 0}, n, [&](int i) {
                 if (fused) {
                   GAN_BACKEND(d, bias_act_backward, gv[i], yv[i], act, dx, db);
                 } else {
                   GAN_BACKEND(d, binary, BinaryOp::LeakyReluBackward, gv[i], yv[i], dx, 0.2);
                   GAN_BACKEND(d, sum_to, dx, db4);
                 }
               });
             });
  }
}

void register_all() {
  // MLP GAN hidden layers at batch 64 (widths 256 to 1024) and the toy WGAN-GP's width 512 at batch 256.
  for (const ActShape& s :
       {ActShape{"MLP hidden 1024", 64, 1024, 1, 1, false}, ActShape{"toy hidden", 256, 512, 1, 1, false}}) {
    bias_leaky_case(s, true);
    bias_leaky_case(s, false);
    bias_leaky_backward_case(s, true);
    bias_leaky_backward_case(s, false);
  }
  for (const ActShape& s : activation_shapes()) {
    binary_case("add", BinaryOp::Add, 0, s, {s.n, s.c, s.h, s.w});
    binary_case("add_bias", BinaryOp::Add, 0, s, {1, s.c, 1, 1});        // per-channel bias
    binary_case("mul_per_sample", BinaryOp::Mul, 0, s, {s.n, 1, 1, 1});  // WGAN-GP interpolation weight
    accumulate_case(s);
    unary_case("leaky_relu_fwd", UnaryOp::LeakyRelu, 0.2, s);
    // backward: incoming gradient and the forward input
    binary_case("leaky_relu_bwd", BinaryOp::LeakyReluBackward, 0.2, s, {s.n, s.c, s.h, s.w});
    unary_case("tanh_fwd", UnaryOp::Tanh, 0, s);
    // backward: incoming gradient and the forward output
    binary_case("tanh_bwd", BinaryOp::TanhBackward, 0, s, {s.n, s.c, s.h, s.w});
    bias_leaky_case(s, true);
    bias_leaky_case(s, false);
    bias_leaky_backward_case(s, true);
    bias_leaky_backward_case(s, false);
  }
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
