// Conditional GANs and InfoGAN: the networks' names and the projection term against its formula;
// every method's step traced equal to the trainer's; exact resume; old configs read as
// unconditional; InfoGAN's information term against a float64 reference; sampling per class and
// along a code; the digits classifier on data it can tell apart; the refusals.
#include <cmath>
#include <cstring>
#include <functional>
#include <set>

#include "engine/io/safetensors.h"
#include "models/classifier.h"
#include "models/conditional.h"
#include "models/conditional_recipe.h"
#include "models/config.h"
#include "models/data.h"
#include "models/model.h"
#include "models/sampling.h"
#include "models/trace.h"
#include "models/trainer.h"
#include "engine/io/loader.h"
#include "tests/op_reference.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

// n images of `classes` classes whose pixels depend on the class (class k: mean brightness k/(K-1)
// plus noise): data a conditional critic and a classifier can tell apart.
io::ImageDataset labelled_images(int64_t n, int64_t classes, int64_t s, uint64_t seed) {
  io::ImageDataset ds = random_images(n, 1, s, seed);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t k = static_cast<int32_t>(i % classes);
    ds.labels.push_back(k);
    for (int64_t p = 0; p < s * s; ++p) {
      uint8_t& v = ds.pixels[static_cast<size_t>(i * s * s + p)];
      v = static_cast<uint8_t>(std::min(255.0, 255.0 * k / (classes - 1) * 0.8 + v * 0.2));
    }
  }
  return ds;
}

models::TrainConfig tiny(const std::string& arch, const std::string& method, const std::string& codes) {
  models::TrainConfig c;
  c.model.arch = arch;
  c.model.nz = 6;
  c.model.ngf = c.model.ndf = 4;
  c.model.g_hidden = {16};
  c.model.d_hidden = {12};
  c.model.condition = codes.empty() ? "class" : "none";
  c.model.cond_method = method;
  c.model.codes = codes;
  c.batch = 6;
  c.steps = 10;
  c.seed = 9;
  c.n_samples = 12;
  return c;
}

std::map<std::string, std::vector<uint8_t>> state_bytes(const models::Trainer& t) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (auto& [k, v] : t.checkpoint().tensors) out[k] = v.data;
  return out;
}

}  // namespace

TEST(Conditional, NetworksNameTheirTensorsAndProjectionAddsItsTerm) {
  models::TrainConfig c = tiny("dcgan32", "projection", "");
  io::ImageDataset ds = labelled_images(24, 3, 32, 1);
  models::fit_model_to_data(c, ds);
  EXPECT_EQ(c.model.num_classes, 3);
  models::Trainer t(c, ds, Device::cpu());
  io::SafetensorsFile f = t.checkpoint();
  EXPECT_EQ(f.get("generator.embed.weight").shape, (Shape{3, 3}));  // embed_dim 0: the class count
  EXPECT_EQ(f.get("generator.main.0.weight").shape, (Shape{6 + 3, 32, 4, 4}));  // z and the embedding
  EXPECT_EQ(f.get("discriminator.embed.weight").shape, (Shape{3, 32}));        // ndf * 8 channels
  EXPECT_EQ(f.get("discriminator.main.0.weight").shape, (Shape{8, 1, 4, 4}));

  // D(x, y) = D's unconditional logit + <embed(y), phi(x)>, phi = the last hidden features summed
  // over positions: zero one class's embedding and the logits of that class drop the term.
  auto& d = static_cast<models::ConditionalDiscriminator&>(t.network("discriminator"));
  Generator g(2);
  Tensor x = Tensor::rand({4, 1, 32, 32}, &g, -1.0, 1.0), y = Tensor::from_vector(std::vector<float>{0, 1, 2, 1}, {4});
  NoGradGuard no_grad;
  models::CriticOutput with = d.run(x, y);
  std::vector<float> e = d.embed->weight.to_float_vector();
  auto feats = with.features.to_double_vector();  // [4, 32 * 4 * 4], channel-major
  d.embed->weight.fill_(0.0);
  models::CriticOutput without = d.run(x, y);
  d.embed->weight.copy_(Tensor::from_vector(e, {3, 32}));
  auto lw = with.logit.to_double_vector(), lo = without.logit.to_double_vector();
  const std::vector<int> cls{0, 1, 2, 1};
  for (int n = 0; n < 4; ++n) {
    double term = 0;
    for (int ch = 0; ch < 32; ++ch) {
      double phi = 0;
      for (int p = 0; p < 16; ++p) phi += feats[static_cast<size_t>(n * 512 + ch * 16 + p)];
      term += e[static_cast<size_t>(cls[n] * 32 + ch)] * phi;
    }
    EXPECT_NEAR(lw[n] - lo[n], term, 1e-4 * (1 + std::abs(term))) << "sample " << n;
  }
}

