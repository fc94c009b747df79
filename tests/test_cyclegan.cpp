// CycleGAN: the networks against the reference implementation's published layout and sizes, the
// history pool's behaviour, the recipe's losses recomputed by hand from a traced step, exact resume,
// the learning-rate schedule with a constant phase, the bundled unpaired task's files, and
// `gan translate` / `gan unpaired-digits` from the command line.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "engine/io/datasets.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "models/cyclegan.h"
#include "models/cyclegan_recipe.h"
#include "models/trace.h"
#include "models/trainer.h"
#include "models/unpaired_digits.h"
#include "tests/app_runner.h"
#include "tests/resume_check.h"
#include "tests/test_helpers.h"

using namespace gan;
using gan::test::random_images;

namespace {

std::set<std::string> names_of(const nn::Module& m) {
  std::set<std::string> out;
  for (auto& [n, v] : m.state_dict()) out.insert(n);
  return out;
}

// A small cyclegan config over c x s x s images.
models::TrainConfig small_config(int64_t c, int64_t s) {
  models::TrainConfig cfg;
  cfg.recipe = "cyclegan";
  cfg.data_b = "mnist";  // the tests hand the trainer its data; validation wants both domains named
  cfg.model.arch = "cyclegan";
  cfg.model.channels = c;
  cfg.model.image_size = s;
  cfg.model.ngf = 4;
  cfg.model.ndf = 4;
  cfg.model.res_blocks = 1;
  cfg.model.d_layers = 2;
  cfg.loss = "lsgan";
  cfg.batch = 3;
  cfg.steps = 6;
  cfg.pool_size = 4;  // fills within the run, then swaps
  cfg.n_samples = 2;
  cfg.seed = 11;
  cfg.lr_schedule = "linear";
  cfg.lr_decay_start = 0.5;
  return cfg;
}

}  // namespace

// The reference's print_network reports 11.378 M parameters for its default generator
// (ResnetGenerator(3, 3, 64, instance norm, 9 blocks)) and 2.765 M for its default PatchGAN
// (NLayerDiscriminator(3, 64, n_layers=3)); worked out layer by layer these are exactly
// 11,378,179 and 2,764,737.
TEST(CycleGanNets, DefaultSizesAreTheReferences) {
  Generator g(0);
  models::ResnetGenerator gen(3, 64, 9, g);
  models::PatchDiscriminator d(3, 64, 3, g);
  EXPECT_EQ(gen.num_parameters(), 11378179);
  EXPECT_EQ(d.num_parameters(), 2764737);
}

// The state dict names are the reference's nn.Sequential indices: pads, norms and activations
// hold places, the residual blocks nest their conv_block.
TEST(CycleGanNets, StateDictNamesFollowTheReferenceLayout) {
  Generator g(0);
  models::ResnetGenerator gen(1, 4, 2, g);
  const std::set<std::string> expected{
      "model.1.weight",  "model.1.bias",  "model.4.weight",  "model.4.bias",  "model.7.weight",  "model.7.bias",
      "model.10.conv_block.1.weight", "model.10.conv_block.1.bias", "model.10.conv_block.5.weight",
      "model.10.conv_block.5.bias", "model.11.conv_block.1.weight", "model.11.conv_block.1.bias",
      "model.11.conv_block.5.weight", "model.11.conv_block.5.bias",
      "model.12.weight", "model.12.bias", "model.15.weight", "model.15.bias", "model.19.weight", "model.19.bias"};
  EXPECT_EQ(names_of(gen), expected);
  models::PatchDiscriminator d(1, 4, 3, g);
  EXPECT_EQ(names_of(d), (std::set<std::string>{"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias",
                                                "model.5.weight", "model.5.bias", "model.8.weight", "model.8.bias",
                                                "model.11.weight", "model.11.bias"}));
  // Shapes: the upsampling layers are ConvTranspose2d [in, out, 3, 3].
  for (auto& [n, p] : gen.named_parameters()) {
    if (n == "model.12.weight") {
      EXPECT_EQ(p.shape(), (Shape{16, 8, 3, 3}));
    }
  }
}

