// nn modules: state_dict names and order as PyTorch's, layer forwards against naive float64
// loops, default and DCGAN initialisation statistics, train/eval behaviour of BatchNorm2d and
// InstanceNorm2d, ReflectionPad2d, load_state_dict's checks.
#include <cmath>
#include <numeric>

#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "models/dcgan.h"
#include "models/mlp_gan.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::test;

namespace {

std::vector<std::string> keys(const nn::StateDict& sd) {
  std::vector<std::string> k;
  for (auto& [n, v] : sd) k.push_back(n);
  return k;
}

// Mean and (population) standard deviation of a tensor's elements.
std::pair<double, double> moments(const Tensor& t) {
  auto v = t.to_double_vector();
  double m = std::accumulate(v.begin(), v.end(), 0.0) / v.size(), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / v.size())};
}

std::map<std::string, nn::StateValue> as_map(const nn::StateDict& sd) {
  std::map<std::string, nn::StateValue> m;
  for (auto& [k, v] : sd) m[k] = v;
  return m;
}

}  // namespace

TEST(NN, StateDictNamesAndOrderFollowPyTorch) {
  Generator g(1);
  nn::Sequential seq;
  seq.push_back(std::make_shared<nn::Conv2d>(3, 4, 3, 1, 1, false, &g));
  seq.push_back(std::make_shared<nn::BatchNorm2d>(4));
  seq.push_back(std::make_shared<nn::LeakyReLU>(0.2));
  seq.push_back(std::make_shared<nn::Flatten>());
  seq.push_back(std::make_shared<nn::Linear>(4 * 5 * 5, 7, true, &g));
  // torch: nn.Sequential(Conv2d(3,4,3,1,1,bias=False), BatchNorm2d(4), LeakyReLU(0.2), Flatten(),
  // Linear(100, 7)).state_dict().keys()
  std::vector<std::string> expect = {"0.weight",          "1.weight", "1.bias",   "1.running_mean", "1.running_var",
                                     "1.num_batches_tracked", "4.weight", "4.bias"};
  EXPECT_EQ(keys(seq.state_dict()), expect);
  std::vector<std::string> params;
  for (auto& [n, p] : seq.named_parameters()) params.push_back(n);
  EXPECT_EQ(params, (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "4.weight", "4.bias"}));
  std::vector<std::string> bufs;
  for (auto& [n, b] : seq.named_buffers()) bufs.push_back(n);
  EXPECT_EQ(bufs, (std::vector<std::string>{"1.running_mean", "1.running_var"}));
  EXPECT_EQ(seq.num_parameters(), 4 * 3 * 9 + 4 + 4 + 100 * 7 + 7);
  for (auto& [n, v] : seq.state_dict()) EXPECT_EQ(v.is_counter, n == "1.num_batches_tracked") << n;
}

TEST(NN, Dcgan64MatchesPytorchExampleNamesShapesAndSizes) {
  models::ModelConfig cfg;
  cfg.arch = "dcgan64";
  cfg.channels = 3;
  cfg.image_size = 64;
  Generator g(2);
  models::Dcgan64Generator G(cfg, g);
  models::Dcgan64Discriminator D(cfg, g);
  // pytorch/examples dcgan/main.py, nz = 100, ngf = ndf = 64, nc = 3: parameter counts of
  // Generator and Discriminator (sum(p.numel() for p in net.parameters())).
  EXPECT_EQ(G.num_parameters(), 3576704);
  EXPECT_EQ(D.num_parameters(), 2765568);
  std::map<std::string, Shape> gshapes;
  for (auto& [n, v] : G.state_dict())
    if (!v.is_counter) gshapes[n] = v.tensor.shape();
  EXPECT_EQ(gshapes.at("main.0.weight"), (Shape{100, 512, 4, 4}));
  EXPECT_EQ(gshapes.at("main.1.running_var"), (Shape{512}));
  EXPECT_EQ(gshapes.at("main.3.weight"), (Shape{512, 256, 4, 4}));
  EXPECT_EQ(gshapes.at("main.12.weight"), (Shape{64, 3, 4, 4}));
  EXPECT_EQ(gshapes.size(), 5u + 4 * 4);  // 5 conv weights, 4 BatchNorms x (w, b, mean, var)
  std::vector<std::string> dk = keys(D.state_dict());
  std::vector<std::string> expect_d = {
      "main.0.weight",  "main.2.weight",  "main.3.weight",        "main.3.bias",   "main.3.running_mean",
      "main.3.running_var", "main.3.num_batches_tracked", "main.5.weight", "main.6.weight", "main.6.bias",
      "main.6.running_mean", "main.6.running_var", "main.6.num_batches_tracked", "main.8.weight",
      "main.9.weight",  "main.9.bias",    "main.9.running_mean",  "main.9.running_var",
      "main.9.num_batches_tracked", "main.11.weight"};
  EXPECT_EQ(dk, expect_d);
}

