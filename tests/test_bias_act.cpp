// bias_act (a bias and a ReLU / LeakyReLU in one pass) and the layer fusion of Linear, Conv2d and
// ConvTranspose2d with the activation after them: values against naive loops in float64, bits
// against the unfused ops (add, then relu / leaky_relu), first and second derivatives against
// finite differences, errors, and whole networks and training runs with fusion on and off.
#include <cmath>
#include <string>

#include "engine/backend/bf16_widening.h"
#include "engine/nn/layers.h"
#include "engine/nn/module.h"
#include "models/trainer.h"
#include "tests/op_reference.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

struct ActCase {
  const char* name;
  NormAct act;
};
const ActCase kActs[] = {
    {"none", {NormActKind::None, 0.0}},
    {"relu", {NormActKind::Relu, 0.0}},
    {"leaky 0.2", {NormActKind::LeakyRelu, 0.2}},
    {"leaky 0", {NormActKind::LeakyRelu, 0.0}},
};

// [7, 5] (a Linear's output: S = 1), [3, 4, 5, 7] (S = 35: runs of one bias value), [2, 3, 1, 1]
// and [4, 6, 2] (rank 3).
const Shape kShapes[] = {{7, 5}, {3, 4, 5, 7}, {2, 3, 1, 1}, {4, 6, 2}};

Shape channel_view(const Tensor& x) {
  Shape s(x.dim(), 1);
  s[1] = x.size(1);
  return s;
}

// What bias_act replaces: the bias added as its own op, then the activation.
Tensor unfused(const Tensor& x, const Tensor& b, const NormAct& act) {
  Tensor z = x + b.reshape(channel_view(x));
  if (act.kind == NormActKind::Relu) return relu(z);
  if (act.kind == NormActKind::LeakyRelu) return leaky_relu(z, act.slope);
  return z;
}

// Naive float64 loops over [N, C, S].
std::vector<double> reference(const Tensor& x, const Tensor& b, const NormAct& act) {
  const auto xv = x.to_double_vector(), bv = b.to_double_vector();
  const int64_t C = x.size(1), S = x.numel() / (x.size(0) * C);
  std::vector<double> y(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const double z = xv[i] + bv[(static_cast<int64_t>(i) / S) % C];
    y[i] = act.kind == NormActKind::None ? z : (z > 0 ? z : act.slope * z);
  }
  return y;
}

}  // namespace

TEST(BiasAct, ValuesMatchNaiveLoops) {
  // A hand case first: x [2, 3], bias [0.5, -1, 2], LeakyReLU 0.1.
  Tensor x = Tensor::from_vector(std::vector<double>{1.0, -2.0, 0.25, -0.75, 0.5, -3.0}, {2, 3});
  Tensor b = Tensor::from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3});
  expect_close(bias_act(x, b, {NormActKind::LeakyRelu, 0.1}), {1.5, -0.3, 2.25, -0.025, -0.05, -0.1}, 1e-15);
  expect_close(bias_act(x, b, {NormActKind::Relu, 0.0}), {1.5, 0, 2.25, 0, 0, 0}, 0);
  uint64_t seed = 100;
  for (DType dt : both_dtypes())
    for (const Shape& s : kShapes)
      for (const ActCase& a : kActs) {
        Tensor xs = uniform(s, dt, ++seed), bs = uniform({s[1]}, dt, ++seed, -1.0, 1.0);
        expect_matches(bias_act(xs, bs, a.act), reference(xs, bs, a.act),
                       std::string(a.name) + " " + dtype_name(dt) + " " + shape_str(s));
      }
}