TEST(Conditional, EveryMethodAndInfoGanTraceEqualsTrainerStep) {
  io::ImageDataset ds = labelled_images(30, 3, 32, 3);
  struct Case {
    const char* arch;
    const char* method;
    const char* codes;
    const char* loss;
    const char* q_step = "critic";
  };
  for (Case k : {Case{"dcgan32", "", "cat3,cont1", "bce", "generator"}, Case{"mlp", "", "cat2", "wgan-gp", "generator"},
                 Case{"dcgan32", "projection", "", "bce"}, Case{"dcgan32", "concat", "", "hinge"},
                 Case{"dcgan32", "acgan", "", "bce"}, Case{"mlp", "projection", "", "wgan-gp"},
                 Case{"mlp", "concat", "", "bce"}, Case{"dcgan32", "projection", "", "wgan-gp"},
                 Case{"dcgan32", "", "cat3,cont2", "bce"}, Case{"mlp", "", "cat4,cont1,cat2", "wgan-gp"}}) {
    SCOPED_TRACE(std::string(k.arch) + " " + k.method + k.codes + " " + k.loss + " Q in the " + k.q_step + " step");
    models::TrainConfig c = tiny(k.arch, *k.method ? k.method : "projection", k.codes);
    c.loss = k.loss;
    c.info_q_step = k.q_step;
    models::apply_defaults(c, {"batch", "hidden", "nz", "n_samples"});
    if (c.loss == "wgan-gp" && c.model.arch != "mlp") c.model.critic_norm = "layer";
    models::fit_model_to_data(c, ds);
    models::Trainer plain(c, ds, Device::cpu()), traced(c, ds, Device::cpu());
    models::StepScalars l = plain.train_step();
    models::StepTrace tr = models::trace_step(traced);
    EXPECT_EQ(l["loss_d"].item(), tr.get("loss.d").item());
    EXPECT_EQ(l["loss_g"].item(), tr.get("loss.g").item());
    auto a = plain.checkpoint(), b = traced.checkpoint();
    EXPECT_EQ(a.metadata, b.metadata);
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    for (size_t i = 0; i < a.tensors.size(); ++i)
      EXPECT_TRUE(a.tensors[i].second.data == b.tensors[i].second.data) << a.tensors[i].first;
    if (!*k.codes) {
      EXPECT_EQ(tr.get(c.n_critic > 1 ? "critic0.input.labels" : "input.labels").size(0), c.batch);
    }
    std::set<std::string> names;
    for (auto& [n, v] : tr.tensors) EXPECT_TRUE(names.insert(n).second) << "duplicate name " << n;
    EXPECT_NO_THROW(io::serialize_safetensors(tr.to_safetensors()));
  }
}

