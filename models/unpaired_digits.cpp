#include "models/unpaired_digits.h"

#include <algorithm>

#include "engine/autograd/grad_mode.h"
#include "engine/io/file_util.h"
#include "engine/ops/ops.h"
#include "models/eval/digits_net.h"
#include "models/eval/evaluate.h"

namespace gan::models {

namespace {
constexpr int64_t kDomainSize = 4500, kHeldOut = 1000;

io::ImageDataset subset(const io::ImageDataset& ds, int64_t first, int64_t n, const std::string& what) {
  io::ImageDataset out;
  out.count = n;
  out.channels = ds.channels;
  out.height = ds.height;
  out.width = ds.width;
  out.source = ds.source + " (" + what + ")";
  out.pixels.assign(ds.image(first), ds.image(first) + n * ds.image_bytes());
  if (!ds.labels.empty()) out.labels.assign(ds.labels.begin() + first, ds.labels.begin() + first + n);
  return out;
}

double mean_abs_diff(const Tensor& a, const Tensor& b) { return mean(abs(sub(a, b))).item(); }

double accuracy(eval::DigitsNet& net, const Tensor& images, const std::vector<int32_t>& labels) {
  NoGradGuard no_grad;
  int64_t right = 0;
  for (int64_t s = 0; s < images.size(0); s += 250) {
    const int64_t e = std::min(images.size(0), s + 250);
    const std::vector<float> logits = net(slice(images, 0, s, e)).to(Device::cpu()).to_float_vector();
    for (int64_t i = s; i < e; ++i) {
      const float* row = logits.data() + (i - s) * eval::kDigitsClasses;
      right += std::max_element(row, row + eval::kDigitsClasses) - row == labels[i];
    }
  }
  return static_cast<double>(right) / static_cast<double>(images.size(0));
}
}  // namespace

io::ImageDataset dilate3x3(const io::ImageDataset& ds) {
  io::ImageDataset out = ds;
  out.source = ds.source + " (dilated 3x3)";
  const int64_t h = ds.height, w = ds.width;
  for (int64_t plane = 0; plane < ds.count * ds.channels; ++plane) {
    const uint8_t* src = ds.pixels.data() + plane * h * w;
    uint8_t* dst = out.pixels.data() + plane * h * w;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        uint8_t m = 0;
        for (int64_t dy = -1; dy <= 1; ++dy)
          for (int64_t dx = -1; dx <= 1; ++dx) {
            const int64_t yy = y + dy, xx = x + dx;
            if (yy >= 0 && yy < h && xx >= 0 && xx < w) m = std::max(m, src[yy * w + xx]);
          }
        dst[y * w + x] = m;
      }
  }
  return out;
}

std::string write_unpaired_digits(const io::ImageDataset& mnist, const std::string& dir) {
  const int64_t need = 2 * kDomainSize + kHeldOut;
  GAN_CHECK(mnist.count >= need && mnist.channels == 1 && !mnist.labels.empty(),
            mnist.source << ": the unpaired digits task needs " << need << " labelled 1-channel digits, got "
                         << mnist.count << " images of " << mnist.channels << " channel(s)"
                         << (mnist.labels.empty() ? " without labels" : ""));
  const io::ImageDataset test = subset(mnist, 2 * kDomainSize, kHeldOut, "held out");
  const std::pair<std::string, io::ImageDataset> splits[] = {
      {"a", subset(mnist, 0, kDomainSize, "domain A")},
      {"b", dilate3x3(subset(mnist, kDomainSize, kDomainSize, "domain B"))},
      {"a-test", test},
      {"b-test", dilate3x3(test)}};
  std::string listed;
  for (const auto& [name, ds] : splits) {
    const std::string folder = dir + "/" + name;
    io::make_directories(folder);
    io::write_idx_dataset(ds, folder + "/train-images-idx3-ubyte", folder + "/train-labels-idx1-ubyte");
    listed += (listed.empty() ? "" : ", ") + folder + " (" + std::to_string(ds.count) + ")";
  }
  return listed;
}

TranslationScore score_unpaired_digits(const LoadedTranslator& ab, const LoadedTranslator& ba, const std::string& dir,
                                       const std::string& classifier_weights, int64_t columns) {
  GAN_CHECK(ab.direction == "a2b" && ba.direction == "b2a", "score: expected the a2b and the b2a translators");
  const io::ImageDataset test = io::read_mnist_like(dir + "/a-test");
  GAN_CHECK(test.height == eval::kDigitsSide && test.width == eval::kDigitsSide && !test.labels.empty(),
            dir << "/a-test: expected labelled 28x28 digits (written by gan unpaired-digits write)");
  const Tensor a = eval::dataset_images(test), target = eval::dataset_images(dilate3x3(test));
  GAN_CHECK(ab.config.model.image_size == test.height,
            "score: the model translates " << ab.config.model.image_size << "x" << ab.config.model.image_size
                                           << " images, the task's are " << test.height << "x" << test.width);
  TranslationScore s;
  s.images = a.size(0);
  const Tensor fake_b = translate_images(ab, a);
  s.mae_translated = mean_abs_diff(fake_b, target);
  s.mae_untranslated = mean_abs_diff(a, target);
  s.mae_back = mean_abs_diff(translate_images(ba, target), a);
  auto net = eval::load_digits_net(classifier_weights, Device::cpu());
  net->eval();
  const Tensor cycled = translate_images(ba, fake_b);
  s.cycle_accuracy = accuracy(*net, cycled, test.labels);
  s.input_accuracy = accuracy(*net, a, test.labels);
  const int64_t k = std::min(columns, s.images);
  s.rows = cat({slice(a, 0, 0, k), slice(fake_b, 0, 0, k), slice(target, 0, 0, k), slice(cycled, 0, 0, k)}, 0);
  return s;
}

}  // namespace gan::models