TEST(NN, DcganForwardShapes) {
  Generator g(3);
  for (std::string arch : {"dcgan32", "dcgan64"}) {
    models::ModelConfig cfg;
    cfg.arch = arch;
    cfg.channels = arch == "dcgan32" ? 1 : 3;
    cfg.image_size = arch == "dcgan32" ? 32 : 64;
    cfg.nz = 7;
    cfg.ngf = cfg.ndf = 4;
    std::shared_ptr<nn::Module> G, D;
    if (arch == "dcgan32") {
      G = std::make_shared<models::Dcgan32Generator>(cfg, g);
      D = std::make_shared<models::Dcgan32Discriminator>(cfg, g);
    } else {
      G = std::make_shared<models::Dcgan64Generator>(cfg, g);
      D = std::make_shared<models::Dcgan64Discriminator>(cfg, g);
    }
    Tensor z = Tensor::randn({3, 7, 1, 1}, &g);
    Tensor x = G->forward(z);
    EXPECT_EQ(x.shape(), (Shape{3, cfg.channels, cfg.image_size, cfg.image_size})) << arch;
    auto v = x.to_double_vector();
    for (double e : v) ASSERT_TRUE(e > -1 && e < 1) << arch << ": Tanh output " << e;
    EXPECT_EQ(D->forward(x).shape(), (Shape{3})) << arch;
    EXPECT_THROW(G->forward(Tensor::randn({3, 7}, &g)), Error);
    EXPECT_THROW(D->forward(Tensor::randn({3, cfg.channels, 28, 28}, &g)), Error);
  }
}

TEST(NN, LinearForwardMatchesNaiveLoops) {
  Generator g(4);
  nn::Linear lin(5, 3, true, &g);
  Tensor x = Tensor::randn({4, 5}, &g);
  auto y = lin.forward(x).to_double_vector();
  auto xv = x.to_double_vector(), w = lin.weight.to_double_vector(), b = lin.bias.to_double_vector();
  for (int n = 0; n < 4; ++n)
    for (int o = 0; o < 3; ++o) {
      double s = b[o];
      for (int i = 0; i < 5; ++i) s += xv[n * 5 + i] * w[o * 5 + i];
      EXPECT_NEAR(y[n * 3 + o], s, 1e-5);
    }
  nn::Linear nobias(5, 3, false, &g);
  EXPECT_FALSE(nobias.bias.defined());
  EXPECT_EQ(nobias.named_parameters().size(), 1u);
  EXPECT_THROW(lin.forward(Tensor::randn({4, 6}, &g)), Error);
}

TEST(NN, SequentialForwardEqualsManualComposition) {
  Generator g(5);
  auto l1 = std::make_shared<nn::Linear>(6, 9, true, &g);
  auto l2 = std::make_shared<nn::Linear>(9, 2, true, &g);
  nn::Sequential seq({l1, std::make_shared<nn::LeakyReLU>(0.2), l2, std::make_shared<nn::Tanh>()});
  Tensor x = Tensor::randn({5, 6}, &g);
  auto y = seq.forward(x).to_double_vector();
  // Naive float64: tanh(W2 leaky(W1 x + b1) + b2).
  auto xv = x.to_double_vector(), w1 = l1->weight.to_double_vector(), b1 = l1->bias.to_double_vector(),
       w2 = l2->weight.to_double_vector(), b2 = l2->bias.to_double_vector();
  for (int n = 0; n < 5; ++n) {
    std::vector<double> h(9);
    for (int j = 0; j < 9; ++j) {
      double s = b1[j];
      for (int i = 0; i < 6; ++i) s += w1[j * 6 + i] * xv[n * 6 + i];
      h[j] = s > 0 ? s : 0.2 * s;
    }
    for (int o = 0; o < 2; ++o) {
      double s = b2[o];
      for (int j = 0; j < 9; ++j) s += w2[o * 9 + j] * h[j];
      EXPECT_NEAR(y[n * 2 + o], std::tanh(s), 1e-5);
    }
  }
}

