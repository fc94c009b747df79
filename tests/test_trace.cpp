// `gan trace` and the autograd graph picture: the DOT of a hand-counted graph; a traced step's
// names and shapes; its parameter gradients, updated weights and losses equal, bit for bit, what
// Trainer::train_step computes from the same seed and batch; the gradients arriving at the
// discriminator's logits against the closed form of BCE-with-logits; the written files.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <regex>
#include <set>

#include "engine/autograd/graph_dot.h"
#include "engine/io/file_util.h"
#include "engine/io/safetensors.h"
#include "models/data.h"
#include "models/config.h"
#include "models/model.h"
#include "models/trace.h"
#include "models/trainer.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;
namespace fs = std::filesystem;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(shape_str(a.shape()), shape_str(b.shape()));
  auto x = a.to_double_vector(), y = b.to_double_vector();
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// Node ids declared and edges drawn in a DOT text, checking every edge joins declared nodes.
struct DotParts {
  std::set<std::string> nodes;
  int64_t op_edges = 0, root_edges = 0;
};
DotParts parse_dot(const std::string& dot) {
  DotParts p;
  std::regex decl(R"(^ +([nr]\d+) \[label=")"), edge(R"(^ +(n\d+) -> ([nr]\d+) \[)");
  std::istringstream is(dot);
  std::string line;
  EXPECT_TRUE(std::getline(is, line) && line == "digraph autograd {");
  std::string last;
  while (std::getline(is, line)) {
    std::smatch m;
    if (std::regex_search(line, m, edge)) {
      EXPECT_TRUE(p.nodes.count(m[1]) && p.nodes.count(m[2])) << "edge to an undeclared node: " << line;
      (m[2].str()[0] == 'r' ? p.root_edges : p.op_edges)++;
    } else if (std::regex_search(line, m, decl)) {
      p.nodes.insert(m[1]);
    }
    last = line;
  }
  EXPECT_EQ(last, "}");
  return p;
}

// linear -> leaky_relu -> reshape -> bce_with_logits: 4 ops, 2 parameter leaves, 5 arrows.
std::string tiny_graph_dot(autograd::DotStats* st) {
  Generator g(11);
  Tensor x = Tensor::randn({5, 3}, &g);
  Tensor w = Tensor::randn({1, 3}, &g).requires_grad_();
  Tensor b = Tensor::randn({1}, &g).requires_grad_();
  Tensor h = linear(x, w, b);
  Tensor loss = bce_with_logits(leaky_relu(h, 0.2).reshape({5}), 1.0);
  autograd::DotOptions o;
  o.clusters[h.grad_fn().get()] = "layer fc";
  o.names[w.impl_ptr().get()] = "fc.weight";
  o.names[b.impl_ptr().get()] = "fc.bias";
  o.root_names = {"loss"};
  return autograd::graph_to_dot({loss}, o, st);
}

}  // namespace

TEST(GraphDot, TinyGraphHasTheHandCountedNodes) {
  autograd::DotStats st;
  std::string dot = tiny_graph_dot(&st);
  EXPECT_EQ(st.ops, 4);
  EXPECT_EQ(st.leaves, 2);
  EXPECT_EQ(st.edges, 5);
  DotParts p = parse_dot(dot);
  EXPECT_EQ(p.nodes.size(), 7u);  // 4 ops + 2 leaves + the root
  EXPECT_EQ(p.op_edges, 5);
  EXPECT_EQ(p.root_edges, 1);
  for (const char* s : {"linear\\n[5, 1]", "leaky_relu\\n[5, 1]", "reshape\\n[5]", "bce_with_logits\\n[]",
                        "fc.weight\\n[1, 3]", "fc.bias\\n[1]", "loss\\n[]"})
    EXPECT_NE(dot.find(s), std::string::npos) << s << " missing from\n" << dot;
  EXPECT_NE(dot.find("subgraph cluster_0 {\n    label=\"layer fc\";"), std::string::npos) << dot;
  // Same computation in the same process later: the same text (no addresses, no global counters).
  EXPECT_EQ(dot, tiny_graph_dot(nullptr));
}

