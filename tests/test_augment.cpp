// Augmentation and the generators' upsampling choices: each real image is itself, mirrored, or
// shifted within the bound; DiffAugment is differentiable (finite differences through the drawn
// transforms) and its gradient reaches the generator; runs with every transform resume exactly;
// --upsample nearest / pixelshuffle build the layers and names they promise.
#include <cmath>

#include "engine/autograd/gradcheck.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "models/augment.h"
#include "models/model.h"
#include "models/trainer.h"
#include "tests/resume_check.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

// x [C, H, W] (host vector of one sample) shifted by (dy, dx) with zero padding.
std::vector<double> shifted(const std::vector<double>& x, int64_t c, int64_t h, int64_t w, int64_t dy, int64_t dx) {
  std::vector<double> out(x.size(), 0.0);
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx) {
        const int64_t sy = y - dy, sx = xx - dx;
        if (sy >= 0 && sy < h && sx >= 0 && sx < w) out[(k * h + y) * w + xx] = x[(k * h + sy) * w + sx];
      }
  return out;
}

std::vector<double> mirrored(const std::vector<double>& x, int64_t c, int64_t h, int64_t w) {
  std::vector<double> out(x.size());
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx) out[(k * h + y) * w + xx] = x[(k * h + y) * w + (w - 1 - xx)];
  return out;
}

std::vector<double> sample(const Tensor& x, int64_t i) {
  std::vector<double> all = x.to(DType::Float64).to_double_vector();
  const int64_t per = x.numel() / x.size(0);
  return {all.begin() + i * per, all.begin() + (i + 1) * per};
}

models::TrainConfig tiny(int64_t steps) {
  models::TrainConfig c;
  c.model.arch = "dcgan32";
  c.model.nz = 6;
  c.model.ngf = c.model.ndf = 4;
  c.model.image_size = 32;
  c.batch = 4;
  c.steps = steps;
  c.seed = 11;
  return c;
}

}  // namespace

TEST(Augment, RealImagesAreThemselvesMirroredOrShiftedWithinTheBound) {
  Generator gen(1), data(2);
  const int64_t n = 48, c = 2, h = 16, w = 16;  // shifts up to round(16 / 8) = 2
  Tensor x = Tensor::randn({n, c, h, w}, &data);
  Tensor flipped = models::augment_real(x, {"flip"}, gen);
  int mirrored_count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto o = sample(flipped, i), in = sample(x, i);
    const bool same = o == in, mir = o == mirrored(in, c, h, w);
    ASSERT_TRUE(same || mir) << "sample " << i;
    mirrored_count += mir;
  }
  EXPECT_GT(mirrored_count, n / 4);  // p = 1/2 each
  EXPECT_LT(mirrored_count, 3 * n / 4);

  Tensor moved = models::augment_real(x, {"translate"}, gen);
  int unmoved = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto o = sample(moved, i), in = sample(x, i);
    bool found = false;
    for (int64_t dy = -2; dy <= 2 && !found; ++dy)
      for (int64_t dx = -2; dx <= 2 && !found; ++dx)
        if (o == shifted(in, c, h, w, dy, dx)) found = true, unmoved += dy == 0 && dx == 0;
    ASSERT_TRUE(found) << "sample " << i << " is no shift of at most 2 pixels";
  }
  EXPECT_LT(unmoved, n / 4);  // 1 of 25 shifts is (0, 0)
}