TEST(CycleGanNets, ShapesAndTheSeventyPixelPatch) {
  Generator g(1);
  models::ResnetGenerator gen(3, 4, 1, g);
  Tensor x = Tensor::rand({2, 3, 28, 36}, &g, -1.0, 1.0);
  Tensor y = gen(x);
  EXPECT_EQ(y.shape(), x.shape());
  for (float v : y.to_float_vector()) ASSERT_TRUE(v > -1.0f && v < 1.0f) << v;  // tanh
  EXPECT_THROW(gen(Tensor::zeros({1, 3, 30, 30})), Error);  // not a multiple of 4: named error
  // 256 x 256 through 3 strided layers: the reference's 30 x 30 map of scores.
  models::PatchDiscriminator d3(1, 2, 3, g);
  EXPECT_EQ(d3(Tensor::zeros({1, 1, 256, 256})).shape(), (Shape{1, 1, 30, 30}));
  // One score's receptive field is 70 x 70: 1 + sum over the convolutions of (k - 1) times the
  // product of the strides before it (instance norm couples a whole plane, so a gradient probe
  // would see the whole image; the convolutions alone set the patch).
  int64_t field = 1, jump = 1, convs = 0;
  for (auto& [path, m] : d3.named_modules())
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      field += (conv->kernel_size - 1) * jump;
      jump *= conv->params.stride_h;
      ++convs;
    }
  EXPECT_EQ(convs, 5);
  EXPECT_EQ(field, 70);
  models::PatchDiscriminator d2(1, 2, 2, g);
  EXPECT_EQ(d2(Tensor::zeros({2, 1, 32, 32})).shape(), (Shape{2, 1, 6, 6}));
}

TEST(CycleGanPool, FillsThenSwapsAboutHalf) {
  models::ImagePool pool(4, 1, 2);
  Generator g(3);
  auto batch = [](float first, int64_t n) {  // images holding first, first + 1, ... everywhere
    std::vector<float> v;
    for (int64_t i = 0; i < n; ++i)
      for (int k = 0; k < 4; ++k) v.push_back(first + static_cast<float>(i));
    return Tensor::from_vector(v, {n, 1, 2, 2});
  };
  // Filling: every image comes back unchanged and is kept.
  Tensor out = pool.query(batch(0, 3), g);
  EXPECT_EQ(out.to_float_vector(), batch(0, 3).to_float_vector());
  EXPECT_EQ(pool.held(), 3);
  out = pool.query(batch(3, 3), g);  // the 4th fills the pool, the 5th and 6th may swap
  EXPECT_EQ(pool.held(), 4);
  EXPECT_EQ(out.to_float_vector()[0], 3.0f);
  // Full: each returned image is either the new one or one held before; held ones are replaced.
  int swapped = 0, total = 0;
  std::set<float> held{0, 1, 2, 3};
  for (int q = 0; q < 100; ++q) {
    const float base = 100.0f + 10.0f * static_cast<float>(q);
    std::vector<float> r = pool.query(batch(base, 2), g).to_float_vector();
    for (int i = 0; i < 2; ++i) {
      ++total;
      const float got = r[static_cast<size_t>(i) * 4];
      if (got != base + static_cast<float>(i)) ++swapped;
    }
    for (float v : r) EXPECT_TRUE(std::isfinite(v));
  }
  EXPECT_GT(swapped, total * 35 / 100);
  EXPECT_LT(swapped, total * 65 / 100);
  // A pool of size 0 is the identity.
  models::ImagePool none(0, 1, 2);
  EXPECT_EQ(none.query(batch(7, 2), g).to_float_vector(), batch(7, 2).to_float_vector());
  EXPECT_THROW(pool.query(Tensor::zeros({1, 3, 2, 2}), g), Error);
}