TEST(Conditional, ResumeIsExactWithTheNewFlags) {
  io::ImageDataset ds = labelled_images(30, 3, 32, 4);
  struct Case {
    const char* codes;
    const char* q_step;
  };
  for (Case k : {Case{"", "critic"}, Case{"cat3,cont2", "critic"}, Case{"cat3,cont2", "generator"}}) {
    SCOPED_TRACE(std::string(k.codes) + ", Q in the " + k.q_step + " step");
    const char* codes = k.codes;
    const bool q_in_g = std::string(k.q_step) == "generator";
    models::TrainConfig c = tiny("dcgan32", "acgan", codes);
    c.info_lambda = 0.7;
    c.info_q_step = k.q_step;
    models::fit_model_to_data(c, ds);
    models::Trainer straight(c, ds, Device::cpu());
    for (int i = 0; i < 8; ++i) straight.train_step();
    models::Trainer first(c, ds, Device::cpu());
    for (int i = 0; i < 5; ++i) first.train_step();
    std::string bytes = io::serialize_safetensors(first.checkpoint());
    models::Trainer resumed(c, ds, Device::cpu());
    resumed.restore(io::parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem"), "mem");
    for (int i = 5; i < 8; ++i) resumed.train_step();
    auto a = state_bytes(straight), b = state_bytes(resumed);
    ASSERT_EQ(a.size(), b.size());
    for (auto& [k, v] : a) EXPECT_TRUE(v == b.at(k)) << k;
    if (q_in_g) {
      EXPECT_TRUE(a.count("q.main.0.weight") && a.count("optim.q.main.0.weight.exp_avg"));
    } else if (*codes) {
      EXPECT_TRUE(a.count("q.main.0.weight") && a.count("optim.discriminator.q.main.0.weight.exp_avg"));
    }
  }
}

// --info-detach: D's step gives Q the features detached, so the information term reaches Q but not
// D's trunk: after one step D is the same whatever --info-lambda, and Q is not; without the flag the
// trunk learns from the term too.
TEST(Conditional, InfoDetachKeepsTheInformationTermOutOfTheTrunk) {
  io::ImageDataset ds = labelled_images(30, 3, 32, 4);
  auto one_step = [&](double lambda, bool detach) {
    models::TrainConfig c = tiny("dcgan32", "projection", "cat3,cont1");
    c.info_lambda = lambda;
    c.info_detach = detach;
    models::fit_model_to_data(c, ds);
    models::Trainer t(c, ds, Device::cpu());
    t.train_step();
    return state_bytes(t);
  };
  auto base = one_step(0, true), detached = one_step(2, true), shared = one_step(2, false);
  int trunk = 0, trunk_moved = 0;
  for (auto& [k, v] : base) {
    if (k.rfind("discriminator.", 0) == 0) {
      ++trunk;
      EXPECT_TRUE(v == detached.at(k)) << k;
      trunk_moved += v != shared.at(k);
    }
  }
  EXPECT_GT(trunk, 0);
  EXPECT_GT(trunk_moved, 0);  // the shared trunk does learn from the term
  EXPECT_FALSE(base.at("q.main.0.weight") == detached.at("q.main.0.weight"));
}

// --info-q-step generator: D's loss has no information term, so after one step D is the same
// whatever --info-lambda; Q learns in G's step from G's term, at G's learning rate (with the term
// weighted 0 its gradient is zero and Adam leaves it where it was).
TEST(Conditional, QLearnsInTheGeneratorStepWhenAsked) {
  io::ImageDataset ds = labelled_images(30, 3, 32, 4);
  auto one_step = [&](double lambda, const char* q_step, double lr_g) {
    models::TrainConfig c = tiny("dcgan32", "projection", "cat3,cont1");
    c.info_lambda = lambda;
    c.info_q_step = q_step;
    c.lr_g = lr_g;
    models::fit_model_to_data(c, ds);
    models::Trainer t(c, ds, Device::cpu());
    auto before = state_bytes(t);
    t.train_step();
    return std::make_pair(before, state_bytes(t));
  };
  auto [init, off] = one_step(0, "generator", 1e-3);
  auto on = one_step(2, "generator", 1e-3).second, slow = one_step(2, "generator", 1e-5).second;
  auto critic = one_step(2, "critic", 1e-3).second;
  int d_tensors = 0, d_differs_from_critic_step = 0;
  for (auto& [k, v] : off) {
    if (k.rfind("discriminator.", 0) != 0) continue;
    ++d_tensors;
    EXPECT_TRUE(v == on.at(k)) << k;
    d_differs_from_critic_step += v != critic.at(k);
  }
  EXPECT_GT(d_tensors, 0);
  EXPECT_GT(d_differs_from_critic_step, 0);  // in the critic step the term does reach D's trunk
  EXPECT_TRUE(off.at("q.main.0.weight") == init.at("q.main.0.weight"));
  EXPECT_FALSE(on.at("q.main.0.weight") == init.at("q.main.0.weight"));
  EXPECT_TRUE(on.count("optim.q.main.0.weight.exp_avg"));
  EXPECT_FALSE(on.count("optim.discriminator.q.main.0.weight.exp_avg"));
  // Adam's first step moves each weight by about its learning rate: G's rate, not D's.
  auto max_move = [&](const std::map<std::string, std::vector<uint8_t>>& after) {
    const auto& a = after.at("q.main.2.weight");
    const auto& b = init.at("q.main.2.weight");
    double m = 0;
    for (size_t i = 0; i + 4 <= a.size(); i += 4) {
      float x, y;
      std::memcpy(&x, &a[i], 4);
      std::memcpy(&y, &b[i], 4);
      m = std::max(m, static_cast<double>(std::abs(x - y)));
    }
    return m;
  };
  EXPECT_NEAR(max_move(on), 1e-3, 2e-4);
  EXPECT_NEAR(max_move(slow), 1e-5, 2e-6);
}

TEST(Conditional, ConfigsWithoutTheNewFieldsReadAsUnconditional) {
  models::TrainConfig c = tiny("dcgan32", "projection", "");
  c.model.num_classes = 10;
  c.model.image_size = 32;
  auto j = models::to_json(c);
  for (const char* k : {"condition", "cond_method", "num_classes", "embed_dim", "codes", "info_var"}) j["model"].erase(k);
  j.erase("info_lambda");
  j.erase("info_detach");
  j.erase("info_q_step");
  models::TrainConfig back = models::train_config_from_json(j, "old.json");
  EXPECT_FALSE(back.model.conditional());
  EXPECT_TRUE(back.model.codes.empty());
  EXPECT_EQ(back.info_lambda, 1.0);
  EXPECT_FALSE(back.info_detach);
  EXPECT_EQ(back.info_q_step, "critic");
  EXPECT_EQ(back.model.info_var, "learned");
  // A damaged info_q_step is refused naming the file and the field (another type) or the flag and
  // the value (not a step).
  auto damaged = [&](const nlohmann::json& v) {
    auto k = models::to_json(c);
    k["info_q_step"] = v;
    return [k] { models::train_config_from_json(k, "damaged.json"); };
  };
  for (const nlohmann::json& v : {nlohmann::json(7), nlohmann::json(nullptr)})
    expect_error_naming(damaged(v), {"damaged.json", "info_q_step"});
  expect_error_naming(damaged("both"), {"damaged.json", "--info-q-step", "'both'", "critic or generator"});
  expect_error_naming(damaged(""), {"damaged.json", "--info-q-step", "''"});
  j = models::to_json(c);
  j["model"]["codes"] = "cat1";
  j["model"]["condition"] = "none";
  try {
    models::train_config_from_json(j, "bad.json");
    ADD_FAILURE() << "a one-valued categorical code was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cat1"), std::string::npos) << e.what();
  }
  for (const char* bad : {"cat", "cont0", "blue3", "cat10,", "cat10,,cont2"})
    EXPECT_THROW(models::parse_codes(bad), Error) << bad;
  auto codes = models::parse_codes("cat10,cont2,cat3");
  EXPECT_EQ(models::code_input_width(codes), 15);
  EXPECT_EQ(models::code_output_width(codes), 17);
  EXPECT_EQ(models::code_output_width(codes, false), 15);
}