TEST(Augment, SpecsAreCheckedByName) {
  EXPECT_EQ(models::parse_augment_spec("color,cutout", "--diffaugment"), (std::vector<std::string>{"color", "cutout"}));
  EXPECT_TRUE(models::parse_augment_spec("", "--augment").empty());
  for (auto [spec, flag] : {std::pair<const char*, const char*>{"flip,rotate", "--augment"},
                            {"color,", "--diffaugment"}, {"translate", "--diffaugment"}, {"flip,flip", "--augment"}}) {
    try {
      models::parse_augment_spec(spec, flag);
      ADD_FAILURE() << flag << " " << spec << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  }
  models::TrainConfig t = tiny(1);
  t.diffaugment = "colour";
  EXPECT_THROW(t.validate(), Error);
}

TEST(Augment, DiffAugmentIsDifferentiableThroughItsDrawnTransforms) {
  Generator data(3);
  Tensor x = Tensor::randn({3, 3, 8, 8}, &data, DType::Float64).requires_grad_();
  for (std::vector<std::string> policy : {std::vector<std::string>{"color"}, {"translation"}, {"cutout"},
                                          {"color", "translation", "cutout"}}) {
    auto f = [&](const std::vector<Tensor>& in) {
      Generator g(7);  // the same draws at every evaluation: finite differences see one fixed map
      return models::diff_augment(in[0], policy, g);
    };
    GradcheckResult r = gradcheck(f, {x});
    EXPECT_TRUE(r.ok) << policy.size() << " transforms: " << r.report;
    Generator g(7);
    EXPECT_GT(rel_error(models::diff_augment(x.detach(), policy, g), x.detach()), 1e-3);  // it did transform
  }
  // Cutout zeroes a square of half the side: a quarter of the pixels where it lies inside.
  Tensor ones = Tensor::full({64, 1, 16, 16}, 1.0);
  Generator g(9);
  std::vector<double> v = models::diff_augment(ones, {"cutout"}, g).to_double_vector();
  double zeros = 0;
  for (double e : v) zeros += e == 0;
  EXPECT_GT(zeros / static_cast<double>(v.size()), 0.12);
  EXPECT_LE(zeros / static_cast<double>(v.size()), 0.25);
}

TEST(Augment, DiffAugmentGradientReachesTheGeneratorAndRunsResumeExactly) {
  io::ImageDataset ds = random_images(16, 1, 32, 4);
  models::TrainConfig c = tiny(6);
  c.augment = "flip,translate";
  c.diffaugment = "color,translation,cutout";
  // The generator step's gradient with and without DiffAugment, from the same weights and inputs.
  auto g_grad = [&](const std::string& policy) {
    models::TrainConfig cc = c;
    cc.diffaugment = policy;
    models::Trainer t(cc, ds, Device::cpu());
    std::vector<double> grad;
    models::StepHooks hooks;
    hooks.before_optimizer_step = [&](const models::StepPoint& at, const Tensor&) {
      if (at.phase != models::Phase::Generator) return;
      for (auto& [n, p] : t.network("generator").named_parameters())
        for (double e : p.grad().to(DType::Float64).to_double_vector()) grad.push_back(e);
    };
    t.train_step(&hooks);
    return grad;
  };
  std::vector<double> with = g_grad(c.diffaugment), without = g_grad("");
  ASSERT_EQ(with.size(), without.size());
  double norm = 0, diff = 0;
  for (size_t i = 0; i < with.size(); ++i) norm += with[i] * with[i], diff += (with[i] - without[i]) * (with[i] - without[i]);
  EXPECT_GT(norm, 0);
  EXPECT_GT(std::sqrt(diff), 1e-3 * std::sqrt(norm));  // G's gradient went through the transforms

  expect_exact_resume(c, ds, 6, 3);
}

TEST(Augment, UpsamplingChoicesBuildTheirLayers) {
  Generator gen(5);
  for (const char* how : {"nearest", "pixelshuffle"}) {
    models::ModelConfig m = tiny(1).model;
    m.upsample = how;
    auto g = models::build_generator(m, gen);
    std::map<std::string, Shape> shapes;
    for (auto& [n, v] : g->state_dict())
      if (!v.is_counter) shapes[n] = v.tensor.shape();
    // main.0 ConvTranspose2d(6 -> 32, 4x4 to 4 x 4), BN, ReLU; then the first doubling at 3, 4.
    EXPECT_EQ(shapes.at("main.0.weight"), (Shape{6, 32, 4, 4}));
    if (std::string(how) == "nearest") EXPECT_EQ(shapes.at("main.4.weight"), (Shape{16, 32, 3, 3}));
    else EXPECT_EQ(shapes.at("main.3.weight"), (Shape{64, 32, 3, 3}));  // 4 x 16 channels, shuffled to 16
    NoGradGuard no_grad;
    g->eval();
    Tensor y = g->forward(Tensor::randn({2, 6, 1, 1}, &gen));
    EXPECT_EQ(y.shape(), (Shape{2, 1, 32, 32})) << how;
  }
  models::TrainConfig c = tiny(2);
  c.model.upsample = "pixelshuffle";
  io::ImageDataset ds = random_images(8, 1, 32, 6);
  models::Trainer t(c, ds, Device::cpu());
  EXPECT_TRUE(std::isfinite(t.train_step()["loss_g"].item()));
  c.model.arch = "mlp";
  c.model.image_size = 28;
  EXPECT_THROW(c.validate(), Error);  // the MLP has no upsampling layers
}