// The traced step's two losses recomputed from the trace's inputs with freshly built networks: the
// critic loss from the initial weights (the pools are empty, so D sees this step's fakes), the
// generator loss from the initial generators and the discriminators after their update.
TEST(CycleGanRecipe, TracedLossesMatchTheFormulas) {
  models::TrainConfig cfg = small_config(1, 16);
  io::ImageDataset a = random_images(12, 1, 16, 1), b = random_images(10, 1, 16, 2);
  models::Trainer t(cfg, models::unpaired_source(a, b, cfg.batch, 16, cfg.seed), Device::cpu());
  models::StepTrace tr = models::trace_step(t);
  const Tensor& ra = tr.get("input.real");
  const Tensor& rb = tr.get("input.real_b");
  ASSERT_EQ(rb.shape(), (Shape{3, 1, 16, 16}));

  Generator init(cfg.seed);  // the recipe's construction order
  models::ResnetGenerator g_ab(1, 4, 1, init), g_ba(1, 4, 1, init);
  models::PatchDiscriminator d_a(1, 4, 2, init), d_b(1, 4, 2, init);
  auto mse_to = [](const Tensor& p, double target) { return mean(square(add(p, -target))); };
  auto l1 = [](const Tensor& x, const Tensor& y) { return mean(abs(sub(x, y))); };
  double loss_d;
  {
    NoGradGuard ng;
    Tensor fb = g_ab(ra), fa = g_ba(rb);
    loss_d = (0.5 * (mse_to(d_b(rb), 1).item() + mse_to(d_b(fb), 0).item()) +
              0.5 * (mse_to(d_a(ra), 1).item() + mse_to(d_a(fa), 0).item()));
  }
  EXPECT_NEAR(tr.loss_d.item(), loss_d, 1e-5 * std::abs(loss_d));
  // The discriminators as the generator step saw them: their weights after the step.
  auto load_updated = [&](nn::Module& m, const std::string& prefix) {
    std::map<std::string, nn::StateValue> s;
    for (auto& [n, v] : m.state_dict()) s.emplace(n, nn::StateValue::of(tr.get(prefix + "." + n + ".updated")));
    m.load_state_dict(s, "trace");
  };
  load_updated(d_a, "d_a");
  load_updated(d_b, "d_b");
  NoGradGuard ng;
  Tensor fb = g_ab(ra), fa = g_ba(rb);
  const double lam = cfg.cycle_lambda, lid = cfg.cycle_lambda * cfg.identity_lambda;
  const double loss_g = mse_to(d_b(fb), 1).item() + mse_to(d_a(fa), 1).item() + lam * l1(g_ba(fb), ra).item() +
                        lam * l1(g_ab(fa), rb).item() + lid * l1(g_ab(rb), rb).item() + lid * l1(g_ba(ra), ra).item();
  EXPECT_NEAR(tr.loss_g.item(), loss_g, 1e-5 * std::abs(loss_g));
}

// The trace is the trainer's step: a traced trainer and an untraced one end in the same state.
TEST(CycleGanRecipe, TracedStepEqualsTheTrainersStep) {
  models::TrainConfig cfg = small_config(3, 16);
  io::ImageDataset a = random_images(9, 3, 16, 4), b = random_images(9, 3, 16, 5);
  models::Trainer traced(cfg, models::unpaired_source(a, b, cfg.batch, 16, cfg.seed), Device::cpu());
  models::Trainer plain(cfg, models::unpaired_source(a, b, cfg.batch, 16, cfg.seed), Device::cpu());
  models::trace_step(traced);
  plain.train_step();
  const io::SafetensorsFile x = traced.checkpoint(), y = plain.checkpoint();
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  for (const auto& [name, st] : x.tensors) EXPECT_TRUE(st.data == y.find(name)->data) << name;
  // Every term is logged, and the pools' images travel in the checkpoint.
  EXPECT_NE(y.find("pool_a.images"), nullptr);
  EXPECT_NE(y.find("g_ab.model.1.weight"), nullptr);
  EXPECT_NE(y.find("optim.generators.g_ba.model.1.weight.exp_avg"), nullptr);
}