TEST(NN, MlpGanShapesAndNames) {
  models::ModelConfig cfg;  // defaults: nz 100, 28x28x1, G 256-512-1024, D 512-256
  Generator g(6);
  models::MlpGenerator G(cfg, g);
  models::MlpDiscriminator D(cfg, g);
  EXPECT_EQ(keys(G.state_dict()), (std::vector<std::string>{"main.0.weight", "main.0.bias", "main.2.weight",
                                                              "main.2.bias", "main.4.weight", "main.4.bias",
                                                              "main.6.weight", "main.6.bias"}));
  EXPECT_EQ(G.num_parameters(), (100 * 256 + 256) + (256 * 512 + 512) + (512 * 1024 + 1024) + (1024 * 784 + 784));
  EXPECT_EQ(D.num_parameters(), (784 * 512 + 512) + (512 * 256 + 256) + (256 + 1));
  Tensor x = G.forward(Tensor::randn({3, 100}, &g));
  EXPECT_EQ(x.shape(), (Shape{3, 1, 28, 28}));
  EXPECT_EQ(D.forward(x).shape(), (Shape{3}));
}

TEST(NN, DefaultInitFollowsPytorchBounds) {
  Generator g(7);
  nn::Linear lin(300, 200, true, &g);
  double bound = 1.0 / std::sqrt(300.0);  // kaiming_uniform(a = sqrt 5) == U(+-1/sqrt(fan_in))
  for (const Tensor* t : {&lin.weight, &lin.bias})
    for (double v : t->to_double_vector()) ASSERT_LE(std::abs(v), bound);
  auto [m, s] = moments(lin.weight);
  EXPECT_NEAR(m, 0.0, 0.01 * bound * 10);
  EXPECT_NEAR(s, bound / std::sqrt(3.0), 0.02 * bound);  // std of U(-b, b)

  // ConvTranspose2d's fan-in is weight.size(1) * k * k = out * k * k, as in PyTorch.
  nn::ConvTranspose2d ct(10, 6, 3, 1, 0, 0, true, &g);
  EXPECT_EQ(ct.weight.shape(), (Shape{10, 6, 3, 3}));
  double ct_bound = 1.0 / std::sqrt(6.0 * 9);
  double max_w = 0;
  for (double v : ct.weight.to_double_vector()) max_w = std::max(max_w, std::abs(v));
  EXPECT_LE(max_w, ct_bound);
  EXPECT_GT(max_w, 0.9 * ct_bound);  // 540 draws: the largest comes close to the bound
  nn::Conv2d cv(10, 6, 3, 1, 0, true, &g);
  EXPECT_EQ(cv.weight.shape(), (Shape{6, 10, 3, 3}));
  EXPECT_EQ(nn::init::fan_in_out(cv.weight), (std::pair<int64_t, int64_t>{90, 54}));
}

TEST(NN, DcganInitStatistics) {
  models::ModelConfig cfg;
  cfg.arch = "dcgan64";
  cfg.channels = 3;
  cfg.image_size = 64;
  Generator g(8);
  models::Dcgan64Generator G(cfg, g);
  for (auto& [n, p] : G.named_parameters()) {
    auto [m, s] = moments(p);
    bool bn = n == "main.1.weight" || n == "main.4.weight" || n == "main.7.weight" || n == "main.10.weight";
    bool bias = n.size() > 5 && n.substr(n.size() - 5) == ".bias";
    if (bias) {
      EXPECT_EQ(m, 0.0) << n;
      EXPECT_EQ(s, 0.0) << n;
    } else if (bn) {
      EXPECT_NEAR(m, 1.0, 0.01) << n;
      EXPECT_NEAR(s, 0.02, 0.006) << n;
    } else {  // conv weights, >= 3072 values
      EXPECT_NEAR(m, 0.0, 0.002) << n;
      EXPECT_NEAR(s, 0.02, 0.0015) << n;
    }
  }
}