// The information term: for each categorical code the softmax cross-entropy of Q's logits with the
// drawn ids, for the continuous ones the Gaussian NLL of the drawn values under Q's means and
// log-variances, summed; recomputed in float64 from what the step's hooks show.
// With --info-var learned Q gives each continuous code a mean and a log-variance; with unit, a
// mean only, and the NLL is that of a unit-variance Gaussian.
TEST(Conditional, InfoLossMatchesItsFormula) {
  for (const bool learned : {true, false}) {
    SCOPED_TRACE(learned ? "learned variance" : "unit variance");
    io::ImageDataset ds = labelled_images(30, 3, 32, 5);
    models::TrainConfig c = tiny("mlp", "projection", "cat3,cont2");
    c.model.info_var = learned ? "learned" : "unit";
    models::fit_model_to_data(c, ds);
    models::Trainer t(c, ds, Device::cpu());
    Tensor codes, q;
    models::StepHooks h;
    h.on_tensor = [&](const models::StepPoint&, const std::string& n, const Tensor& v) {
      if (n == "codes") codes = v.detach();
    };
    h.on_activation = [&](const models::StepPoint& p, const std::string& net, const std::string&, const std::string& path,
                          const Tensor& out) {
      if (net == "q" && path == "main.2") q = out.detach();  // the generator step's pass comes last
    };
    models::StepScalars s = t.train_step(&h);
    ASSERT_TRUE(codes.defined() && q.defined());
    const int64_t width = learned ? 7 : 5;  // 3 logits, 2 means (, 2 log-variances)
    ASSERT_EQ(q.size(1), width);
    auto cv = codes.to_double_vector(), qv = q.to_double_vector();
    const int64_t n = c.batch;
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double* l = &qv[static_cast<size_t>(i * width)];
      int id = 0;
      for (int k = 0; k < 3; ++k)
        if (cv[static_cast<size_t>(i * 5 + k)] == 1.0) id = k;
      const double mx = std::max({l[0], l[1], l[2]});
      total += (mx + std::log(std::exp(l[0] - mx) + std::exp(l[1] - mx) + std::exp(l[2] - mx)) - l[id]) / n;
      for (int j = 0; j < 2; ++j) {
        const double x = cv[static_cast<size_t>(i * 5 + 3 + j)], mean = l[3 + j], lv = learned ? l[5 + j] : 0.0;
        total += 0.5 * (std::log(2 * M_PI) + lv + (x - mean) * (x - mean) * std::exp(-lv)) / (2 * n);
      }
    }
    EXPECT_NEAR(s["info_loss"].item(), total, 1e-5 * (1 + std::abs(total)));
  }
}