TEST(GraphDot, DetachCutsTheGraphAndUngraphedRootsAreRefused) {
  Generator g(12);
  Tensor x = Tensor::randn({4, 3}, &g);
  Tensor w1 = Tensor::randn({2, 3}, &g).requires_grad_(), w2 = Tensor::randn({1, 2}, &g).requires_grad_();
  Tensor h = tanh(linear(x, w1, Tensor()));
  Tensor y = sum(linear(h.detach(), w2, Tensor()));
  autograd::DotStats st;
  std::string dot = autograd::graph_to_dot({y}, {}, &st);
  EXPECT_EQ(st.leaves, 1);  // w2 only: w1 is behind the detach
  EXPECT_EQ(dot.find("tanh"), std::string::npos);
  EXPECT_NE(dot.find("leaf\\n[1, 2]"), std::string::npos);  // unnamed leaves still show their shape
  try {
    autograd::graph_to_dot({h.detach()});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("graph_to_dot"), std::string::npos);
  }
}

namespace {

models::TrainConfig tiny(const std::string& arch) {
  models::TrainConfig c;
  c.model.arch = arch;
  c.model.nz = 5;
  c.model.g_hidden = {16};
  c.model.d_hidden = {12};
  c.model.ngf = 4;
  c.model.ndf = 3;
  c.batch = 6;
  c.seed = 21;
  c.steps = 1;
  return c;
}

// Two trainers from the same seed and data: one takes Trainer::train_step, the other is traced.
// Every parameter gradient (of the last critic step for D), updated parameter, buffer, optimizer
// state, stream position and loss must agree bit for bit.
void expect_trace_equals_train_step(const std::function<std::unique_ptr<models::Trainer>()>& make) {
  std::unique_ptr<models::Trainer> plain_owner = make(), traced = make();
  models::Trainer& plain = *plain_owner;
  models::StepScalars l = plain.train_step();
  models::StepTrace tr = models::trace_step(*traced);
  EXPECT_EQ(l["loss_d"].item(), tr.get("loss.d").item());
  EXPECT_EQ(l["loss_g"].item(), tr.get("loss.g").item());
  const int k = plain.recipe().critic_steps();
  const std::string last_critic = k > 1 ? "critic" + std::to_string(k - 1) + "." : "";
  for (auto [prefix, net] : {std::pair<std::string, nn::Module*>{"generator.", &plain.network("generator")},
                             std::pair<std::string, nn::Module*>{"discriminator.", &plain.network("discriminator")}}) {
    int n = 0;
    for (auto& [name, p] : net->named_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << prefix << name;
      std::string grad_name = (prefix == "discriminator." ? last_critic : "") + prefix + name + ".grad";
      EXPECT_EQ(max_abs_diff(p.grad(), tr.get(grad_name)), 0.0) << grad_name;
      EXPECT_EQ(max_abs_diff(p, tr.get(prefix + name + ".updated")), 0.0) << prefix << name << ".updated";
      ++n;
    }
    EXPECT_GT(n, 0);
  }
  // Buffers (batch-norm running statistics), optimizer state and the streams advanced identically.
  auto a = plain.checkpoint(), b = traced->checkpoint();
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].first, b.tensors[i].first);
    EXPECT_TRUE(a.tensors[i].second.data == b.tensors[i].second.data) << a.tensors[i].first;
  }
}

void expect_trace_equals_train_step(models::TrainConfig cfg, const io::ImageDataset& data) {
  models::fit_model_to_data(cfg, data);
  expect_trace_equals_train_step([&] { return std::make_unique<models::Trainer>(cfg, data, Device::cpu()); });
}

// `tiny(arch)` trained with `loss` at its defaults (models/config.h), widths kept tiny.
models::TrainConfig tiny_with_loss(const std::string& arch, const std::string& loss) {
  models::TrainConfig c = tiny(arch);
  c.loss = loss;
  models::apply_defaults(c, {"batch", "hidden", "nz", "n_samples"});
  if (loss == "wgan-gp" && arch != "mlp" && arch != "toy") c.model.critic_norm = "layer";
  return c;
}