TEST(BiasAct, IsTheBiasAddThenTheActivationBitForBit) {
  uint64_t seed = 200;
  for (DType dt : {DType::Float32, DType::Float64, DType::BFloat16})
    for (const Shape& s : kShapes)
      for (const ActCase& a : kActs) {
        Tensor x = uniform(s, DType::Float32, ++seed).to(dt), b = uniform({s[1]}, DType::Float32, ++seed).to(dt);
        Tensor f = bias_act(x, b, a.act), u = unfused(x, b, a.act);
        EXPECT_EQ(f.dtype(), dt);
        EXPECT_TRUE(same_bits(f, u)) << a.name << " " << dtype_name(dt) << " " << shape_str(s) << ": rel error "
                                     << rel_error(f.to(DType::Float64), u.to(DType::Float64));
      }
}

TEST(BiasAct, GradientsAreTheUnfusedOpsBitForBit) {
  uint64_t seed = 300;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Shape& s : kShapes)
      for (const ActCase& a : kActs) {
        Tensor x0 = uniform(s, dt, ++seed), b0 = uniform({s[1]}, dt, ++seed), up = uniform(s, dt, ++seed);
        auto grads = [&](bool fused) {
          Tensor x = x0.detach().requires_grad_(), b = b0.detach().requires_grad_();
          Tensor y = fused ? bias_act(x, b, a.act) : unfused(x, b, a.act);
          return grad({y}, {x, b}, {up});
        };
        auto f = grads(true), u = grads(false);
        for (size_t i = 0; i < 2; ++i)
          EXPECT_TRUE(same_bits(f[i], u[i])) << a.name << " " << dtype_name(dt) << " " << shape_str(s) << " input "
                                             << i << ": rel error " << rel_error(f[i], u[i]);
      }
}

TEST(BiasAct, FirstAndSecondDerivativesMatchFiniteDifferences) {
  // float64, values away from the kink (x + b = 0) so that the differences see one side of it.
  Tensor b = Tensor::from_vector(std::vector<double>{0.25, -0.5, 0.75}, {3}).requires_grad_();
  Tensor x = uniform_away_from({4, 3, 2, 3}, 400, -2.0, 2.0, {-0.75, -0.25, 0.5});
  x.requires_grad_();
  Tensor x2 = uniform_away_from({5, 3}, 401, -2.0, 2.0, {-0.75, -0.25, 0.5});
  x2.requires_grad_();
  for (const ActCase& a : kActs)
    for (const Tensor& xin : {x, x2}) {
      auto f = [act = a.act](const std::vector<Tensor>& in) { return bias_act(in[0], in[1], act); };
      EXPECT_GRADCHECK(f, inputs({xin, b}));
      // A critic under a gradient penalty differentiates its layers twice; the upstream gradient a
      // function of x too, so the second derivative meets the mask.
      EXPECT_GRADGRADCHECK(f, inputs({xin, b}));
      EXPECT_GRADGRADCHECK([f](const std::vector<Tensor>& in) { return f(in) * in[0]; }, inputs({xin, b}));
    }
}

TEST(BiasAct, BackwardOpIsTheUnfusedOpsBitForBitAndDifferentiable) {
  uint64_t seed = 450;
  for (DType dt : {DType::Float32, DType::Float64, DType::BFloat16})
    for (const Shape& s : {Shape{7, 5}, Shape{3, 4, 5, 7}, Shape{1, 6}, Shape{40000, 2}, Shape{70000, 1}})
      for (const ActCase& a : kActs) {
        if (a.act.kind == NormActKind::None) continue;
        Tensor g = uniform(s, DType::Float32, ++seed).to(dt), y = uniform(s, DType::Float32, ++seed).to(dt);
        auto fused = bias_act_backward(g, y, a.act);
        Tensor gz = leaky_relu_backward(g, y, a.act.slope);
        std::vector<int64_t> dims{0};
        for (int64_t k = 2; k < g.dim(); ++k) dims.push_back(k);
        const std::string what = std::string(a.name) + " " + dtype_name(dt) + " " + shape_str(s);
        EXPECT_TRUE(same_bits(fused[0], gz)) << what;
        EXPECT_TRUE(same_bits(fused[1], sum(gz, dims))) << what;
        EXPECT_EQ(fused[1].shape(), Shape{s[1]}) << what;
      }
  // Its own derivative in g (the mask's, y's is zero) against finite differences.
  Tensor y = uniform_away_from({4, 3, 2}, 460, -2.0, 2.0, {0.0});
  Tensor g = randn64({4, 3, 2}, 461);
  for (const ActCase& a : kActs) {
    if (a.act.kind == NormActKind::None) continue;
    for (int out = 0; out < 2; ++out) {
      auto f = [&, out](const std::vector<Tensor>& in) { return bias_act_backward(in[0], y, a.act)[out]; };
      EXPECT_GRADCHECK(f, inputs({g}));
    }
  }
  expect_error_naming([&] { bias_act_backward(g, randn64({4, 3}, 462), {NormActKind::Relu, 0}); },
                      {"bias_act_backward", "[4, 3, 2]", "[4, 3]"});
  expect_error_naming([&] { bias_act_backward(g, y, {}); }, {"bias_act_backward", "no activation"});
}

