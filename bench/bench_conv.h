// Cases shared by bench_conv2d and bench_conv_transpose2d. Both layers run the conv primitives
// (engine/backend/conv.h) in the "conv2d view" x[N, Ci, H, W] * w[Co, Ci, 4, 4] -> y[N, Co, Ho, Wo]:
//                      conv2d layer                 conv_transpose2d layer (cin -> cout)
//   forward            conv2d_forward(x, w) -> y    conv_transpose2d_forward(in, w) -> out
//   input gradient     conv2d_backward_data         conv2d_forward(dout, w) -> din
//   weight gradient    conv2d_backward_weight       conv2d_backward_weight(dout, in) -> dw
// (conv_transpose2d_forward shares conv2d_backward_data's kernels.)
// with, for conv_transpose2d, x = the layer's output, y = its input and w[cin, cout, 4, 4] (PyTorch's
// layout). Every pass costs the same 2 * N*Co*Ho*Wo*Ci*16 flops: the real multiply-adds, never the
// zeros a stride-2 transposed convolution would insert.
#pragma once

#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/conv.h"
#include "engine/backend/dispatch.h"

namespace gan::bench {

enum class ConvPass { Fwd, BwdData, BwdWeight };

inline const char* conv_pass_name(ConvPass p) {
  return p == ConvPass::Fwd ? "fwd" : p == ConvPass::BwdData ? "bwd_data" : "bwd_weight";
}

struct ConvView {
  Shape x, w, y;
  Conv2dParams p;
  double flops;
  std::string name;  // the layer's input and output, e.g. 128x512x4x4-256x8x8
};

inline ConvView conv_view(const ConvLayer& L, int64_t batch, bool transposed) {
  ConvView v;
  const int64_t out = L.out_hw(transposed);
  v.p = Conv2dParams::make(L.stride, L.pad);
  if (!transposed) {
    v.x = {batch, L.cin, L.in_hw, L.in_hw};
    v.w = {L.cout, L.cin, 4, 4};
    v.y = {batch, L.cout, out, out};
  } else {
    v.x = {batch, L.cout, out, out};
    v.w = {L.cin, L.cout, 4, 4};
    v.y = {batch, L.cin, L.in_hw, L.in_hw};
  }
  v.flops = 2.0 * double(numel_of(v.y)) * double(v.w[1] * 16);
  v.name = dims_str({batch, L.cin, L.in_hw, L.in_hw}) + "-" + dims_str({L.cout, out, out});
  return v;
}

// The variants of one precision: strict FP32 (CPU, hand, cuDNN), TF32 (hand.tf32, cudnn.tf32) or
// bfloat16 data (hand.bf16: the BF16 mma.sync kernels; cudnn.bf16; GPU only).
enum class ConvPrecision { Fp32, Tf32, Bf16 };

inline std::vector<Variant> conv_variants(ConvPrecision prec, bool with_cpu) {
  std::vector<Variant> out;
  if (prec == ConvPrecision::Bf16) {
    for (const Variant& v : variants(true, false, false)) out.push_back({v.path, false, true});
    return out;
  }
  for (const Variant& v : variants(true, true, with_cpu))
    if (v.tf32 == (prec == ConvPrecision::Tf32)) out.push_back(v);
  return out;
}

inline void conv_case(const std::string& family, const ConvLayer& L, const std::string& ids, bool transposed,
                      ConvPass pass, ConvPrecision prec) {
  for (const Variant& var : conv_variants(prec, !L.large)) {
    const ConvView cv = conv_view(L, var.gpu() ? kBatch : kCpuBatch, transposed);
    add_case(family + "." + conv_pass_name(pass) + "/" + cv.name, ids, var, L.large,
             [=](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               // Which conv2d primitive runs, on which conv-view operands.
               enum class Prim { Forward, BackwardData, BackwardWeight, TransposeForward } prim;
               if (pass == ConvPass::BwdWeight) prim = Prim::BackwardWeight;
               else if ((pass == ConvPass::Fwd) != transposed) prim = Prim::Forward;
               else prim = transposed ? Prim::TransposeForward : Prim::BackwardData;
               // Inputs and output in conv-view terms.
               Shape a_shape, b_shape, out_shape;
               switch (prim) {
                 case Prim::Forward: a_shape = cv.x, b_shape = cv.w, out_shape = cv.y; break;
                 case Prim::BackwardData:
                 case Prim::TransposeForward: a_shape = cv.y, b_shape = cv.w, out_shape = cv.x; break;
                 case Prim::BackwardWeight: a_shape = cv.x, b_shape = cv.y, out_shape = cv.w; break;
               }
               const DType dt = v.bf16 ? DType::BFloat16 : DType::Float32;
               const double elem = v.bf16 ? 0.5 : 1.0;  // bytes_of counts float32
               const double in_bytes = elem * (bytes_of(a_shape) + bytes_of(b_shape));
               const int n = rotation_sets(v, in_bytes);
               auto av = randn_sets(n, a_shape, d), bv = randn_sets(n, b_shape, d, 0.05);
               if (v.bf16)
                 for (int i = 0; i < n; ++i) av[i] = av[i].to(dt), bv[i] = bv[i].to(dt);
               Tensor out = Tensor::empty(out_shape, dt, d);
               const Conv2dParams p = cv.p;
               measure(st, v, {in_bytes + elem * bytes_of(out_shape), cv.flops}, n, [&](int i) {
                 switch (prim) {
                   case Prim::Forward: GAN_BACKEND(d, conv2d_forward, av[i], bv[i], out, p); break;
                   case Prim::BackwardData: GAN_BACKEND(d, conv2d_backward_data, av[i], bv[i], out, p); break;
                   case Prim::BackwardWeight: GAN_BACKEND(d, conv2d_backward_weight, av[i], bv[i], out, p); break;
                   case Prim::TransposeForward: GAN_BACKEND(d, conv_transpose2d_forward, av[i], bv[i], out, p); break;
                 }
               });
             });
  }
}

// Every distinct layer shape once (DCGAN-32 shares several with DCGAN-64), labelled with all the
// layers that have it. Order (what a time limit cuts first comes last): the DCGAN shapes in strict
// FP32 (the targets' terms), then with TF32, then on bfloat16 data, then the GPU-filling size.
inline void register_conv_family(const std::string& family, const std::vector<ConvLayer>& layers, bool transposed) {
  std::vector<std::pair<ConvLayer, std::string>> unique;
  for (const ConvLayer& L : layers) {
    const std::string key = conv_view(L, kBatch, transposed).name;
    bool found = false;
    for (auto& u : unique)
      if (conv_view(u.first, kBatch, transposed).name == key) {
        u.second += " " + std::string(L.id);
        found = true;
      }
    if (!found) unique.push_back({L, L.id});
  }
  for (bool large : {false, true})
    for (ConvPrecision prec : {ConvPrecision::Fp32, ConvPrecision::Tf32, ConvPrecision::Bf16})
      for (ConvPass pass : {ConvPass::Fwd, ConvPass::BwdData, ConvPass::BwdWeight})
        for (const auto& u : unique)
          if (u.first.large == large) conv_case(family, u.first, u.second, transposed, pass, prec);
}

}  // namespace gan::bench
