// Spatial kernels: pixel shuffle / unshuffle (sub-pixel upsampling in a generator, its inverse),
// nearest upsampling and its block-sum gradient, reflection padding and its gather-sum gradient
// (CycleGAN's ResNet generator, at its own batch of 1-4), and the per-sample augmentation maps
// (translate, horizontal flip, cutout mask) at the images a critic sees. All are pure data movement, so the
// figure of merit is GB/s against the copy ceiling. The bytes counted are the least any
// implementation moves: the input read once, the output written once, the per-sample parameters.
// Batch 128 on the GPU, 16 on the CPU, unless a case names its own.
#include <functional>

#include "bench/bench_common.h"
#include "bench/bench_shapes.h"
#include "engine/backend/dispatch.h"
#include "engine/backend/spatial.h"

using namespace gan;
using namespace gan::bench;

namespace {

// A case: input [batch, c, h, w] (per-sample parameters [batch] or [batch, 2]) to output
// [batch, oc, oh, ow], timed over rotating input sets.
struct SpatialCase {
  const char* op;
  const char* label;
  int64_t c, h, w;
  int64_t oc, oh, ow;
  int64_t param_cols;  // -1: no parameters; 0: [N]; 2: [N, 2]
  bool large;
  std::function<void(const Tensor& x, const Tensor& params, Tensor& out)> run;
  int64_t batch = 0;  // 0: kBatch on the GPU, kCpuBatch on the CPU; else this batch on both
};

// Per-sample parameters that keep every code path busy: shifts and centers within the image, flags
// alternating 0 / 1.
Tensor params_for(const SpatialCase& c, int64_t n, Device d) {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) {
    if (c.param_cols == 0) {
      v.push_back(static_cast<float>(i % 2));
    } else {
      v.push_back(static_cast<float>((i * 7) % c.h - c.h / 2));
      v.push_back(static_cast<float>((i * 5) % c.w - c.w / 2));
    }
  }
  return c.param_cols == 0 ? Tensor::from_vector(v, {n}).to(d) : Tensor::from_vector(v, {n, 2}).to(d);
}

std::string dims(const SpatialCase& c) {
  return (c.batch > 0 ? "b" + std::to_string(c.batch) + "_" : std::string()) + std::to_string(c.c) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) + "_to_" + std::to_string(c.oc) +
         "x" + std::to_string(c.oh) + "x" + std::to_string(c.ow);
}

void add(const SpatialCase& c) {
  for (const Variant& v : variants(false, false, true)) {
    add_case(std::string("spatial.") + c.op + "/" + dims(c), c.label, v, c.large,
             [c](benchmark::State& st, const Variant& v) {
               const Device d = v.device();
               const int64_t n = c.batch > 0 ? c.batch : v.gpu() ? kBatch : kCpuBatch;
               const bool from_params = c.c == 0;  // cutout_mask reads only its centers
               const Shape in = {n, c.c, c.h, c.w}, out_shape = {n, c.oc, c.oh, c.ow};
               const double param_bytes = c.param_cols < 0 ? 0 : bytes_of({n, std::max<int64_t>(c.param_cols, 1)});
               const double in_bytes = from_params ? 0 : bytes_of(in);
               const int sets = rotation_sets(v, in_bytes + param_bytes + 1);
               std::vector<Tensor> xs = from_params ? std::vector<Tensor>(static_cast<size_t>(sets)) : randn_sets(sets, in, d);
               Tensor params = c.param_cols < 0 ? Tensor() : params_for(c, n, d);
               Tensor out = Tensor::empty(out_shape, DType::Float32, d);
               measure(st, v, {in_bytes + param_bytes + bytes_of(out_shape), 0}, sets,
                       [&](int i) { c.run(xs[static_cast<size_t>(i)], params, out); });
             });
  }
}