std::string read_text(const std::string& path) {
  auto bytes = io::read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

double sigmoid_d(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

TEST(Trace, MlpStepEqualsTrainerStep) { expect_trace_equals_train_step(tiny("mlp"), random_images(30, 1, 8, 5)); }

TEST(Trace, Dcgan32StepWithBatchNormEqualsTrainerStep) {
  expect_trace_equals_train_step(tiny("dcgan32"), random_images(14, 3, 32, 6));
}

TEST(Trace, Dcgan64StepEqualsTrainerStep) {
  models::TrainConfig c = tiny("dcgan64");
  c.batch = 3;
  expect_trace_equals_train_step(c, random_images(7, 1, 64, 7));
}

// Every recipe: each loss with its paper's settings (several critic steps, clipping, the penalty's
// double backward), on the models it trains.
TEST(Trace, EveryLossStepEqualsTrainerStep) {
  const io::ImageDataset digits = random_images(40, 1, 32, 16);
  for (const char* loss : {"bce", "wgan", "wgan-gp", "lsgan", "hinge"})
    for (const char* arch : {"mlp", "dcgan32"}) {
      SCOPED_TRACE(std::string(loss) + " " + arch);
      expect_trace_equals_train_step(tiny_with_loss(arch, loss), digits);
    }
}

TEST(Trace, ToyWganGpStepEqualsTrainerStep) {
  models::TrainConfig c = tiny_with_loss("toy", "wgan-gp");
  c.data = "gaussians8";
  c.model.g_hidden = c.model.d_hidden = {16, 16};
  c.batch = 32;
  expect_trace_equals_train_step([&] { return std::make_unique<models::Trainer>(c, Device::cpu()); });
}

// The WGAN-GP critic step as docs/backprop.md follows it: five critic steps, each with its own
// batch and noise; the penalty's pass through D; g = dD/dxhat, and the gradient arriving at g is
// the closed form of d/dg lambda mean_n (||g_n|| - 1)^2; loss_d reaches the penalty pass's layers
// only through the double backward (a plain critic step would leave them without a gradient).
TEST(Trace, WganGpCriticStepsAndPenaltyGradient) {
  models::TrainConfig cfg = tiny_with_loss("dcgan32", "wgan-gp");
  io::ImageDataset data = random_images(40, 1, 32, 17);
  models::fit_model_to_data(cfg, data);
  models::Trainer t(cfg, data, Device::cpu());
  models::StepTrace tr = models::trace_step(t);
  ASSERT_EQ(cfg.n_critic, 5);
  for (int i = 0; i < 5; ++i) {
    const std::string p = "critic" + std::to_string(i) + ".";
    EXPECT_EQ(tr.get(p + "input.real").size(0), cfg.batch);
    for (const char* pass : {"real", "fake", "penalty"})
      EXPECT_TRUE(tr.get(p + "discriminator." + std::string(pass) + ".main.0.out.grad").defined()) << p << pass;
    EXPECT_EQ(tr.get(p + "discriminator.main.0.weight.grad").shape(), tr.get("discriminator.main.0.weight").shape());
    // The critic steps' G(z) carries no history: no gradient is recorded for it.
    EXPECT_THROW(tr.get(p + "generator.main.0.out.grad"), Error);
  }
  EXPECT_GT(max_abs_diff(tr.get("critic0.input.real"), tr.get("critic1.input.real")), 0.0);  // a fresh batch each
  EXPECT_GT(max_abs_diff(tr.get("critic0.input.noise"), tr.get("input.noise")), 0.0);
  EXPECT_EQ(max_abs_diff(tr.get("loss.d"), tr.get("critic4.loss.d")), 0.0);

  const Tensor& g = tr.get("critic2.penalty.input_grad");
  auto gv = g.to_double_vector(), dg = tr.get("critic2.penalty.input_grad.grad").to_double_vector();
  const int64_t N = g.size(0), M = g.numel() / N;
  for (int64_t n = 0; n < N; ++n) {
    double norm = 0;
    for (int64_t j = 0; j < M; ++j) norm += gv[n * M + j] * gv[n * M + j];
    norm = std::sqrt(norm);
    for (int64_t j = 0; j < M; ++j) {
      const double ref = cfg.gp_lambda / N * 2 * (norm - 1) * gv[n * M + j] / norm;
      EXPECT_NEAR(dg[n * M + j], ref, 1e-6 * std::abs(ref) + 1e-9) << "sample " << n << " element " << j;
    }
  }
  // xhat lies on the segment between the real batch and G(z): (xhat - fake) / (real - fake) is one
  // number per sample, in [0, 1].
  auto xh = tr.get("critic2.penalty.xhat").to_double_vector(), xr = tr.get("critic2.input.real").to_double_vector();
  auto xf = tr.get("critic2.generator.main.10.out").to_double_vector();
  for (int64_t n = 0; n < N; ++n) {
    const double e = (xh[n * M] - xf[n * M]) / (xr[n * M] - xf[n * M]);
    EXPECT_GE(e, 0.0);
    EXPECT_LE(e, 1.0);
    EXPECT_NEAR((xh[n * M + 7] - xf[n * M + 7]) / (xr[n * M + 7] - xf[n * M + 7]), e, 1e-4);
  }
}

// The first critic conv's weight gradient in a WGAN-GP critic step has four parts, each from the
// trace alone (docs/backprop.md, "Following the penalty in a trace"): the real pass, the fake pass,
// the penalty pass through its activations (conv2d_weight_grad of xhat and the gradient loss_d
// sends to main.0's output in that pass), and the part only the double backward has: the penalty's
// gradient G = dL/dg meets the first backward's node g = conv_transpose2d(delta0, K), whose
// derivative in K is conv2d_weight_grad(G, delta0), delta0 = d sum D(xhat) / d main.0's output.
TEST(Trace, WganGpFirstLayerWeightGradientHasFourParts) {
  models::TrainConfig cfg = tiny_with_loss("dcgan32", "wgan-gp");
  io::ImageDataset data = random_images(40, 1, 32, 18);
  models::fit_model_to_data(cfg, data);
  models::Trainer t(cfg, data, Device::cpu());
  models::StepTrace tr = models::trace_step(t);
  const Conv2dParams down = Conv2dParams::make(2, 1);
  const Tensor& k0 = tr.get("discriminator.main.0.weight");  // before the step: critic0's weights
  auto part = [&](const Tensor& x, const std::string& out_grad) {
    return conv2d_weight_grad(x, tr.get(out_grad), k0.shape(), down);
  };
  Tensor real = part(tr.get("critic0.input.real"), "critic0.discriminator.real.main.0.out.grad");
  Tensor fake = part(tr.get("critic0.generator.main.10.out"), "critic0.discriminator.fake.main.0.out.grad");
  Tensor pen = part(tr.get("critic0.penalty.xhat").detach(), "critic0.discriminator.penalty.main.0.out.grad");
  // delta0, recomputed independently: the critic at the step's starting weights on xhat.
  Generator init(0);
  models::GanModel m = models::build_model(cfg.model, init);
  std::map<std::string, nn::StateValue> before;
  for (auto& [name, w] : tr.tensors)
    if (name.rfind("discriminator.main.", 0) == 0 && name.find(".grad") == std::string::npos &&
        name.find(".updated") == std::string::npos)
      before[name.substr(14)] = nn::StateValue::of(w);
  m.discriminator->load_state_dict(before, "trace");
  Tensor xhat = tr.get("critic0.penalty.xhat").detach().requires_grad_();
  Tensor out0;
  auto& seq = static_cast<nn::Sequential&>(*m.discriminator->children()[0].second);
  seq[0].set_forward_hook([&](const Tensor& y) { out0 = y; });
  Tensor d_out = (*m.discriminator)(xhat);
  ASSERT_TRUE(out0.defined());
  Tensor delta0 = grad({sum(d_out)}, {out0})[0];
  Tensor second = conv2d_weight_grad(tr.get("critic0.penalty.input_grad.grad"), delta0, k0.shape(), down);
  const Tensor& total = tr.get("critic0.discriminator.main.0.weight.grad");
  EXPECT_LT(rel_error(add(add(real, fake), add(pen, second)), total), 1e-5);
  EXPECT_GT(rel_error(add(add(real, fake), pen), total), 1e-3) << "the double backward's own part counts";
}

namespace {

// The claims docs/backprop.md leads the reader through, checked on a traced DCGAN step (tiny
// widths): the first conv's weight gradient is conv2d_weight_grad(input, gradient at its output)
// summed over the real and the fake pass; in the generator step the gradient arriving at G(z) is
// conv2d's data gradient, a conv_transpose2d with D's updated first-layer weights; G's first weight
// gradient is conv_transpose2d_weight_grad of the noise. These come out bit for bit. Then batch
// norm's three-term backward at D's main.3, per pass, in float64.
void expect_first_layer_gradients_from_the_trace(models::TrainConfig cfg, const io::ImageDataset& data,
                                                 const std::string& g_out) {
  models::fit_model_to_data(cfg, data);
  models::Trainer t(cfg, data, Device::cpu());
  models::StepTrace tr = models::trace_step(t);
  const Conv2dParams down = Conv2dParams::make(2, 1);  // D's main.0: Conv2d(nc, *, 4, 2, 1)
  const Tensor& w0 = tr.get("discriminator.main.0.weight");
  Tensor from_real =
      conv2d_weight_grad(tr.get("input.real"), tr.get("discriminator.real.main.0.out.grad"), w0.shape(), down);
  Tensor from_fake = conv2d_weight_grad(tr.get(g_out), tr.get("discriminator.fake.main.0.out.grad"), w0.shape(), down);
  EXPECT_EQ(max_abs_diff(add(from_fake, from_real), tr.get("discriminator.main.0.weight.grad")), 0.0);
  EXPECT_GT(max_abs_diff(from_real, tr.get("discriminator.main.0.weight.grad")), 0.0);  // the fake pass counts

  // (32 + 2 - 4) mod 2 = (64 + 2 - 4) mod 2 = 0: no output_padding needed to land back on the image.
  Tensor to_image = conv_transpose2d(tr.get("discriminator.gstep.main.0.out.grad"),
                                     tr.get("discriminator.main.0.weight.updated"), Tensor(), down);
  EXPECT_EQ(max_abs_diff(to_image, tr.get(g_out + ".grad")), 0.0);
  // G's first layer: ConvTranspose2d(nz, 8 ngf, 4, 1, 0) on z [N, nz, 1, 1].
  const Tensor& g0 = tr.get("generator.main.0.weight");
  Tensor g0_grad = conv_transpose2d_weight_grad(tr.get("input.noise"), tr.get("generator.main.0.out.grad"), g0.shape(),
                                                Conv2dParams::make(1, 0));
  EXPECT_EQ(max_abs_diff(g0_grad, tr.get("generator.main.0.weight.grad")), 0.0);

  // Batch norm's three-term backward, recomputed in float64 from the trace: D's main.3 normalises
  // main.2's output x with weight w; G is the gradient arriving at its output. Per channel, with the
  // statistics of that pass's batch alone (the real and the fake batch are normalised separately),
  //   dx = w s (G - mean(G) - xhat mean(G xhat)),  s = (var + eps)^(-1/2),  xhat = (x - mean) s,
  // and, as batch norm cannot see a shift of its input channel, sum(dx) = 0. The elementwise check
  // allows each float32 dx an error of 1e-4 of the channel's largest, which alone would let the
  // sum drift by 1e-4 * M of it; the sum gets its own bound, 1e-6 of sum |dx| (float32 rounding
  // leaves ratios near 1e-8 on these steps).
  const auto w = tr.get("discriminator.main.3.weight").to_double_vector();
  for (const char* pass : {"real", "fake"}) {
    std::string p = std::string("discriminator.") + pass + ".main.";
    const Tensor& x = tr.get(p + "2.out");
    auto xv = x.to_double_vector(), dx = tr.get(p + "2.out.grad").to_double_vector();
    auto g = tr.get(p + "3.out.grad").to_double_vector();
    const int64_t N = x.size(0), C = x.size(1), S = x.size(2) * x.size(3);
    const double M = static_cast<double>(N * S);
    auto at = [&](int64_t n, int64_t c, int64_t i) { return (n * C + c) * S + i; };
    for (int64_t c = 0; c < C; ++c) {
      double mu = 0, var = 0, mean_g = 0, mean_gx = 0, sum_dx = 0, sum_abs_dx = 0, scale = 0, err = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) mu += xv[at(n, c, i)] / M;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) var += std::pow(xv[at(n, c, i)] - mu, 2) / M;
      const double s = 1 / std::sqrt(var + 1e-5);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          mean_g += g[at(n, c, i)] / M;
          mean_gx += g[at(n, c, i)] * (xv[at(n, c, i)] - mu) * s / M;
        }
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t k = at(n, c, i);
          const double ref = w[c] * s * (g[k] - mean_g - (xv[k] - mu) * s * mean_gx);
          err = std::max(err, std::abs(dx[k] - ref));
          scale = std::max(scale, std::abs(ref));
          sum_dx += dx[k];
          sum_abs_dx += std::abs(dx[k]);
        }
      EXPECT_GT(scale, 0.0) << p << " channel " << c;
      EXPECT_LT(err, 1e-4 * scale) << p << " channel " << c;
      EXPECT_LT(std::abs(sum_dx), 1e-6 * sum_abs_dx) << p << " channel " << c;
    }
  }
}

}  // namespace

