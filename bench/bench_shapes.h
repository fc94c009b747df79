// The layer shapes every per-kernel benchmark runs at: DCGAN-64 (pytorch/examples dcgan, nz 100,
// ngf = ndf = 64, 3 channels) and DCGAN-32 (G z -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x3, D
// mirrored with 128/256/512 channels), batch 128, the README's narrow DCGAN-32 (ngf = ndf = 16: its
// 4x4 stride-2 layers), plus one size per family that fills an H100.
// The same models as bench/torch_anchor.py, so per-op rows can be set beside PyTorch's.
//
// Convolutions are listed in their own layer's terms (conv2d: cin -> cout, input size; convT:
// cin -> cout, input size -> output size); every kernel is 4x4.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gan::bench {

constexpr int64_t kBatch = 128;     // DCGAN batch on the GPU
constexpr int64_t kCpuBatch = 16;   // the same layers on the CPU, at a size a 2-core machine finishes

struct ConvLayer {
  const char* id;  // G64.2 = generator of DCGAN-64, second layer
  int64_t cin, cout;
  int64_t in_hw;   // input height = width
  int64_t stride, pad;
  bool large;      // the GPU-filling size, not a model layer
  int64_t out_hw(bool transposed) const {
    return transposed ? (in_hw - 1) * stride - 2 * pad + 4 : (in_hw + 2 * pad - 4) / stride + 1;
  }
};

// Discriminator convolutions (conv2d).
inline const std::vector<ConvLayer>& conv2d_layers() {
  static const std::vector<ConvLayer> v = {
      {"D64.1", 3, 64, 64, 2, 1, false},     // 3x64x64 -> 64x32x32
      {"D64.2", 64, 128, 32, 2, 1, false},   // -> 128x16x16
      {"D64.3", 128, 256, 16, 2, 1, false},  // -> 256x8x8
      {"D64.4", 256, 512, 8, 2, 1, false},   // -> 512x4x4        (= D32.3)
      {"D64.5", 512, 1, 4, 1, 0, false},     // -> 1x1x1 logit    (= D32.4)
      {"D32.1", 3, 128, 32, 2, 1, false},    // 3x32x32 -> 128x16x16
      {"D32.2", 128, 256, 16, 2, 1, false},  // -> 256x8x8
      {"D32.3", 256, 512, 8, 2, 1, false},
      {"D32.4", 512, 1, 4, 1, 0, false},
      {"R32.2", 32, 64, 16, 2, 1, false},    // the README's narrow model (ndf 16): 32x16x16 -> 64x8x8
      {"R32.3", 64, 128, 8, 2, 1, false},    // -> 128x4x4
      {"large", 256, 512, 64, 2, 1, true},   // 256x64x64 -> 512x32x32: 0.55 TFLOP per pass
  };
  return v;
}

// Generator transposed convolutions.
inline const std::vector<ConvLayer>& conv_transpose2d_layers() {
  static const std::vector<ConvLayer> v = {
      {"G64.1", 100, 512, 1, 1, 0, false},  // z 100x1x1 -> 512x4x4   (= G32.1)
      {"G64.2", 512, 256, 4, 2, 1, false},  // -> 256x8x8            (= G32.2)
      {"G64.3", 256, 128, 8, 2, 1, false},  // -> 128x16x16          (= G32.3)
      {"G64.4", 128, 64, 16, 2, 1, false},  // -> 64x32x32
      {"G64.5", 64, 3, 32, 2, 1, false},    // -> 3x64x64 image
      {"G32.1", 100, 512, 1, 1, 0, false},
      {"G32.2", 512, 256, 4, 2, 1, false},
      {"G32.3", 256, 128, 8, 2, 1, false},
      {"G32.4", 128, 3, 16, 2, 1, false},   // -> 3x32x32 image
      {"R32.2", 128, 64, 4, 2, 1, false},   // the README's narrow model (ngf 16): 128x4x4 -> 64x8x8
      {"R32.3", 64, 32, 8, 2, 1, false},    // -> 32x16x16
      {"large", 512, 256, 32, 2, 1, true},  // 512x32x32 -> 256x64x64: 0.55 TFLOP per pass
  };
  return v;
}

struct NormShape {
  const char* ids;  // the layers with this shape
  int64_t c, hw;
  bool large;
};

// BatchNorm2d inputs (per sample C x H x W); the batch is kBatch (kCpuBatch on the CPU).
inline const std::vector<NormShape>& batchnorm_shapes() {
  static const std::vector<NormShape> v = {
      {"G64.1 G32.1 D64.4 D32.3", 512, 4, false},
      {"G64.2 G32.2 D64.3 D32.2", 256, 8, false},
      {"G64.3 G32.3 D64.2", 128, 16, false},
      {"G64.4", 64, 32, false},
      {"large", 64, 128, true},  // 537 MB
  };
  return v;
}

struct ActShape {
  const char* ids;
  int64_t n, c, h, w;  // an NCHW activation
  bool large;          // GPU only
  int64_t numel() const { return n * c * h * w; }
};

// Activation tensors for element-wise kernels: outputs of DCGAN layers and a GPU-filling size.
inline const std::vector<ActShape>& activation_shapes() {
  static const std::vector<ActShape> v = {
      {"G64.1 out", kBatch, 512, 4, 4, false},                 // 1M elements, 4 MB
      {"D64.1 out, G64.4 out", kBatch, 64, 32, 32, false},     // 8M elements, 32 MB
      {"large", kBatch, 128, 64, 64, true},                    // 2^26 elements, 256 MB
  };
  return v;
}

// "128x3x64x64" for names; names carry the shape so runs can be compared case by case.
inline std::string dims_str(const std::vector<int64_t>& d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + std::to_string(d[i]);
  return s;
}

}  // namespace gan::bench