// --precision bf16: every method and InfoGAN train on bfloat16 activations (first step within a few
// percent of float32's, and not equal to it), keep float32 masters, and trace as they train.
TEST(Conditional, EveryMethodAndInfoGanTrainInBfloat16) {
  io::ImageDataset ds = labelled_images(30, 3, 32, 6);
  struct Case {
    const char* arch;
    const char* method;
    const char* codes;
    const char* loss;
  };
  for (Case k : {Case{"dcgan32", "projection", "", "bce"}, Case{"dcgan32", "concat", "", "hinge"},
                 Case{"dcgan32", "acgan", "", "bce"}, Case{"mlp", "projection", "", "wgan-gp"},
                 Case{"mlp", "concat", "", "bce"}, Case{"dcgan32", "", "cat3,cont1", "bce"},
                 Case{"mlp", "", "cat2", "wgan-gp"}}) {
    SCOPED_TRACE(std::string(k.arch) + " " + k.method + k.codes + " " + k.loss);
    models::TrainConfig c = tiny(k.arch, *k.method ? k.method : "projection", k.codes);
    c.loss = k.loss;
    models::apply_defaults(c, {"batch", "hidden", "nz", "n_samples"});
    if (c.loss == "wgan-gp" && c.model.arch != "mlp") c.model.critic_norm = "layer";
    models::fit_model_to_data(c, ds);
    models::TrainConfig b = c;
    b.precision = "bf16";
    models::Trainer t32(c, ds, Device::cpu()), t16(b, ds, Device::cpu()), traced(b, ds, Device::cpu());
    const models::StepScalars s32 = t32.train_step(), s16 = t16.train_step();
    for (const char* name : {"loss_d", "loss_g"}) {
      EXPECT_NEAR(s16[name].item(), s32[name].item(), 0.05 * std::fabs(s32[name].item()) + 1e-3) << name;
      EXPECT_NE(s16[name].item(), s32[name].item()) << name;
    }
    models::StepTrace tr = models::trace_step(traced);
    EXPECT_EQ(s16["loss_d"].item(), tr.get("loss.d").item());
    EXPECT_EQ(s16["loss_g"].item(), tr.get("loss.g").item());
    for (int i = 0; i < 2; ++i) {
      const models::StepScalars s = t16.train_step();
      ASSERT_TRUE(std::isfinite(s["loss_d"].item()) && std::isfinite(s["loss_g"].item()));
    }
    for (const nn::Module* net : {&t16.network("generator"), &t16.network("discriminator")})
      for (const Tensor& p : net->parameters()) EXPECT_EQ(p.dtype(), DType::Float32);
    // The sample grid comes out as float32 images.
    Tensor grid = t16.generate(t16.fixed_inputs());
    EXPECT_EQ(grid.dtype(), DType::Float32);
    EXPECT_EQ(grid.size(0), c.n_samples);
  }
}

