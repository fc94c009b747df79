// batch_norm_act (batch norm + ReLU / LeakyReLU in one op) and Sequential's layer fusion: the
// fused op against the composition batch_norm -> relu / leaky_relu (itself checked against naive
// loops in test_norm.cpp), first and second derivatives against finite differences, errors, and
// whole networks and training runs with fusion on and off.
#include <cmath>
#include <cstring>
#include <string>

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
    {"relu", {NormActKind::Relu, 0.0}},
    {"leaky 0.2", {NormActKind::LeakyRelu, 0.2}},
    {"leaky 0", {NormActKind::LeakyRelu, 0.0}},
};

Tensor unfused_act(const Tensor& z, const NormAct& act) {
  return act.kind == NormActKind::Relu ? relu(z) : leaky_relu(z, act.slope);
}

// x [6, 5, 3, 7] (S = 21: a vector body and a tail), [8, 3] (S = 1) and [2, 4, 1, 1] (two values
// per channel), shifted so that a channel's mean is far from 0.
const Shape kShapes[] = {{6, 5, 3, 7}, {8, 3}, {2, 4, 1, 1}};

}  // namespace

TEST(BatchNormAct, ForwardIsBatchNormThenTheActivationBitForBit) {
  uint64_t seed = 300;
  for (DType dt : {DType::Float64, DType::Float32})
    for (const Shape& xs : kShapes)
      for (const ActCase& a : kActs)
        for (bool affine : {true, false})
          for (bool track : {true, false}) {
            const int64_t C = xs[1];
            Tensor x = add(mul(randn64(xs, ++seed, false), 2.0), 0.7).to(dt);
            Tensor w = affine ? rand64({C}, ++seed, 0.5, 1.5, false).to(dt) : Tensor();
            Tensor b = affine ? randn64({C}, ++seed, false).to(dt) : Tensor();
            Tensor rm = track ? randn64({C}, ++seed, false).to(dt) : Tensor();
            Tensor rv = track ? rand64({C}, ++seed, 0.5, 2.0, false).to(dt) : Tensor();
            Tensor rm2 = track ? rm.clone() : Tensor(), rv2 = track ? rv.clone() : Tensor();
            const std::string what = std::string(a.name) + " " + dtype_name(dt) + " " + shape_str(xs) +
                                     (affine ? " affine" : "") + (track ? " tracked" : "");
            Tensor fused = batch_norm_act(x, w, b, rm, rv, a.act, 0.3, 1e-4);
            Tensor unfused = unfused_act(batch_norm(x, w, b, rm2, rv2, true, 0.3, 1e-4), a.act);
            EXPECT_TRUE(same_bits(fused, unfused)) << what << ": rel error " << rel_error(fused, unfused);
            if (track) {
              EXPECT_TRUE(same_bits(rm, rm2)) << what << " running_mean";
              EXPECT_TRUE(same_bits(rv, rv2)) << what << " running_var";
            }
            // The activation did happen: some values were negative before it.
            const auto y = fused.to_double_vector();
            int64_t clipped = 0;
            for (double v : y) clipped += v <= 0;
            EXPECT_GT(clipped, 0) << what;
          }
}

TEST(BatchNormAct, GradientsAreTheCompositionsBitForBit) {
  uint64_t seed = 400;
  for (DType dt : {DType::Float64, DType::Float32})
    for (const Shape& xs : kShapes)
      for (const ActCase& a : kActs)
        for (bool affine : {true, false}) {
          const int64_t C = xs[1];
          Tensor x0 = add(mul(randn64(xs, ++seed, false), 1.5), -0.4).to(dt);
          Tensor w0 = rand64({C}, ++seed, 0.5, 1.5, false).to(dt), b0 = randn64({C}, ++seed, false).to(dt);
          Tensor up = randn64(xs, ++seed, false).to(dt);
          auto grads = [&](bool fused) {
            Tensor x = x0.detach().requires_grad_();
            Tensor w = affine ? w0.detach().requires_grad_() : Tensor();
            Tensor b = affine ? b0.detach().requires_grad_() : Tensor();
            Tensor y = fused ? batch_norm_act(x, w, b, Tensor(), Tensor(), a.act)
                             : unfused_act(batch_norm(x, w, b, Tensor(), Tensor(), true), a.act);
            return affine ? grad({y}, {x, w, b}, {up}) : grad({y}, {x}, {up});
          };
          auto f = grads(true), u = grads(false);
          const std::string what = std::string(a.name) + " " + dtype_name(dt) + " " + shape_str(xs);
          ASSERT_EQ(f.size(), u.size());
          for (size_t i = 0; i < f.size(); ++i)
            EXPECT_TRUE(same_bits(f[i], u[i])) << what << " input " << i << ": rel error " << rel_error(f[i], u[i]);
        }
}

