// pytorch-fid's InceptionV3 in engine ops. The layer table below is the single description of the
// network: it names the weights the file must hold and gives each conv its geometry; the block
// functions only wire the branches together.
#include "models/eval/inception.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "engine/autograd/grad_mode.h"
#include "engine/core/error.h"
#include "engine/ops/ops.h"

namespace gan::models::eval {

namespace {

// One BasicConv2d: its state_dict prefix and geometry.
struct ConvSpec {
  std::string name;
  int64_t cin, cout, kh, kw, stride, pad_h, pad_w;
};

// Square-kernel and rectangular-kernel rows of the table.
void sq(std::vector<ConvSpec>& t, const std::string& name, int64_t cin, int64_t cout, int64_t k, int64_t stride = 1,
        int64_t pad = 0) {
  t.push_back({name, cin, cout, k, k, stride, pad, pad});
}
void rect(std::vector<ConvSpec>& t, const std::string& name, int64_t cin, int64_t cout, int64_t kh, int64_t kw) {
  t.push_back({name, cin, cout, kh, kw, 1, kh / 2, kw / 2});  // "same" padding for 1x7, 7x1, 1x3, 3x1
}

void table_a(std::vector<ConvSpec>& t, const std::string& n, int64_t cin, int64_t pool_features) {
  sq(t, n + ".branch1x1", cin, 64, 1);
  sq(t, n + ".branch5x5_1", cin, 48, 1);
  sq(t, n + ".branch5x5_2", 48, 64, 5, 1, 2);
  sq(t, n + ".branch3x3dbl_1", cin, 64, 1);
  sq(t, n + ".branch3x3dbl_2", 64, 96, 3, 1, 1);
  sq(t, n + ".branch3x3dbl_3", 96, 96, 3, 1, 1);
  sq(t, n + ".branch_pool", cin, pool_features, 1);
}

void table_b(std::vector<ConvSpec>& t, const std::string& n, int64_t cin) {
  sq(t, n + ".branch3x3", cin, 384, 3, 2);
  sq(t, n + ".branch3x3dbl_1", cin, 64, 1);
  sq(t, n + ".branch3x3dbl_2", 64, 96, 3, 1, 1);
  sq(t, n + ".branch3x3dbl_3", 96, 96, 3, 2);
}

void table_c(std::vector<ConvSpec>& t, const std::string& n, int64_t c7) {
  sq(t, n + ".branch1x1", 768, 192, 1);
  sq(t, n + ".branch7x7_1", 768, c7, 1);
  rect(t, n + ".branch7x7_2", c7, c7, 1, 7);
  rect(t, n + ".branch7x7_3", c7, 192, 7, 1);
  sq(t, n + ".branch7x7dbl_1", 768, c7, 1);
  rect(t, n + ".branch7x7dbl_2", c7, c7, 7, 1);
  rect(t, n + ".branch7x7dbl_3", c7, c7, 1, 7);
  rect(t, n + ".branch7x7dbl_4", c7, c7, 7, 1);
  rect(t, n + ".branch7x7dbl_5", c7, 192, 1, 7);
  sq(t, n + ".branch_pool", 768, 192, 1);
}

void table_d(std::vector<ConvSpec>& t, const std::string& n, int64_t cin) {
  sq(t, n + ".branch3x3_1", cin, 192, 1);
  sq(t, n + ".branch3x3_2", 192, 320, 3, 2);
  sq(t, n + ".branch7x7x3_1", cin, 192, 1);
  rect(t, n + ".branch7x7x3_2", 192, 192, 1, 7);
  rect(t, n + ".branch7x7x3_3", 192, 192, 7, 1);
  sq(t, n + ".branch7x7x3_4", 192, 192, 3, 2);
}

void table_e(std::vector<ConvSpec>& t, const std::string& n, int64_t cin) {
  sq(t, n + ".branch1x1", cin, 320, 1);
  sq(t, n + ".branch3x3_1", cin, 384, 1);
  rect(t, n + ".branch3x3_2a", 384, 384, 1, 3);
  rect(t, n + ".branch3x3_2b", 384, 384, 3, 1);
  sq(t, n + ".branch3x3dbl_1", cin, 448, 1);
  sq(t, n + ".branch3x3dbl_2", 448, 384, 3, 1, 1);
  rect(t, n + ".branch3x3dbl_3a", 384, 384, 1, 3);
  rect(t, n + ".branch3x3dbl_3b", 384, 384, 3, 1);
  sq(t, n + ".branch_pool", cin, 192, 1);
}

// Every BasicConv2d, in torchvision's order. Channel counts in the comments: block outputs.
const std::vector<ConvSpec>& conv_table() {
  static const std::vector<ConvSpec> table = [] {
    std::vector<ConvSpec> t;
    sq(t, "Conv2d_1a_3x3", 3, 32, 3, 2);      // 32 x 149 x 149
    sq(t, "Conv2d_2a_3x3", 32, 32, 3);        // 32 x 147 x 147
    sq(t, "Conv2d_2b_3x3", 32, 64, 3, 1, 1);  // 64 x 147 x 147, max pool -> 73 x 73
    sq(t, "Conv2d_3b_1x1", 64, 80, 1);        // 80 x 73 x 73
    sq(t, "Conv2d_4a_3x3", 80, 192, 3);       // 192 x 71 x 71, max pool -> 35 x 35
    table_a(t, "Mixed_5b", 192, 32);          // 256 x 35 x 35
    table_a(t, "Mixed_5c", 256, 64);          // 288 x 35 x 35
    table_a(t, "Mixed_5d", 288, 64);          // 288 x 35 x 35
    table_b(t, "Mixed_6a", 288);              // 768 x 17 x 17
    table_c(t, "Mixed_6b", 128);              // 768 x 17 x 17
    table_c(t, "Mixed_6c", 160);
    table_c(t, "Mixed_6d", 160);
    table_c(t, "Mixed_6e", 192);
    table_d(t, "Mixed_7a", 768);              // 1280 x 8 x 8
    table_e(t, "Mixed_7b", 1280);             // 2048 x 8 x 8
    table_e(t, "Mixed_7c", 2048);             // 2048 x 8 x 8
    return t;
  }();
  return table;
}

constexpr double kBatchNormEps = 0.001;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<std::pair<std::string, Shape>> inception_tensor_shapes() {
  std::vector<std::pair<std::string, Shape>> shapes;
  for (const ConvSpec& c : conv_table()) {
    shapes.emplace_back(c.name + ".conv.weight", Shape{c.cout, c.cin, c.kh, c.kw});
    for (const char* b : {"weight", "bias", "running_mean", "running_var"})
      shapes.emplace_back(c.name + ".bn." + b, Shape{c.cout});
  }
  shapes.emplace_back("fc.weight", Shape{kInceptionClasses, kInceptionFeatures});
  shapes.emplace_back("fc.bias", Shape{kInceptionClasses});
  return shapes;
}

InceptionV3::InceptionV3(const io::SafetensorsFile& weights, const std::string& source, Device device)
    : device_(device) {
  const std::string where = "inception weights " + source;
  const auto shapes = inception_tensor_shapes();
  std::set<std::string> expected;
  for (const auto& [name, shape] : shapes) expected.insert(name);
  // A stray tensor means the file belongs to another network (torchvision's own Inception, with
  // AuxLogits) or the names are off: refuse rather than silently run on partial weights.
  for (const auto& [name, stored] : weights.tensors)
    GAN_CHECK(expected.count(name) || ends_with(name, ".num_batches_tracked"),
              where << ": unexpected tensor " << name << " " << shape_str(stored.shape)
                    << " (not part of pytorch-fid's InceptionV3)");
  std::map<std::string, Tensor> t;  // float64, CPU
  for (const auto& [name, shape] : shapes) {
    const io::StoredTensor* s = weights.find(name);
    GAN_CHECK(s, where << ": tensor " << name << " is missing (expected shape " << shape_str(shape) << ")");
    GAN_CHECK(s->shape == shape, where << ": tensor " << name << " has shape " << shape_str(s->shape)
                                       << ", expected " << shape_str(shape));
    t[name] = s->to_tensor().to(DType::Float64);
  }
  // Eval-mode batch norm is per-channel affine: gamma (conv(x) - mean) / sqrt(var + eps) + beta
  // equals conv(x) with weights scaled by a = gamma / sqrt(var + eps) plus the bias beta - a mean.
  // Folded in float64, it saves a pass over every activation and changes results by rounding only.
  for (const ConvSpec& c : conv_table()) {
    const auto w = t[c.name + ".conv.weight"].to_double_vector();
    const auto gamma = t[c.name + ".bn.weight"].to_double_vector(), beta = t[c.name + ".bn.bias"].to_double_vector();
    const auto mean = t[c.name + ".bn.running_mean"].to_double_vector();
    const auto var = t[c.name + ".bn.running_var"].to_double_vector();
    const int64_t per_out = c.cin * c.kh * c.kw;
    std::vector<float> fw(w.size()), fb(static_cast<size_t>(c.cout));
    for (int64_t o = 0; o < c.cout; ++o) {
      const size_t oi = static_cast<size_t>(o);
      GAN_CHECK(var[oi] + kBatchNormEps > 0, where << ": tensor " << c.name << ".bn.running_var has value "
                                                   << var[oi] << " at " << o << " (a variance must be >= 0)");
      const double a = gamma[oi] / std::sqrt(var[oi] + kBatchNormEps);
      for (int64_t i = 0; i < per_out; ++i) {
        const size_t k = static_cast<size_t>(o * per_out + i);
        fw[k] = static_cast<float>(w[k] * a);
      }
      fb[oi] = static_cast<float>(beta[oi] - a * mean[oi]);
    }
    Conv conv;
    conv.weight = Tensor::from_vector(fw, {c.cout, c.cin, c.kh, c.kw}).to(device);
    conv.bias = Tensor::from_vector(fb, {c.cout}).to(device);
    conv.stride = c.stride;
    conv.pad_h = c.pad_h;
    conv.pad_w = c.pad_w;
    convs_[c.name] = conv;
  }
  fc_weight_ = t["fc.weight"].to(DType::Float32).to(device);
  fc_bias_ = t["fc.bias"].to(DType::Float32).to(device);
}

InceptionV3 InceptionV3::load(const std::string& path, Device device) {
  return InceptionV3(io::load_safetensors(path), path, device);
}

Tensor InceptionV3::conv(const std::string& name, const Tensor& x) const {
  const Conv& c = convs_.at(name);
  return relu(conv2d(x, c.weight, c.bias, {c.stride, c.stride, c.pad_h, c.pad_w, 0, 0}));
}

// The FID variant: padding not counted in the branch pool's average.
Tensor InceptionV3::block_a(const std::string& n, const Tensor& x) const {
  Tensor b1 = conv(n + ".branch1x1", x);
  Tensor b5 = conv(n + ".branch5x5_2", conv(n + ".branch5x5_1", x));
  Tensor b3 = conv(n + ".branch3x3dbl_3", conv(n + ".branch3x3dbl_2", conv(n + ".branch3x3dbl_1", x)));
  Tensor bp = conv(n + ".branch_pool", avg_pool2d(x, 3, 1, 1, false));
  return cat({b1, b5, b3, bp}, 1);
}

Tensor InceptionV3::block_b(const std::string& n, const Tensor& x) const {
  Tensor b3 = conv(n + ".branch3x3", x);
  Tensor bd = conv(n + ".branch3x3dbl_3", conv(n + ".branch3x3dbl_2", conv(n + ".branch3x3dbl_1", x)));
  return cat({b3, bd, max_pool2d(x, 3, 2)}, 1);
}

Tensor InceptionV3::block_c(const std::string& n, const Tensor& x) const {
  Tensor b1 = conv(n + ".branch1x1", x);
  Tensor b7 = conv(n + ".branch7x7_3", conv(n + ".branch7x7_2", conv(n + ".branch7x7_1", x)));
  Tensor bd = conv(n + ".branch7x7dbl_1", x);
  for (const char* k : {".branch7x7dbl_2", ".branch7x7dbl_3", ".branch7x7dbl_4", ".branch7x7dbl_5"})
    bd = conv(n + k, bd);
  Tensor bp = conv(n + ".branch_pool", avg_pool2d(x, 3, 1, 1, false));
  return cat({b1, b7, bd, bp}, 1);
}

Tensor InceptionV3::block_d(const std::string& n, const Tensor& x) const {
  Tensor b3 = conv(n + ".branch3x3_2", conv(n + ".branch3x3_1", x));
  Tensor b7 = conv(n + ".branch7x7x3_1", x);
  for (const char* k : {".branch7x7x3_2", ".branch7x7x3_3", ".branch7x7x3_4"}) b7 = conv(n + k, b7);
  return cat({b3, b7, max_pool2d(x, 3, 2)}, 1);
}

// Mixed_7b pools its last branch with an average (padding not counted), Mixed_7c with a max: the
// FID network's weights were trained that way.
Tensor InceptionV3::block_e(const std::string& n, const Tensor& x, bool max_pool) const {
  Tensor b1 = conv(n + ".branch1x1", x);
  Tensor s3 = conv(n + ".branch3x3_1", x);
  Tensor b3 = cat({conv(n + ".branch3x3_2a", s3), conv(n + ".branch3x3_2b", s3)}, 1);
  Tensor sd = conv(n + ".branch3x3dbl_2", conv(n + ".branch3x3dbl_1", x));
  Tensor bd = cat({conv(n + ".branch3x3dbl_3a", sd), conv(n + ".branch3x3dbl_3b", sd)}, 1);
  Tensor pooled = max_pool ? max_pool2d(x, 3, 1, 1) : avg_pool2d(x, 3, 1, 1, false);
  return cat({b1, b3, bd, conv(n + ".branch_pool", pooled)}, 1);
}

InceptionV3::Output InceptionV3::forward(const Tensor& images) const {
  GAN_CHECK(images.dim() == 4 && images.size(1) == 3,
            "inception: expected images [N, 3, H, W], got " << images.str());
  // pytorch-fid takes u in [0, 1] and computes 2 * resize(u) - 1. Each output pixel of a bilinear
  // resize is a weighted mean (weights summing to 1) of input pixels, so resize(2u - 1) =
  // 2 resize(u) - 1: resizing our [-1, 1] images directly is the same map, up to rounding.
  Tensor x = resize_bilinear(images, kInceptionSize, kInceptionSize);  // 3 x 299 x 299
  x = conv("Conv2d_2b_3x3", conv("Conv2d_2a_3x3", conv("Conv2d_1a_3x3", x)));
  x = max_pool2d(x, 3, 2);                                               // 64 x 73 x 73
  x = max_pool2d(conv("Conv2d_4a_3x3", conv("Conv2d_3b_1x1", x)), 3, 2);  // 192 x 35 x 35
  for (const char* n : {"Mixed_5b", "Mixed_5c", "Mixed_5d"}) x = block_a(n, x);
  x = block_b("Mixed_6a", x);  // 768 x 17 x 17
  for (const char* n : {"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"}) x = block_c(n, x);
  x = block_d("Mixed_7a", x);  // 1280 x 8 x 8
  x = block_e("Mixed_7b", x, false);
  x = block_e("Mixed_7c", x, true);  // 2048 x 8 x 8
  Output out;
  out.features = mean(x, {2, 3});  // [N, 2048]
  out.logits = linear(out.features, fc_weight_, fc_bias_);
  return out;
}

InceptionFeatureNet::InceptionFeatureNet(InceptionV3 net, int64_t batch) : net_(std::move(net)), batch_(batch) {
  GAN_CHECK(batch_ > 0, "inception: batch size must be positive, got " << batch_);
}

Features InceptionFeatureNet::compute(const Tensor& images) {
  GAN_CHECK(images.defined() && images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3),
            "inception: expected images [N, 3, H, W] (or [N, 1, H, W], repeated to 3 channels) in [-1, 1], got "
                << (images.defined() ? images.str() : "undefined"));
  GAN_CHECK(images.size(2) > 0 && images.size(3) > 0, "inception: images " << images.str() << " have no pixels");
  NoGradGuard no_grad;
  std::vector<Tensor> feats, probs;
  const int64_t n = images.size(0);
  for (int64_t b = 0; b < n; b += batch_) {
    Tensor x = slice(images, 0, b, std::min(n, b + batch_)).to(net_.device()).to(DType::Float32);
    if (x.size(1) == 1) x = cat({x, x, x}, 1);  // gray as RGB, as an image viewer converts it
    InceptionV3::Output o = net_.forward(x);
    feats.push_back(o.features.cpu().to(DType::Float64));
    probs.push_back(softmax(o.logits.cpu().to(DType::Float64)));
  }
  Features f;
  if (feats.empty()) {
    f.features = Tensor::zeros({0, kInceptionFeatures}, DType::Float64);
    f.probs = Tensor::zeros({0, kInceptionClasses}, DType::Float64);
    return f;
  }
  f.features = feats.size() == 1 ? feats[0] : cat(feats, 0);
  f.probs = probs.size() == 1 ? probs[0] : cat(probs, 0);
  return f;
}

std::unique_ptr<FeatureNet> make_inception_feature_net(const std::string& weights_path, Device device) {
  // Batches bound memory: the largest activation (Conv2d_2b_3x3's output, 64 x 147 x 147) is 5.5 MB
  // an image, and that layer's im2col matrix on the CPU 25 MB an image.
  const int64_t batch = device.is_cuda() ? 50 : 8;
  return std::make_unique<InceptionFeatureNet>(InceptionV3::load(weights_path, device), batch);
}

}  // namespace gan::models::eval