TEST(NN, BatchNorm2dTrainEvalAndCounter) {
  Generator g(9);
  nn::BatchNorm2d bn(3, 1e-5, 0.1);
  nn::init::normal_(bn.weight, 1.0, 0.5, g);
  nn::init::normal_(bn.bias, 0.0, 0.5, g);
  Tensor x = Tensor::randn({4, 3, 2, 5}, &g) * 2.0 + 1.0;
  auto xv = x.to_double_vector();
  Tensor y = bn.forward(x);
  EXPECT_EQ(bn.num_batches_tracked, 1);
  auto w = bn.weight.to_double_vector(), b = bn.bias.to_double_vector();
  auto rm = bn.running_mean.to_double_vector(), rv = bn.running_var.to_double_vector();
  auto yv = y.to_double_vector();
  for (int c = 0; c < 3; ++c) {
    double mean = 0, var = 0;
    for (int n = 0; n < 4; ++n)
      for (int s = 0; s < 10; ++s) mean += xv[(n * 3 + c) * 10 + s];
    mean /= 40;
    for (int n = 0; n < 4; ++n)
      for (int s = 0; s < 10; ++s) var += std::pow(xv[(n * 3 + c) * 10 + s] - mean, 2);
    EXPECT_NEAR(rm[c], 0.1 * mean, 1e-5);
    EXPECT_NEAR(rv[c], 0.9 + 0.1 * var / 39, 1e-5);  // unbiased variance in the running estimate
    for (int n = 0; n < 4; ++n)
      for (int s = 0; s < 10; ++s) {
        int i = (n * 3 + c) * 10 + s;
        EXPECT_NEAR(yv[i], (xv[i] - mean) / std::sqrt(var / 40 + 1e-5) * w[c] + b[c], 1e-4);
      }
  }
  bn.eval();
  Tensor ye = bn.forward(x);
  EXPECT_EQ(bn.num_batches_tracked, 1);  // eval leaves statistics alone
  auto yev = ye.to_double_vector();
  for (int c = 0; c < 3; ++c)
    for (int n = 0; n < 4; ++n)
      for (int s = 0; s < 10; ++s) {
        int i = (n * 3 + c) * 10 + s;
        EXPECT_NEAR(yev[i], (xv[i] - rm[c]) / std::sqrt(rv[c] + 1e-5) * w[c] + b[c], 1e-4);
      }
  EXPECT_EQ(bn.running_mean.to_double_vector(), rm);
}

TEST(NN, LayerNormModuleMatchesNaive) {
  Generator g(10);
  nn::LayerNorm ln({2, 3});
  nn::init::normal_(ln.weight, 1.0, 0.3, g);
  nn::init::normal_(ln.bias, 0.0, 0.3, g);
  Tensor x = Tensor::randn({4, 2, 3}, &g);
  auto xv = x.to_double_vector(), yv = ln.forward(x).to_double_vector();
  auto w = ln.weight.to_double_vector(), b = ln.bias.to_double_vector();
  for (int n = 0; n < 4; ++n) {
    double m = 0, v = 0;
    for (int k = 0; k < 6; ++k) m += xv[n * 6 + k];
    m /= 6;
    for (int k = 0; k < 6; ++k) v += std::pow(xv[n * 6 + k] - m, 2);
    v /= 6;
    for (int k = 0; k < 6; ++k) EXPECT_NEAR(yv[n * 6 + k], (xv[n * 6 + k] - m) / std::sqrt(v + 1e-5) * w[k] + b[k], 1e-4);
  }
  EXPECT_THROW(ln.forward(Tensor::randn({4, 3, 2}, &g)), Error);
}