TEST(BatchNormAct, FirstAndSecondDerivativesMatchFiniteDifferences) {
  // float64, values kept away from the kink so that the differences see one side of it.
  Tensor x = randn64({5, 3, 2, 3}, 500), w = rand64({3}, 501, 0.5, 1.5), b = randn64({3}, 502);
  for (const ActCase& a : kActs) {
    auto f = [act = a.act](const std::vector<Tensor>& in) {
      return batch_norm_act(in[0], in[1], in[2], Tensor(), Tensor(), act);
    };
    EXPECT_GRADCHECK(f, inputs({x, w, b}));
    // A critic under a gradient penalty differentiates its layers twice.
    EXPECT_GRADGRADCHECK(f, inputs({x, w, b}));
    // The upstream gradient a function of x too (the chain rule adds the rest).
    EXPECT_GRADGRADCHECK([f](const std::vector<Tensor>& in) { return f(in) * in[0]; }, inputs({x, w, b}));
  }
}

TEST(BatchNormAct, BackwardOpEqualsItsReferenceAndIsDifferentiable) {
  Tensor x = randn64({4, 3, 2, 2}, 510), w = rand64({3}, 511, 0.5, 1.5), g = randn64({4, 3, 2, 2}, 512);
  for (const ActCase& a : kActs) {
    Tensor y = batch_norm_act(x.detach(), w.detach(), Tensor(), Tensor(), Tensor(), a.act);
    auto fused = batch_norm_act_backward(g, y, a.act, x, w);
    auto ref = batch_norm_act_backward_reference(g, y, a.act, x, w);
    for (int i = 0; i < 3; ++i) EXPECT_LT(rel_error(fused[i], ref[i]), 1e-12) << a.name << " output " << i;
    for (int out = 0; out < 3; ++out) {
      auto f = [&, out](const std::vector<Tensor>& in) {
        return batch_norm_act_backward(in[0], y, a.act, in[1], in[2])[out];
      };
      EXPECT_GRADCHECK(f, inputs({g, x, w}));
    }
  }
  // Under create_graph the first derivative is the fused op, recorded.
  Tensor xr = randn64({4, 3, 2}, 513), up = randn64({4, 3, 2}, 514, false);
  Tensor gx = grad({batch_norm_act(xr, Tensor(), Tensor(), Tensor(), Tensor(), {NormActKind::Relu, 0})}, {xr}, {up},
                   /*create_graph=*/true)[0];
  ASSERT_TRUE(gx.grad_fn());
  EXPECT_EQ(gx.grad_fn()->name, "batch_norm_act_backward");
}

TEST(BatchNormAct, BadArgumentsAreRefusedByName) {
  Tensor x = randn64({4, 3, 2}, 520, false);
  const Tensor none;
  expect_error_naming([&] { batch_norm_act(x, none, none, none, none, {NormActKind::LeakyRelu, -0.1}); },
                      {"batch_norm_act", "slope >= 0", "-0.1"});
  expect_error_naming([&] { batch_norm_act(x, none, none, none, none, {NormActKind::Relu, 0.5}); },
                      {"batch_norm_act", "relu", "0.5"});
  expect_error_naming([&] { batch_norm_act(x, randn64({2}, 521, false), Tensor(), Tensor(), Tensor(), {}); },
                      {"batch_norm_act", "weight", "[2]", "3 channels"});
  expect_error_naming([&] { batch_norm_act(randn64({1, 3}, 522, false), Tensor(), Tensor(), Tensor(), Tensor(), {}); },
                      {"batch_norm_act", "more than 1 value per channel", "[1, 3]"});
  expect_error_naming([&] { batch_norm_act_backward(x, Tensor(), {NormActKind::Relu, 0}, x, Tensor()); },
                      {"batch_norm_act_backward", "output y"});
  const Tensor y43 = randn64({4, 3}, 523, false);
  expect_error_naming([&] { batch_norm_act_backward(x, y43, {NormActKind::Relu, 0}, x, Tensor()); },
                      {"batch_norm_act_backward", "[4, 3]", "[4, 3, 2]"});
  expect_error_naming([&] { batch_norm_act_backward(x, x, NormAct{}, x, Tensor()); },
                      {"batch_norm_act_backward", "no activation"});
}

namespace {

// conv -> BN -> LeakyReLU(0.2) -> conv -> BN -> ReLU -> conv, DCGAN's chains on a small input.
std::shared_ptr<nn::Sequential> chain_net(uint64_t seed) {
  Generator gen(seed);
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Conv2d>(2, 4, 3, 1, 1, false, &gen));
  net->push_back(std::make_shared<nn::BatchNorm2d>(4));
  net->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  net->push_back(std::make_shared<nn::Conv2d>(4, 3, 3, 2, 1, false, &gen));
  net->push_back(std::make_shared<nn::BatchNorm2d>(3));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::Conv2d>(3, 1, 3, 1, 0, true, &gen));
  return net;
}

// Two forward/backward passes (the running statistics move twice); the outputs, every gradient
// and the state afterwards.
struct ChainRun {
  std::vector<Tensor> outputs, grads;
  nn::StateDict state;
  std::multiset<std::string> ops;
};
ChainRun run_chain(bool fusion, bool training = true, const std::function<void(nn::Sequential&)>& setup = nullptr) {
  const nn::LayerFusionScope fusion_scope(fusion);
  auto net = chain_net(7);
  net->train(training);
  if (setup) setup(*net);
  ChainRun r;
  for (uint64_t step = 0; step < 2; ++step) {
    Tensor x = randn64({3, 2, 6, 6}, 600 + step, false).to(DType::Float32);
    Tensor y = net->forward(x);
    r.ops = recorded_ops(y);
    r.outputs.push_back(y.detach());
    if (training) {
      net->zero_grad();
      sum(square(y)).backward();
      for (const Tensor& p : net->parameters()) r.grads.push_back(p.grad().clone());
    }
  }
  r.state = net->state_dict();
  return r;
}