TEST(Trace, Dcgan32FirstLayerGradientsFromTheTrace) {
  expect_first_layer_gradients_from_the_trace(tiny("dcgan32"), random_images(14, 3, 32, 10), "generator.main.10.out");
}

// The same on the network docs/backprop.md walks through (one-channel 64x64, G ends at main.13).
TEST(Trace, Dcgan64FirstLayerGradientsFromTheTrace) {
  models::TrainConfig c = tiny("dcgan64");
  c.batch = 3;
  expect_first_layer_gradients_from_the_trace(c, random_images(7, 1, 64, 11), "generator.main.13.out");
}

TEST(Trace, MlpNamesShapesAndLogitGradients) {
  models::TrainConfig cfg = tiny("mlp");
  io::ImageDataset data = random_images(30, 1, 8, 8);
  models::fit_model_to_data(cfg, data);
  models::Trainer t(cfg, data, Device::cpu());
  models::StepTrace tr = models::trace_step(t);
  const int64_t B = cfg.batch;
  // G: Linear(5,16) LeakyReLU Linear(16,64) Tanh;  D: Linear(64,12) LeakyReLU Linear(12,1).
  const std::vector<std::pair<std::string, Shape>> expect{
      {"input.real", {B, 1, 8, 8}},  {"input.noise", {B, 5}},     {"generator.main.0.out", {B, 16}},
      {"generator.main.1.out", {B, 16}}, {"generator.main.2.out", {B, 64}}, {"generator.main.3.out", {B, 64}},
      {"discriminator.real.main.0.out", {B, 12}}, {"discriminator.real.main.2.out", {B, 1}},
      {"discriminator.fake.main.1.out", {B, 12}}, {"discriminator.gstep.main.2.out", {B, 1}},
      {"generator.main.0.weight", {16, 5}},       {"generator.main.0.weight.grad", {16, 5}},
      {"discriminator.main.2.bias.grad", {1}},    {"discriminator.main.0.weight.updated", {12, 64}},
      {"optim.discriminator.main.0.weight.exp_avg", {12, 64}},  // none before the first step...
      {"loss.d", {}},                            {"loss.g", {}}};
  for (auto& [name, shape] : expect) {
    if (name.rfind("optim.", 0) == 0) {
      EXPECT_THROW(tr.get(name), Error) << "a fresh optimizer has no state yet";
      continue;
    }
    EXPECT_EQ(shape_str(tr.get(name).shape()), shape_str(shape)) << name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".out") == 0) {
      EXPECT_EQ(shape_str(tr.get(name + ".grad").shape()), shape_str(shape)) << name << ".grad";
    }
  }
  // No gradient reaches G through the detached fake batch of the D step, so G's activations carry
  // loss_g's gradient only; every activation name appears exactly with its .grad.
  std::set<std::string> names;
  for (auto& [n, v] : tr.tensors) EXPECT_TRUE(names.insert(n).second) << "duplicate name " << n;
  for (auto& n : names) {
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".out") == 0) {
      EXPECT_TRUE(names.count(n + ".grad")) << n;
    }
  }

  // d/dl of mean BCE(l, t) = (sigmoid(l) - t) / B: target 1 on real, 0 on fake (loss_d), 1 in the
  // generator step (the non-saturating loss).
  struct Case {
    const char* pass;
    double target;
  };
  for (Case c : {Case{"real", 1.0}, Case{"fake", 0.0}, Case{"gstep", 1.0}}) {
    std::string base = std::string("discriminator.") + c.pass + ".main.2.out";
    auto logit = tr.get(base).to_double_vector(), g = tr.get(base + ".grad").to_double_vector();
    for (int64_t i = 0; i < B; ++i)
      EXPECT_NEAR(g[i], (sigmoid_d(logit[i]) - c.target) / static_cast<double>(B), 1e-7) << base << " " << i;
  }
  // Chain rule through one layer: the gradient arriving at Tanh's input is the one at its output
  // times 1 - y^2; at LeakyReLU's input, times 1 or the slope.
  auto y = tr.get("generator.main.3.out").to_double_vector();
  auto gy = tr.get("generator.main.3.out.grad").to_double_vector();
  auto gx = tr.get("generator.main.2.out.grad").to_double_vector();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(gx[i], gy[i] * (1 - y[i] * y[i]), 1e-7 + 1e-5 * std::abs(gx[i]));
  auto pre = tr.get("discriminator.real.main.0.out").to_double_vector();
  auto g_pre = tr.get("discriminator.real.main.0.out.grad").to_double_vector();
  auto g_post = tr.get("discriminator.real.main.1.out.grad").to_double_vector();
  for (size_t i = 0; i < pre.size(); ++i)
    EXPECT_NEAR(g_pre[i], g_post[i] * (pre[i] > 0 ? 1.0 : 0.2), 1e-9 + 1e-6 * std::abs(g_pre[i]));
  // The D step's weight gradient of the last layer, summed over both passes, from the logits'
  // gradients and the previous layer's activations: dW = sum_passes g^T h.
  auto w_grad = tr.get("discriminator.main.2.weight.grad").to_double_vector();
  for (int64_t j = 0; j < 12; ++j) {
    double ref = 0;
    for (const char* pass : {"real", "fake"}) {
      std::string p = std::string("discriminator.") + pass;
      auto gl = tr.get(p + ".main.2.out.grad").to_double_vector();
      auto h = tr.get(p + ".main.1.out").to_double_vector();
      for (int64_t n = 0; n < B; ++n) ref += gl[n] * h[n * 12 + j];
    }
    EXPECT_NEAR(w_grad[j], ref, 1e-6 * (1 + std::abs(ref)));
  }
}