TEST(CycleGanRecipe, LogsEveryTermAndResumesExactly) {
  models::TrainConfig cfg = small_config(1, 12);
  io::ImageDataset a = random_images(7, 1, 12, 6), b = random_images(11, 1, 12, 7);
  models::Trainer t(cfg, models::unpaired_source(a, b, cfg.batch, 12, cfg.seed), Device::cpu());
  models::StepScalars s = t.train_step();
  std::set<std::string> cols;
  for (auto& [n, v] : s.values) cols.insert(n);
  for (const char* n : {"loss_d", "loss_g", "loss_d_a", "loss_d_b", "adv_ab", "adv_ba", "cycle_a", "cycle_b", "idt_a", "idt_b"})
    EXPECT_TRUE(cols.count(n)) << n;
  // 8 steps over domains of 2 and 3 batches, the pools full after 2: resumed at 3 it ends where
  // the straight run does, byte for byte.
  cfg.steps = 8;
  models::Trainer straight(cfg, models::unpaired_source(a, b, cfg.batch, 12, cfg.seed), Device::cpu());
  for (int i = 0; i < 8; ++i) straight.train_step();
  models::Trainer first(cfg, models::unpaired_source(a, b, cfg.batch, 12, cfg.seed), Device::cpu());
  for (int i = 0; i < 3; ++i) first.train_step();
  const std::string bytes = io::serialize_safetensors(first.checkpoint());
  models::Trainer resumed(cfg, models::unpaired_source(a, b, cfg.batch, 12, cfg.seed), Device::cpu());
  resumed.restore(io::parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem"), "mem");
  for (int i = 3; i < 8; ++i) resumed.train_step();
  const io::SafetensorsFile x = straight.checkpoint(), y = resumed.checkpoint();
  for (const auto& [name, st] : x.tensors) EXPECT_TRUE(st.data == y.find(name)->data) << name << " differs after resume";
  EXPECT_EQ(x.metadata, y.metadata);
}

TEST(CycleGanConfig, ScheduleHoldsThenDecaysAndBadSettingsAreNamed) {
  models::TrainConfig c = small_config(1, 16);
  c.lr = 1e-3;
  EXPECT_DOUBLE_EQ(c.lr_at(0, 100), 1e-3);
  EXPECT_DOUBLE_EQ(c.lr_at(50, 100), 1e-3);
  EXPECT_NEAR(c.lr_at(75, 100), 0.5e-3, 1e-12);
  EXPECT_NEAR(c.lr_at(100, 100), 0.0, 1e-12);
  auto refused = [](models::TrainConfig bad, const std::string& words) {
    try {
      bad.validate();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "accepted: " << words;
  };
  models::TrainConfig x = c;
  x.data_b = "";
  refused(x, "--data-b");
  x = c;
  x.loss = "wgan-gp";
  refused(x, "lsgan");
  x = c;
  x.recipe = "gan";
  refused(x, "go together");
  x = c;
  x.ema = 0.999;
  refused(x, "--ema");
  models::ModelConfig m = c.model;
  m.image_size = 30;
  EXPECT_THROW(models::cyclegan_defaults(m), Error);
  m.image_size = 16;
  m.d_layers = 3;  // 16 / 8 - 2 = 0 scores
  EXPECT_THROW(models::cyclegan_defaults(m), Error);
  m = models::ModelConfig{};
  m.arch = "cyclegan";
  m.image_size = 256;
  models::cyclegan_defaults(m);
  EXPECT_EQ(m.res_blocks, 9);
  EXPECT_EQ(m.d_layers, 3);
  m.res_blocks = m.d_layers = 0;
  m.image_size = 64;
  models::cyclegan_defaults(m);
  EXPECT_EQ(m.res_blocks, 6);
  EXPECT_EQ(m.d_layers, 2);
}

TEST(UnpairedDigits, DilationAndIdxRoundTrip) {
  io::ImageDataset ds;
  ds.count = 1;
  ds.channels = 1;
  ds.height = 3;
  ds.width = 4;
  ds.pixels = {0, 0, 0, 0,  //
               0, 9, 0, 0,  //
               0, 0, 0, 5};
  io::ImageDataset d = models::dilate3x3(ds);
  EXPECT_EQ(d.pixels, (std::vector<uint8_t>{9, 9, 9, 0, 9, 9, 9, 5, 9, 9, 9, 5}));
  ds.labels = {7};
  io::IdxArray img = io::parse_idx(io::encode_idx({0x08, {1, 3, 4}, ds.pixels}), "mem");
  EXPECT_EQ(img.dims, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(img.data, ds.pixels);
  EXPECT_THROW(io::encode_idx({0x08, {2, 3, 4}, ds.pixels}), Error);  // payload too short
}

#ifdef GAN_APP_PATH
class CycleGanApp : public gan::test::AppRunner {};

TEST_F(CycleGanApp, TrainTranslateAndScoreOnTheBundledTask) {
  auto r = gan("unpaired-digits write --out task");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(p("task/b-test/train-images-idx3-ubyte")));
  r = gan("train --recipe cyclegan --data-a mnist:task/a --data-b mnist:task/b --ngf 4 --ndf 4 --res-blocks 1 "
          "--batch 2 --steps 3 --sample-every 3 --log-every 1 --out run");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("cyc_A"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(p("run/samples/last.png")));
  // An array in, an array out; a folder in, a folder of the same names out.
  io::save_npy(p("x.npy"), Tensor::rand({3, 1, 28, 28}, nullptr, -1.0, 1.0));
  r = gan("translate --checkpoint run/checkpoints/last.safetensors --direction a2b --in x.npy --out y.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(io::load_npy(p("y.npy")).shape(), (Shape{3, 1, 28, 28}));
  r = gan("translate --checkpoint run/checkpoints/last.safetensors --direction b2a --in run/samples --out back");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(p("back/last.png")));
  r = gan("unpaired-digits score --checkpoint run/checkpoints/last.safetensors --task task --grid g.png");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(p("g.png")));
  EXPECT_NE(r.out.find("read as a's digit"), std::string::npos) << r.out;
  // Refusals that name what is wrong.
  io::save_npy(p("bad.npy"), Tensor::full({1, 1, 28, 28}, 3.0));
  r = gan("translate --checkpoint run/checkpoints/last.safetensors --direction a2b --in bad.npy --out z.npy");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("[-1, 1]"), std::string::npos) << r.out;
  io::save_npy(p("rgb.npy"), Tensor::zeros({1, 3, 28, 28}));
  r = gan("translate --checkpoint run/checkpoints/last.safetensors --direction a2b --in rgb.npy --out z.npy");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("expected images [N, 1, H, W]"), std::string::npos) << r.out;
  io::save_npy(p("odd.npy"), Tensor::zeros({1, 1, 30, 30}));
  r = gan("translate --checkpoint run/checkpoints/last.safetensors --direction a2b --in odd.npy --out z.npy");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("odd.npy: expected images [N, 1, H, W] in [-1, 1] with H and W multiples of 4"), std::string::npos)
      << r.out;
  r = gan("translate --checkpoint run/checkpoints/last.safetensors --direction a2b --in missing --out z.npy");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("missing: no such file or folder"), std::string::npos) << r.out;
  r = gan("sample --checkpoint run/checkpoints/last.safetensors --out s.png");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("gan translate"), std::string::npos) << r.out;
  r = gan("analyze --run run");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("gan analyze reads runs with a generator from noise"), std::string::npos) << r.out;
  r = gan("eval --checkpoint run/checkpoints/last.safetensors --ref mnist");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("gan translate"), std::string::npos) << r.out;
  r = gan("train --recipe cyclegan --data-a mnist:task/a --steps 1 --out r2");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--data-b"), std::string::npos) << r.out;
  r = gan("train --data-b mnist:task/b --steps 1 --out r3");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--recipe cyclegan"), std::string::npos) << r.out;
  // A resumed cyclegan run continues from its checkpoint.
  r = gan("train --resume run --steps 4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resuming cyclegan at step 3"), std::string::npos) << r.out;
}
#endif