void expect_same_runs(const ChainRun& a, const ChainRun& b, const std::string& what) {
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t i = 0; i < a.outputs.size(); ++i)
    EXPECT_TRUE(same_bits(a.outputs[i], b.outputs[i])) << what << " output " << i;
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i)
    EXPECT_TRUE(same_bits(a.grads[i], b.grads[i])) << what << " gradient " << i;
  ASSERT_EQ(a.state.size(), b.state.size());
  for (size_t i = 0; i < a.state.size(); ++i) {
    const auto& [k, v] = a.state[i];
    EXPECT_EQ(k, b.state[i].first);
    if (v.is_counter) {
      EXPECT_EQ(v.counter, b.state[i].second.counter) << what << " " << k;
    } else {
      EXPECT_TRUE(same_bits(v.tensor, b.state[i].second.tensor)) << what << " " << k;
    }
  }
}

}  // namespace

TEST(LayerFusion, SequentialFusesBatchNormAndActivationWithTheSameNumbers) {
  ChainRun fused = run_chain(true), unfused = run_chain(false);
  expect_same_runs(fused, unfused, "fused vs unfused");
  EXPECT_EQ(fused.ops.count("batch_norm_act"), 2u);
  EXPECT_EQ(fused.ops.count("batch_norm"), 0u);
  EXPECT_EQ(fused.ops.count("leaky_relu") + fused.ops.count("relu"), 0u);
  EXPECT_EQ(unfused.ops.count("batch_norm"), 2u);
  EXPECT_EQ(unfused.ops.count("batch_norm_act"), 0u);
  // num_batches_tracked counted once per forward either way.
  for (const auto& [k, v] : fused.state) {
    if (v.is_counter) {
      EXPECT_EQ(v.counter, 2) << k;
    }
  }
}

TEST(LayerFusion, EvalModeHooksAndNegativeSlopesAreNotFused) {
  // Eval mode: batch norm with its running statistics, the plain composition.
  ChainRun ev = run_chain(true, false), ev_off = run_chain(false, false);
  expect_same_runs(ev, ev_off, "eval");

  // A hook on the batch norm needs its own output: that pair runs unfused, and the hook sees it.
  int bn_seen = 0, act_seen = 0;
  Tensor act_out;
  auto hooks = [&](nn::Sequential& net) {
    net[1].set_forward_hook([&](const Tensor& z) {
      ++bn_seen;
      // The normalised value, not yet activated: mean 0 (weight 1, bias 0), negatives left whole.
      EXPECT_LT(std::abs(mean(z).item()), 1e-6);
    });
    net[5].set_forward_hook([&](const Tensor& y) {
      ++act_seen;
      act_out = y.detach();
    });
  };
  ChainRun hooked = run_chain(true, true, hooks);
  EXPECT_EQ(bn_seen, 2);
  EXPECT_EQ(act_seen, 2) << "the activation's hook sees the fused output";
  EXPECT_EQ(hooked.ops.count("batch_norm_act"), 1u) << "the unhooked pair still fuses";
  EXPECT_EQ(hooked.ops.count("batch_norm"), 1u);
  expect_same_runs(hooked, run_chain(false), "hooked");
  // What the activation's hook saw is what the unfused ReLU gives on the same pass.
  Tensor unfused_act_out;
  run_chain(false, true, [&](nn::Sequential& net) {
    net[5].set_forward_hook([&](const Tensor& y) { unfused_act_out = y.detach(); });
  });
  EXPECT_TRUE(same_bits(act_out, unfused_act_out));

  // A negative slope keeps its composition (the mask cannot be read from the output).
  ChainRun neg = run_chain(true, true, [](nn::Sequential& net) {
    dynamic_cast<nn::LeakyReLU&>(net[2]).negative_slope = -0.1;
  });
  EXPECT_EQ(neg.ops.count("batch_norm_act"), 1u);
  EXPECT_EQ(neg.ops.count("leaky_relu"), 1u);
}

TEST(LayerFusion, DcganTrainingIsTheSameWithFusionOnOrOff) {
  // The README's DCGAN at width 4: three steps of the real trainer (both networks, both
  // optimizers, running statistics), every state tensor equal bit for bit.
  const models::TrainConfig c = tiny_dcgan32(3);
  const io::ImageDataset ds = random_images(12, 1, 32, 21);
  auto train = [&](bool fusion) {
    const nn::LayerFusionScope fusion_scope(fusion);
    models::Trainer t(c, ds, Device::cpu());
    for (int i = 0; i < 3; ++i) t.train_step();
    return t.checkpoint();
  };
  expect_same_tensors(train(true), train(false), 21);
}