TEST(Trace, GivenBatchAndNoiseAreUsedAndChecked) {
  models::TrainConfig cfg = tiny("dcgan32");
  io::ImageDataset data = random_images(10, 1, 32, 9);
  models::fit_model_to_data(cfg, data);
  Generator g(5);
  Tensor real = Tensor::rand({4, 1, 32, 32}, &g, -1.0, 1.0);
  Tensor z = Tensor::randn({4, 5, 1, 1}, &g);
  {
    models::Trainer t(cfg, data, Device::cpu());
    models::StepTrace tr = models::trace_step(t, real, z);
    EXPECT_EQ(max_abs_diff(tr.get("input.real"), real), 0.0);
    EXPECT_EQ(max_abs_diff(tr.get("input.noise"), z), 0.0);
    EXPECT_EQ(tr.get("discriminator.real.main.0.out").size(0), 4);
  }
  models::Trainer t(cfg, data, Device::cpu());
  try {
    models::trace_step(t, real, Tensor::randn({4, 5}, &g));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("noise"), std::string::npos) << e.what();
  }
}

TEST(Trace, WritesTheFiles) {
  fs::path dir = fs::temp_directory_path() / ("gan_trace_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  models::TraceRequest req;
  req.cfg.model.arch = "mlp";
  req.cfg.seed = 4;
  req.cfg.batch = 3;
  req.out_dir = dir.string();
  models::TraceFiles f = models::write_trace(req);
  auto file = io::load_safetensors(f.safetensors);
  EXPECT_EQ(file.metadata.at("format"), "gan-engine-trace");
  EXPECT_EQ(file.metadata.at("arch"), "mlp");
  EXPECT_EQ(file.get("input.real").shape, (Shape{3, 1, 28, 28}));
  EXPECT_EQ(file.get("generator.main.6.out.grad").shape, (Shape{3, 784}));
  EXPECT_EQ(file.get("discriminator.main.0.weight.grad").shape, (Shape{512, 784}));
  EXPECT_EQ(file.tensors.size(), f.trace.tensors.size());
  DotParts p = parse_dot(read_text(f.dot));
  EXPECT_EQ(p.root_edges, 2);  // loss_d and loss_g
  // G: 4 linear, 3 leaky_relu, tanh, reshape to images. D, each pass: 3 linear, 2 leaky_relu,
  // reshape to [N]; only the generator-step pass also records its input flatten (the real batch
  // and the detached fake need no gradient, so flattening them records nothing). The losses:
  // bce_with_logits on real and on fake and their add; bce_with_logits for loss_g.
  EXPECT_EQ(f.trace.dot_stats.ops, 9 + 6 + 6 + 7 + 4);
  // G's 8 parameters and D's 6 (D's are frozen in the generator step: leaves of loss_d only).
  EXPECT_EQ(f.trace.dot_stats.leaves, 8 + 6);
  EXPECT_EQ(static_cast<int64_t>(p.nodes.size()), f.trace.dot_stats.ops + f.trace.dot_stats.leaves + 2);
  if (f.svg.empty()) {
    std::printf("[ INFO     ] Graphviz dot not installed: graph.svg not checked\n");
  } else {
    std::string svg = read_text(f.svg);
    EXPECT_NE(svg.find("<svg"), std::string::npos);
    EXPECT_NE(svg.find("loss_g"), std::string::npos);
  }
  fs::remove_all(dir);
}

// --checkpoint traces the step the run would take next: the same batch (loader position), the
// same noise (noise stream position), the same weights and Adam moments.
TEST(Trace, CheckpointTracesTheRunsNextStep) {
  models::TrainConfig cfg = tiny("mlp");
  cfg.steps = 3;
  const io::ImageDataset mnist = models::load_dataset("mnist", 28);
  models::fit_model_to_data(cfg, mnist);
  models::Trainer plain(cfg, mnist, Device::cpu());
  plain.train_step();
  plain.train_step();
  fs::path dir = fs::temp_directory_path() / ("gan_trace_ck_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  io::save_safetensors((dir / "ck.safetensors").string(), plain.checkpoint());
  plain.train_step();

  models::TraceRequest req;
  req.checkpoint = (dir / "ck.safetensors").string();
  req.out_dir = (dir / "trace").string();
  models::TraceFiles f = models::write_trace(req);
  EXPECT_EQ(f.cfg.batch, cfg.batch);  // the run's batch, not a default
  EXPECT_GT(f.trace.get("optim.generator.main.0.weight.exp_avg").numel(), 0);
  for (auto [prefix, net] : {std::pair<std::string, nn::Module*>{"generator.", &plain.network("generator")},
                             std::pair<std::string, nn::Module*>{"discriminator.", &plain.network("discriminator")}})
    for (auto& [name, p] : net->named_parameters()) {
      EXPECT_EQ(max_abs_diff(p.grad(), f.trace.get(prefix + name + ".grad")), 0.0) << prefix << name;
      EXPECT_EQ(max_abs_diff(p, f.trace.get(prefix + name + ".updated")), 0.0) << prefix << name;
    }
  fs::remove_all(dir);
}