TEST(NN, ReflectionPad2dModule) {
  nn::ReflectionPad2d pad(1);
  EXPECT_EQ(pad.type_name(), "ReflectionPad2d");
  EXPECT_TRUE(pad.named_parameters().empty());
  EXPECT_TRUE(pad.state_dict().empty());
  // [[1, 2, 3], [4, 5, 6]] mirrored by one on each side, as torch.nn.ReflectionPad2d(1) gives it.
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {1, 1, 2, 3});
  Tensor y = pad.forward(x);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 5}));
  EXPECT_EQ(y.to_double_vector(), (std::vector<double>{5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5, 2, 1, 2, 3, 2}));
  EXPECT_NE(nn::ReflectionPad2d(3).describe().find("ReflectionPad2d((3, 3, 3, 3))"), std::string::npos)
      << nn::ReflectionPad2d(3).describe();
  EXPECT_THROW(nn::ReflectionPad2d(-1), Error);
  EXPECT_THROW(nn::ReflectionPad2d(2).forward(x), Error);  // pad 2 on a height of 2
}

TEST(NN, InstanceNorm2dModule) {
  Generator g(13);
  // Without affine (torch's default): no parameters and, without running stats, no buffers.
  nn::InstanceNorm2d plain(3);
  EXPECT_EQ(plain.type_name(), "InstanceNorm2d");
  EXPECT_TRUE(plain.named_parameters().empty());
  EXPECT_TRUE(plain.named_buffers().empty());
  EXPECT_TRUE(plain.state_dict().empty());
  EXPECT_FALSE(plain.weight.defined());
  nn::InstanceNorm2d affine(3, 1e-5, true);
  std::vector<std::string> names;
  for (auto& [n, p] : affine.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias"}));
  EXPECT_TRUE(affine.named_buffers().empty());
  EXPECT_EQ(affine.weight.to_double_vector(), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(affine.bias.to_double_vector(), (std::vector<double>{0, 0, 0}));
  nn::init::normal_(affine.weight, 1.0, 0.5, g);
  nn::init::normal_(affine.bias, 0.0, 0.5, g);

  Tensor x = Tensor::randn({2, 3, 4, 5}, &g) * 2.0 + 1.0;
  auto xv = x.to_double_vector(), w = affine.weight.to_double_vector(), b = affine.bias.to_double_vector();
  for (nn::InstanceNorm2d* m : {&plain, &affine}) {
    auto train = m->forward(x).to_double_vector();
    m->eval();
    auto eval = m->forward(x).to_double_vector();
    m->train();
    EXPECT_EQ(train, eval) << "train and eval mode differ";
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 3; ++c) {
        double mean = 0, var = 0;
        for (int s = 0; s < 20; ++s) mean += xv[(n * 3 + c) * 20 + s];
        mean /= 20;
        for (int s = 0; s < 20; ++s) var += std::pow(xv[(n * 3 + c) * 20 + s] - mean, 2);
        var /= 20;
        for (int s = 0; s < 20; ++s) {
          int i = (n * 3 + c) * 20 + s;
          double want = (xv[i] - mean) / std::sqrt(var + 1e-5);
          if (m == &affine) want = want * w[c] + b[c];
          EXPECT_NEAR(train[i], want, 1e-4) << i;
        }
      }
  }
  // Gradients reach the affine parameters.
  sum(affine.forward(x) * Tensor::randn({2, 3, 4, 5}, &g)).backward();
  EXPECT_TRUE(affine.weight.grad().defined());
  EXPECT_TRUE(affine.bias.grad().defined());
  EXPECT_THROW(plain.forward(Tensor::randn({2, 4, 4, 5}, &g)), Error);
  EXPECT_THROW(plain.forward(Tensor::randn({3, 4, 5}, &g)), Error);
  EXPECT_THROW(nn::InstanceNorm2d(0), Error);
  EXPECT_NE(plain.describe().find("InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)"),
            std::string::npos)
      << plain.describe();
}

TEST(NN, CycleGanResnetStemNamesFollowPyTorch) {
  // The stem of pytorch-CycleGAN-and-pix2pix's ResnetGenerator: ReflectionPad2d(3), Conv2d(3, ngf,
  // 7, bias=True: instance norm), InstanceNorm2d(ngf), ReLU; torch's state_dict keys for it.
  Generator g(14);
  for (bool aff : {false, true}) {
    nn::Sequential seq;
    seq.push_back(std::make_shared<nn::ReflectionPad2d>(3));
    seq.push_back(std::make_shared<nn::Conv2d>(3, 8, 7, 1, 0, true, &g));
    seq.push_back(std::make_shared<nn::InstanceNorm2d>(8, 1e-5, aff));
    seq.push_back(std::make_shared<nn::ReLU>());
    std::vector<std::string> want = {"1.weight", "1.bias"};
    if (aff) want.insert(want.end(), {"2.weight", "2.bias"});
    EXPECT_EQ(keys(seq.state_dict()), want);
    EXPECT_EQ(seq.forward(Tensor::randn({2, 3, 11, 9}, &g)).shape(), (Shape{2, 8, 11, 9}));
  }
}

TEST(NN, LoadStateDictChecksBeforeChanging) {
  Generator g(11);
  nn::Sequential a({std::make_shared<nn::Linear>(3, 4, true, &g), std::make_shared<nn::BatchNorm2d>(4)});
  nn::Sequential b({std::make_shared<nn::Linear>(3, 4, true, &g), std::make_shared<nn::BatchNorm2d>(4)});
  b.forward(Tensor::randn({5, 3}, &g));  // moves b's running stats and counter
  auto sd = as_map(b.state_dict());
  EXPECT_EQ(sd.at("1.num_batches_tracked").counter, 1);
  a.load_state_dict(sd, "test");
  for (auto& [k, v] : a.state_dict()) {
    if (v.is_counter) EXPECT_EQ(v.counter, sd.at(k).counter);
    else EXPECT_EQ(v.tensor.to_double_vector(), sd.at(k).tensor.to_double_vector()) << k;
  }
  // The loaded tensors are copies: changing b leaves a alone.
  b.forward(Tensor::randn({5, 3}, &g));
  EXPECT_NE(a.state_dict()[4].second.tensor.to_double_vector(), b.state_dict()[4].second.tensor.to_double_vector());

  nn::Sequential c({std::make_shared<nn::Linear>(3, 4, true, &g), std::make_shared<nn::BatchNorm2d>(4)});
  auto before = c.state_dict()[0].second.tensor.to_double_vector();
  auto missing = sd;
  missing.erase("0.bias");
  auto expect_error = [&](const std::map<std::string, nn::StateValue>& s, const std::string& needle) {
    try {
      c.load_state_dict(s, "ckpt.safetensors");
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("ckpt.safetensors"), std::string::npos) << e.what();
    }
  };
  expect_error(missing, "missing tensor '0.bias'");
  auto wrong = sd;
  wrong["0.weight"] = nn::StateValue::of(Tensor::zeros({4, 5}));
  expect_error(wrong, "'0.weight' has shape [4, 5]");
  auto extra = sd;
  extra["2.weight"] = nn::StateValue::of(Tensor::zeros({1}));
  expect_error(extra, "unexpected entry '2.weight'");
  EXPECT_EQ(c.state_dict()[0].second.tensor.to_double_vector(), before);
  // A missing counter is tolerated (older PyTorch checkpoints have none).
  auto no_counter = sd;
  no_counter.erase("1.num_batches_tracked");
  EXPECT_NO_THROW(c.load_state_dict(no_counter, "old"));
}

TEST(NN, TrainEvalZeroGradAndFreeze) {
  Generator g(12);
  nn::Sequential s({std::make_shared<nn::Linear>(3, 2, true, &g), std::make_shared<nn::BatchNorm2d>(2)});
  EXPECT_TRUE(s[1].is_training());
  s.eval();
  EXPECT_FALSE(s[1].is_training());
  s.train();
  sum(s.forward(Tensor::randn({4, 3}, &g)) * Tensor::randn({4, 2}, &g)).backward();
  for (auto& p : s.parameters()) EXPECT_TRUE(p.grad().defined());
  s.zero_grad();
  for (auto& p : s.parameters()) EXPECT_FALSE(p.grad().defined());
  s.set_requires_grad(false);
  Tensor x = Tensor::randn({4, 3}, &g).requires_grad_();
  sum(s.forward(x)).backward();
  EXPECT_TRUE(x.grad().defined());
  for (auto& p : s.parameters()) EXPECT_FALSE(p.grad().defined());
  s.to(Device::cpu());  // a no-op move keeps the same tensors
  EXPECT_EQ(s.device(), Device::cpu());
  EXPECT_NE(s.describe().find("BatchNorm2d(2, eps=1e-05"), std::string::npos) << s.describe();
}