TEST(Conditional, SamplesFollowTheClassAndTheCodes) {
  io::ImageDataset ds = labelled_images(30, 3, 32, 6);
  for (const char* codes : {"", "cat3,cont2"}) {
    SCOPED_TRACE(codes);
    models::TrainConfig c = tiny("dcgan32", "concat", codes);
    models::fit_model_to_data(c, ds);
    models::Trainer t(c, ds, Device::cpu());
    t.train_step();
    models::LoadedGenerator g{c.model, c.data, std::shared_ptr<nn::Module>(), Device::cpu()};
    Generator init(0);
    g.generator = models::build_generator(c.model, init);
    std::map<std::string, nn::StateValue> sd;
    for (auto& [k, v] : t.network("generator").state_dict()) sd[k] = v;
    g.generator->load_state_dict(sd, "trainer");
    g.generator->eval();
    int64_t cols = -1;
    Tensor grid = models::sample_images(g, 7, 1, {}, &cols);
    if (!*codes) {
      EXPECT_EQ(cols, 2);  // 7 samples, 3 classes: 3 rows of 2
      EXPECT_EQ(grid.size(0), 6);
      // z is shared down each column: the class is the only input that differs between rows.
      models::SampleCondition one;
      one.cls = 2;
      EXPECT_EQ(models::sample_images(g, 5, 1, one).size(0), 5);
      one.cls = 3;
      EXPECT_THROW(models::sample_images(g, 5, 1, one), Error);
    } else {
      EXPECT_EQ(cols, 0);
      models::SampleCondition walk;
      walk.traverse = "cont1";
      walk.codes["cat"] = 2;
      Tensor w = models::sample_images(g, 3, 1, walk, &cols);
      EXPECT_EQ(cols, 9);
      ASSERT_EQ(w.size(0), 27);
      auto v = w.to_double_vector();
      const size_t img = static_cast<size_t>(w.numel() / 27);
      double along = 0;  // the code moves the image along a row
      for (size_t p = 0; p < img; ++p) along += std::abs(v[p] - v[8 * img + p]);
      EXPECT_GT(along, 0.0);
      walk.traverse = "cont5";
      EXPECT_THROW(models::sample_images(g, 3, 1, walk), Error);
      models::SampleCondition wrong;
      wrong.cls = 1;
      EXPECT_THROW(models::sample_images(g, 3, 1, wrong), Error);
    }
  }
}

TEST(Conditional, ClassifierLearnsSeparableClassesAndReloads) {
  io::ImageDataset ds = labelled_images(300, 3, 16, 7);
  models::ClassifierTraining o;
  o.steps = 60;
  o.batch = 32;
  o.held_out = 60;
  o.image_size = 16;
  models::ClassifierResult r = models::train_classifier(ds, o, Device::cpu());
  EXPECT_GE(r.held_out_accuracy, 0.95);
  std::string path = ::testing::TempDir() + "/gan_classifier_test.safetensors";
  models::save_classifier(r, path);
  auto back = models::load_classifier(path, Device::cpu());
  io::ImageDataset few = labelled_images(9, 3, 16, 8);
  io::BatchLoader l(few, 9, 16, 0);
  Tensor x = l.next();
  EXPECT_EQ(back->predict(x), r.classifier->predict(x));
  io::ImageDataset unlabelled = random_images(20, 1, 16, 9);
  EXPECT_THROW(models::train_classifier(unlabelled, o, Device::cpu()), Error);
}

TEST(Conditional, Refusals) {
  models::TrainConfig c = tiny("dcgan32", "projection", "");
  io::ImageDataset unlabelled = random_images(20, 1, 32, 10);
  EXPECT_THROW(models::fit_model_to_data(c, unlabelled), Error);  // no labels: no classes
  models::TrainConfig toy;
  toy.data = "gaussians8";
  toy.model.condition = "class";
  models::apply_defaults(toy, {});
  toy.steps = 1;
  EXPECT_THROW(toy.validate(), Error);
  models::TrainConfig both = tiny("dcgan32", "projection", "cat3");
  both.model.condition = "class";
  both.model.num_classes = 3;
  EXPECT_THROW(both.validate(), Error);
  models::TrainConfig bn = tiny("dcgan32", "projection", "");
  bn.loss = "wgan-gp";
  io::ImageDataset ds = labelled_images(20, 3, 32, 11);
  models::fit_model_to_data(bn, ds);
  EXPECT_THROW(models::Trainer(bn, ds, Device::cpu()), Error);  // batch norm in a WGAN-GP critic
  models::TrainConfig q = tiny("dcgan32", "projection", "cat3");
  q.model.image_size = 32;
  q.info_q_step = "both";
  expect_error_naming([&] { q.validate(); }, {"--info-q-step", "'both'"});
  q.info_q_step = "generator";
  q.info_detach = true;
  expect_error_naming([&] { q.validate(); }, {"--info-detach", "--info-q-step generator"});
  models::TrainConfig no_codes = tiny("dcgan32", "projection", "");
  no_codes.model.image_size = 32;
  no_codes.model.num_classes = 3;
  no_codes.info_q_step = "generator";
  expect_error_naming([&] { no_codes.validate(); }, {"--info-q-step generator", "--codes"});
}