TEST(BiasAct, KeepsItsOutputNotTheSum) {
  // One node for the pair, whose rule reads the output: nothing else of the forward is kept.
  Tensor x = randn64({4, 3}, 500), b = randn64({3}, 501);
  Tensor y = bias_act(x, b, {NormActKind::LeakyRelu, 0.2});
  ASSERT_TRUE(y.grad_fn());
  EXPECT_EQ(y.grad_fn()->name, "bias_act");
  EXPECT_EQ(recorded_ops(y).count("add"), 0u);
  EXPECT_EQ(recorded_ops(y).count("leaky_relu"), 0u);
}

TEST(BiasAct, BadArgumentsAreRefusedByName) {
  Tensor x = randn64({4, 3, 2}, 520, false);
  expect_error_naming([&] { bias_act(x, randn64({2}, 521, false), {}); }, {"bias_act", "[2]", "[4, 3, 2]", "[3]"});
  expect_error_naming([&] { bias_act(x, Tensor(), {}); }, {"bias_act", "(none)"});
  expect_error_naming([&] { bias_act(randn64({4}, 522, false), randn64({4}, 523, false), {}); },
                      {"bias_act", "[N, C]", "[4]"});
  expect_error_naming([&] { bias_act(x, randn64({3}, 524, false), {NormActKind::LeakyRelu, -0.1}); },
                      {"bias_act", "slope >= 0", "-0.1"});
  expect_error_naming([&] { bias_act(x, randn64({3}, 525, false), {NormActKind::Relu, 0.5}); },
                      {"bias_act", "slope", "0.5"});
  expect_error_naming([&] { bias_act(x, randn64({3}, 526, false).to(DType::Float32), {}); },
                      {"bias_act", "float32", "float64"});
}

namespace {

// Linear -> LeakyReLU(0.2) -> Linear -> ReLU -> Linear -> Tanh, and a convolutional chain with a
// biased Conv2d -> LeakyReLU and ConvTranspose2d -> ReLU: every layer kind that fuses, and layers
// that do not (the last Linear, the Tanh, a bias-free conv).
std::shared_ptr<nn::Sequential> mlp_net(uint64_t seed) {
  Generator gen(seed);
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Linear>(6, 9, true, &gen));
  net->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  net->push_back(std::make_shared<nn::Linear>(9, 7, true, &gen));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::Linear>(7, 5, true, &gen));
  net->push_back(std::make_shared<nn::Tanh>());
  return net;
}
std::shared_ptr<nn::Sequential> conv_net(uint64_t seed) {
  Generator gen(seed);
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Conv2d>(2, 4, 3, 2, 1, true, &gen));
  net->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  net->push_back(std::make_shared<nn::ConvTranspose2d>(4, 3, 4, 2, 1, 0, true, &gen));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::Conv2d>(3, 1, 3, 1, 1, false, &gen));
  net->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  return net;
}