void register_all() {
  auto shuffle = [](const Tensor& x, const Tensor&, Tensor& o) { GAN_BACKEND(o.device(), pixel_shuffle, x, 2, o); };
  auto unshuffle = [](const Tensor& x, const Tensor&, Tensor& o) { GAN_BACKEND(o.device(), pixel_unshuffle, x, 2, o); };
  auto up = [](const Tensor& x, const Tensor&, Tensor& o) { GAN_BACKEND(o.device(), upsample_nearest2d, x, 2, o); };
  auto up_back = [](const Tensor& x, const Tensor&, Tensor& o) {
    GAN_BACKEND(o.device(), upsample_nearest2d_backward, x, 2, o);
  };
  // CycleGAN's pads are symmetric: 3 around the 7x7 stem and output convolutions, 1 in each
  // residual block's two 3x3 convolutions.
  auto pad3 = [](const Tensor& x, const Tensor&, Tensor& o) { GAN_BACKEND(o.device(), reflection_pad2d, x, 3, 3, 3, 3, o); };
  auto pad1 = [](const Tensor& x, const Tensor&, Tensor& o) { GAN_BACKEND(o.device(), reflection_pad2d, x, 1, 1, 1, 1, o); };
  auto pad3_back = [](const Tensor& x, const Tensor&, Tensor& o) {
    GAN_BACKEND(o.device(), reflection_pad2d_backward, x, 3, 3, 3, 3, o);
  };
  auto pad1_back = [](const Tensor& x, const Tensor&, Tensor& o) {
    GAN_BACKEND(o.device(), reflection_pad2d_backward, x, 1, 1, 1, 1, o);
  };
  auto translate = [](const Tensor& x, const Tensor& p, Tensor& o) { GAN_BACKEND(o.device(), translate2d, x, p, o); };
  auto flip = [](const Tensor& x, const Tensor& p, Tensor& o) { GAN_BACKEND(o.device(), flip_horizontal, x, p, o); };
  auto cut = [](const Tensor&, const Tensor& p, Tensor& o) { GAN_BACKEND(o.device(), cutout_mask, p, 32, 32, o); };
  const SpatialCase cases[] = {
      {"pixel_shuffle", "sub-pixel G 512 -> 128 ch at 8 -> 16", 512, 8, 8, 128, 16, 16, -1, false, shuffle},
      {"pixel_shuffle", "sub-pixel G last layer 12 -> 3 ch at 32 -> 64", 12, 32, 32, 3, 64, 64, -1, false, shuffle},
      {"pixel_shuffle", "large", 256, 64, 64, 64, 128, 128, -1, true, shuffle},
      {"pixel_unshuffle", "gradient of the 512 -> 128 shuffle", 128, 16, 16, 512, 8, 8, -1, false, unshuffle},
      {"pixel_unshuffle", "large", 64, 128, 128, 256, 64, 64, -1, true, unshuffle},
      {"upsample_nearest2d", "upsample G 256 ch 16 -> 32", 256, 16, 16, 256, 32, 32, -1, false, up},
      {"upsample_nearest2d", "large", 128, 64, 64, 128, 128, 128, -1, true, up},
      {"upsample_nearest2d_backward", "gradient of the 256 ch 16 -> 32 upsample", 256, 32, 32, 256, 16, 16, -1, false,
       up_back},
      {"upsample_nearest2d_backward", "large", 128, 128, 128, 128, 64, 64, -1, true, up_back},
      {"reflection_pad2d", "CycleGAN stem, 3 x 256 x 256 images, pad 3, batch 4", 3, 256, 256, 3, 262, 262, -1, false,
       pad3, 4},
      {"reflection_pad2d", "CycleGAN output conv, 64 ch at 256 x 256, pad 3, batch 1", 64, 256, 256, 64, 262, 262, -1,
       false, pad3, 1},
      {"reflection_pad2d", "CycleGAN residual block, 256 ch at 64 x 64, pad 1, batch 4", 256, 64, 64, 256, 66, 66, -1,
       false, pad1, 4},
      {"reflection_pad2d", "large", 256, 64, 64, 256, 66, 66, -1, true, pad1},
      {"reflection_pad2d_backward", "gradient of the stem pad, batch 4", 3, 262, 262, 3, 256, 256, -1, false,
       pad3_back, 4},
      {"reflection_pad2d_backward", "gradient of the output-conv pad, batch 1", 64, 262, 262, 64, 256, 256, -1, false,
       pad3_back, 1},
      {"reflection_pad2d_backward", "gradient of the residual-block pad, batch 4", 256, 66, 66, 256, 64, 64, -1, false,
       pad1_back, 4},
      {"reflection_pad2d_backward", "large", 256, 66, 66, 256, 64, 64, -1, true, pad1_back},
      {"translate2d", "augmentation, 3 x 64 x 64 images", 3, 64, 64, 3, 64, 64, 2, false, translate},
      {"translate2d", "large", 64, 128, 128, 64, 128, 128, 2, true, translate},
      {"flip_horizontal", "augmentation, 3 x 64 x 64 images", 3, 64, 64, 3, 64, 64, 0, false, flip},
      {"flip_horizontal", "large", 64, 128, 128, 64, 128, 128, 0, true, flip},
      {"cutout_mask", "augmentation, 64 x 64 images, 32 x 32 cut", 0, 64, 64, 1, 64, 64, 2, false, cut},
  };
  for (const SpatialCase& c : cases) add(c);
}

}  // namespace

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
