// Pooling and bilinear resize at the shapes of pytorch-fid's InceptionV3 (models/eval/inception.h),
// batch 50 on the GPU (the feature net's batch) and 4 on the CPU: the max pools after Conv2d_2b
// and Conv2d_4a, the FID blocks' 3x3 average pools (padding not counted) at 35x35 and 17x17, the
// 8x8 max pool of Mixed_7c, and the 299x299 resize of CIFAR-sized and 64x64 images, each with its
// gradient. Bytes counted: input read once, output written once (the least any implementation
// moves; windows overlap, so the real reads hit cache). The scatter gradients (max pool, resize)
// use float atomics on CUDA.
#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/pool.h"
#include "kernels/pool_index.h"

using namespace gan;
using namespace gan::bench;

namespace {

constexpr int64_t kGpuBatch = 50, kCpuPoolBatch = 4;

struct PoolShape {
  const char* label;
  int64_t c, h, w;
  Pool2dParams p;
  bool max;
};

const PoolShape kPools[] = {
    {"maxpool after Conv2d_2b_3x3", 64, 147, 147, Pool2dParams::make(3, 2), true},
    {"maxpool after Conv2d_4a_3x3", 192, 71, 71, Pool2dParams::make(3, 2), true},
    {"Mixed_5b-5d branch_pool", 288, 35, 35, Pool2dParams::make(3, 1, 1, false), false},
    {"Mixed_6b-6e branch_pool", 768, 17, 17, Pool2dParams::make(3, 1, 1, false), false},
    {"Mixed_7c branch_pool (max)", 2048, 8, 8, Pool2dParams::make(3, 1, 1), true},
};

int64_t batch(const Variant& v) { return v.gpu() ? kGpuBatch : kCpuPoolBatch; }

Shape out_shape(const PoolShape& s, int64_t n) {
  return {n, s.c, hd::pool_out_size(s.h, s.p.kernel_h, s.p.stride_h, s.p.pad_h),
          hd::pool_out_size(s.w, s.p.kernel_w, s.p.stride_w, s.p.pad_w)};
}

std::string dims(int64_t c, int64_t h, int64_t w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

void pool_cases(const PoolShape& s) {
  const std::string kind = s.max ? "max_pool2d" : "avg_pool2d";
  for (const Variant& v : variants(false, false, true)) {
    add_case(kind + "/" + dims(s.c, s.h, s.w), s.label, v, true, [=](benchmark::State& st, const Variant& v) {
      const Device d = v.device();
      const Shape in{batch(v), s.c, s.h, s.w}, out = out_shape(s, batch(v));
      const int sets = rotation_sets(v, bytes_of(in));
      auto x = randn_sets(sets, in, d);
      Tensor y = Tensor::empty(out, DType::Float32, d);
      measure(st, v, {bytes_of(in) + bytes_of(out), 0}, sets, [&](int i) {
        if (s.max)
          GAN_BACKEND(d, max_pool2d_gather, x[i], x[i], s.p, y);
        else
          GAN_BACKEND(d, avg_pool2d, x[i], s.p, y);
      });
    });
    add_case(kind + "_backward/" + dims(s.c, s.h, s.w), s.label, v, true, [=](benchmark::State& st, const Variant& v) {
      const Device d = v.device();
      const Shape in{batch(v), s.c, s.h, s.w}, out = out_shape(s, batch(v));
      const double set_bytes = bytes_of(out) + (s.max ? bytes_of(in) : 0);
      const int sets = rotation_sets(v, set_bytes);
      auto g = randn_sets(sets, out, d);
      auto key = randn_sets(s.max ? sets : 0, in, d);
      Tensor dx = Tensor::empty(in, DType::Float32, d);
      measure(st, v, {set_bytes + bytes_of(in), 0}, sets, [&](int i) {
        if (s.max)
          GAN_BACKEND(d, max_pool2d_scatter, key[i], g[i], s.p, dx);
        else
          GAN_BACKEND(d, avg_pool2d_backward, g[i], s.p, dx);
      });
    });
  }
}

void resize_cases(int64_t size) {
  const std::string label = "FID input " + std::to_string(size) + "x" + std::to_string(size) + " -> 299x299";
  const Shape in1{3, size, size}, out1{3, 299, 299};
  for (const Variant& v : variants(false, false, true)) {
    add_case("resize_bilinear/" + dims(3, size, size), label, v, true, [=](benchmark::State& st, const Variant& v) {
      const Device d = v.device();
      const Shape in{batch(v), 3, size, size}, out{batch(v), 3, 299, 299};
      const int sets = rotation_sets(v, bytes_of(in));
      auto x = randn_sets(sets, in, d);
      Tensor y = Tensor::empty(out, DType::Float32, d);
      measure(st, v, {bytes_of(in) + bytes_of(out), 0}, sets,
              [&](int i) { GAN_BACKEND(d, resize_bilinear, x[i], y); });
    });
    add_case("resize_bilinear_backward/" + dims(3, size, size), label, v, true,
             [=](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               const Shape in{batch(v), 3, size, size}, out{batch(v), 3, 299, 299};
               const int sets = rotation_sets(v, bytes_of(out));
               auto g = randn_sets(sets, out, d);
               Tensor dx = Tensor::empty(in, DType::Float32, d);
               measure(st, v, {bytes_of(in) + bytes_of(out), 0}, sets,
                       [&](int i) { GAN_BACKEND(d, resize_bilinear_backward, g[i], dx); });
             });
  }
}

void register_all() {
  for (const PoolShape& s : kPools) pool_cases(s);
  resize_cases(32);
  resize_cases(64);
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