struct NetRun {
  std::vector<Tensor> outputs, grads, input_grads;
  std::multiset<std::string> ops;
};
NetRun run_net(const std::function<std::shared_ptr<nn::Sequential>(uint64_t)>& make, const Shape& xs, bool fusion,
               DType compute = DType::Float32, const std::function<void(nn::Sequential&)>& setup = nullptr) {
  const nn::LayerFusionScope fusion_scope(fusion);
  auto net = make(11);
  net->set_compute_dtype(compute);
  if (setup) setup(*net);
  NetRun r;
  for (uint64_t step = 0; step < 2; ++step) {
    Tensor x = randn64(xs, 700 + step, false).to(DType::Float32).requires_grad_();
    Tensor y = (*net)(x);
    r.ops = recorded_ops(y);
    r.outputs.push_back(y.detach());
    net->zero_grad();
    // The input's gradient under create_graph, then a penalty on it: a WGAN-GP critic's path.
    Tensor gx = grad({sum(square(y))}, {x}, {}, /*create_graph=*/true)[0];
    r.input_grads.push_back(gx.detach());
    (sum(square(y)) + sum(square(gx))).backward();
    for (const Tensor& p : net->parameters()) r.grads.push_back(p.grad().clone());
  }
  return r;
}

void expect_same_runs(const NetRun& a, const NetRun& b, const std::string& what) {
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    EXPECT_TRUE(same_bits(a.outputs[i], b.outputs[i])) << what << " output " << i;
    EXPECT_TRUE(same_bits(a.input_grads[i], b.input_grads[i])) << what << " input gradient " << i;
  }
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i)
    EXPECT_TRUE(same_bits(a.grads[i], b.grads[i])) << what << " gradient " << i << ": rel error "
                                                   << rel_error(a.grads[i], b.grads[i]);
}

}  // namespace

TEST(LayerFusion, BiasedLayersFuseTheirActivationWithTheSameNumbers) {
  for (DType compute : {DType::Float32, DType::BFloat16}) {
    const std::string dt = dtype_name(compute);
    NetRun f = run_net(mlp_net, {5, 6}, true, compute), u = run_net(mlp_net, {5, 6}, false, compute);
    expect_same_runs(f, u, "mlp " + dt);
    EXPECT_EQ(f.ops.count("bias_act"), 2u) << dt;
    EXPECT_EQ(f.ops.count("leaky_relu") + f.ops.count("relu"), 0u) << dt;
    EXPECT_EQ(u.ops.count("bias_act"), 0u) << dt;
    EXPECT_EQ(u.ops.count("leaky_relu") + u.ops.count("relu"), 2u) << dt;

    NetRun cf = run_net(conv_net, {3, 2, 7, 6}, true, compute), cu = run_net(conv_net, {3, 2, 7, 6}, false, compute);
    expect_same_runs(cf, cu, "conv " + dt);
    EXPECT_EQ(cf.ops.count("bias_act"), 2u) << dt << ": the bias-free conv keeps its LeakyReLU";
    EXPECT_EQ(cf.ops.count("leaky_relu"), 1u) << dt;
  }
}

TEST(LayerFusion, AFusedLayerCallsOnePrimitiveFewerEachWay) {
  // Primitive calls are about one kernel launch each on a GPU: the launch-bound MLP and toy steps
  // pay for every one. Linear(bias) + LeakyReLU: product and bias_act (fused) or product, bias add
  // and activation; backward: the one-pass mask and sum (fused) or the mask, then the sum.
  auto calls = [](bool fusion) {
    const nn::LayerFusionScope fusion_scope(fusion);
    Generator gen(5);
    nn::Sequential net;
    net.push_back(std::make_shared<nn::Linear>(6, 9, true, &gen));
    net.push_back(std::make_shared<nn::LeakyReLU>(0.2));
    Tensor x = randn64({5, 6}, 800, false).to(DType::Float32), up = randn64({5, 9}, 801, false).to(DType::Float32);
    backend::primitive_calls() = 0;
    Tensor y = net(x);
    const int64_t forward = backend::primitive_calls();
    backend::primitive_calls() = 0;
    backward({y}, {up});
    return std::pair<int64_t, int64_t>{forward, backend::primitive_calls()};
  };
  const auto fused = calls(true), unfused = calls(false);
  EXPECT_EQ(fused.first, 2);  // matmul, bias_act_forward
  EXPECT_EQ(unfused.first, 3);  // matmul, the bias add, leaky_relu
  EXPECT_EQ(fused.second, unfused.second - 1);
  EXPECT_GE(fused.second, 2);  // at least bias_act_backward and the weight's product
}

TEST(LayerFusion, HookedLayersAndNegativeSlopesAreNotFused) {
  // A hook on a Linear needs its own output: that pair runs unfused, the hook sees the pre-activation.
  int seen = 0;
  NetRun hooked = run_net(mlp_net, {5, 6}, true, DType::Float32, [&](nn::Sequential& net) {
    net[0].set_forward_hook([&](const Tensor& z) {
      ++seen;
      double negatives = 0;
      for (double v : z.to_double_vector()) negatives += v < 0;
      EXPECT_GT(negatives, 0) << "the Linear's own output, before the LeakyReLU";
    });
  });
  EXPECT_EQ(seen, 2);  // one forward in each of the two steps
  EXPECT_EQ(hooked.ops.count("bias_act"), 1u);
  expect_same_runs(hooked, run_net(mlp_net, {5, 6}, false), "hooked");
  // A negative slope keeps its composition.
  NetRun neg = run_net(mlp_net, {5, 6}, true, DType::Float32, [](nn::Sequential& net) {
    dynamic_cast<nn::LeakyReLU&>(net[1]).negative_slope = -0.1;
  });
  EXPECT_EQ(neg.ops.count("bias_act"), 1u);
  EXPECT_EQ(neg.ops.count("leaky_relu"), 1u);
  // A Linear without a bias keeps its activation too.
  Generator gen(3);
  nn::Sequential plain;
  plain.push_back(std::make_shared<nn::Linear>(4, 3, false, &gen));
  plain.push_back(std::make_shared<nn::ReLU>());
  EXPECT_EQ(recorded_ops(plain(randn64({2, 4}, 9).to(DType::Float32).requires_grad_())).count("relu"), 1u);
}

TEST(LayerFusion, MlpGanAndToyWganGpTrainTheSameWithFusionOnOrOff) {
  // Three steps of the real trainer: an MLP GAN (BCE) on images and the toy WGAN-GP (5 critic
  // steps, the penalty's double backward through every fused layer), every state tensor bit for bit.
  models::TrainConfig mlp = tiny_mlp(4, 3, 5);
  const io::ImageDataset ds = random_images(12, 1, 8, 21);
  models::TrainConfig toy;
  toy.loss = "wgan-gp";
  toy.data = "gaussians25";
  models::apply_defaults(toy, {});
  toy.model.g_hidden = toy.model.d_hidden = {16, 16};
  toy.batch = 8;
  toy.steps = 3;
  auto train = [&](const models::TrainConfig& c, bool images, bool fusion) {
    const nn::LayerFusionScope fusion_scope(fusion);
    auto t = images ? std::make_unique<models::Trainer>(c, ds, Device::cpu())
                    : std::make_unique<models::Trainer>(c, Device::cpu());
    for (int i = 0; i < 3; ++i) t->train_step();
    return t->checkpoint();
  };
  for (bool images : {true, false}) {
    const models::TrainConfig& c = images ? mlp : toy;
    expect_same_tensors(train(c, images, true), train(c, images, false), 11);
  }
}
