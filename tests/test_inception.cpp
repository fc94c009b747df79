// pytorch-fid's InceptionV3 in the engine against pytorch-fid itself: closed-form weights written to
// a safetensors file and loaded through the real loader (so the names are checked too), closed-form
// images, and the features and logits pytorch-fid computed in float64 from the same weights and
// images (tests/fixtures/inception_pattern.safetensors, written by scripts/inception_fixture.py).
// Also: the loader's errors for missing, misshaped and foreign tensors.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>

#include "models/eval/inception.h"
#include "tests/inception_pattern.h"
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;
using gan::models::eval::InceptionV3;
namespace fs = std::filesystem;

namespace {

// The parity bound of the issue: the engine runs float32, the reference float64.
constexpr double kParityTol = 1e-4;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("gan_inception_" + std::to_string(::getpid()) + "_" + name)).string();
}

// Loaded once: the weights file is 95 MB and the network takes seconds on two cores.
class Inception : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    weights_ = new io::SafetensorsFile(inception_pattern_weights());
    path_ = new std::string(temp_path("pattern.safetensors"));
    io::save_safetensors(*path_, *weights_);
  }
  static void TearDownTestSuite() {
    fs::remove(*path_);
    delete weights_;
    delete path_;
  }
  static io::SafetensorsFile* weights_;
  static std::string* path_;
};
io::SafetensorsFile* Inception::weights_ = nullptr;
std::string* Inception::path_ = nullptr;

Tensor fixture_tensor(const io::SafetensorsFile& f, const std::string& name) {
  return f.get(name, "tests/fixtures/inception_pattern.safetensors").to_tensor();
}

// softmax of each row, in float64: the probabilities the feature net must report.
std::vector<double> softmax_rows(const std::vector<double>& z, int64_t k) {
  std::vector<double> p(z.size());
  for (size_t r = 0; r < z.size() / static_cast<size_t>(k); ++r) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < k; ++j) m = std::max(m, z[r * k + j]);
    for (int64_t j = 0; j < k; ++j) s += std::exp(z[r * k + j] - m);
    for (int64_t j = 0; j < k; ++j) p[r * k + j] = std::exp(z[r * k + j] - m) / s;
  }
  return p;
}

double rel_err_vec(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
  return std::sqrt(num / den);
}

}  // namespace

TEST_F(Inception, MatchesPytorchFidOnPatternWeights) {
  const auto ref = inception_fixture();
  const Tensor ref_feats = fixture_tensor(ref, "rgb.features"), ref_logits = fixture_tensor(ref, "rgb.logits");
  ASSERT_EQ(ref_feats.shape(), (Shape{2, 2048}));
  ASSERT_EQ(ref_logits.shape(), (Shape{2, 1008}));

  InceptionV3 net = InceptionV3::load(*path_, Device::cpu());
  InceptionV3::Output out;
  {
    NoGradGuard no_grad;
    out = net.forward(inception_pattern_rgb());
  }
  ASSERT_EQ(out.features.shape(), (Shape{2, 2048}));
  ASSERT_EQ(out.logits.shape(), (Shape{2, 1008}));
  const double ef = rel_error(out.features, ref_feats), el = rel_error(out.logits, ref_logits);
  std::cout << "[ inception ] rgb 2x3x64x64: features rel err " << ef << ", logits rel err " << el << "\n";
  EXPECT_LT(ef, kParityTol);
  EXPECT_LT(el, kParityTol);

  // The two images' features differ by a few percent (the rest is shared by every input); their
  // difference must match too, so that the bound above is not met by the shared part alone.
  const auto f = out.features.to_double_vector(), r = ref_feats.to_double_vector();
  std::vector<double> df, dr;
  for (size_t i = 0; i < 2048; ++i) df.push_back(f[i] - f[i + 2048]), dr.push_back(r[i] - r[i + 2048]);
  double dn = 0, rn = 0;
  for (size_t i = 0; i < 2048; ++i) dn += dr[i] * dr[i], rn += r[i] * r[i];
  ASSERT_GT(std::sqrt(dn / rn), 0.01) << "the pattern images barely change the features: the check below is weak";
  const double ed = rel_err_vec(df, dr);
  std::cout << "[ inception ] feature difference between the two images: rel err " << ed << "\n";
  EXPECT_LT(ed, 1e-3);
  // Sane activations: features neither all zero nor one repeated value.
  int zeros = 0;
  for (double v : f) zeros += v == 0;
  EXPECT_LT(zeros, 1024);
}

TEST_F(Inception, FeatureNetRepeatsGrayChannelsAndReportsProbabilities) {
  const auto ref = inception_fixture();
  const Tensor ref_feats = fixture_tensor(ref, "gray.features"), ref_logits = fixture_tensor(ref, "gray.logits");
  auto fnet = models::eval::make_inception_feature_net(*path_, Device::cpu());
  EXPECT_EQ(fnet->name(), "inception");
  EXPECT_EQ(fnet->feature_dim(), 2048);
  EXPECT_EQ(fnet->classes(), 1008);
  EXPECT_EQ(fnet->channels(), 3);
  Tensor gray = inception_pattern_gray();
  gray.requires_grad_();  // compute() must not record history even for inputs that want it
  models::eval::Features f = fnet->compute(gray);
  EXPECT_FALSE(f.features.requires_grad());
  ASSERT_EQ(f.features.shape(), (Shape{1, 2048}));
  ASSERT_EQ(f.probs.shape(), (Shape{1, 1008}));
  EXPECT_EQ(f.features.dtype(), DType::Float64);
  EXPECT_EQ(f.probs.dtype(), DType::Float64);
  const double ef = rel_error(f.features, ref_feats);
  const double ep = rel_err_vec(f.probs.to_double_vector(), softmax_rows(ref_logits.to_double_vector(), 1008));
  std::cout << "[ inception ] gray 1x1x37x53: features rel err " << ef << ", probs rel err " << ep << "\n";
  EXPECT_LT(ef, kParityTol);
  EXPECT_LT(ep, kParityTol);
}

TEST_F(Inception, FeatureNetRejectsOtherChannelCounts) {
  auto fnet = models::eval::make_inception_feature_net(*path_, Device::cpu());
  expect_error_naming([&] { fnet->compute(uniform({1, 2, 8, 8}, DType::Float32, 1)); },
                      {"inception", "[N, 3, H, W]", "[1, 2, 8, 8]"});
}

TEST_F(Inception, LoaderNamesTheFileTheTensorAndBothShapes) {
  {
    io::SafetensorsFile f = *weights_;
    for (auto& [name, t] : f.tensors)
      if (name == "Mixed_6c.branch7x7_2.conv.weight") t.shape = {160, 160, 7, 1};
    expect_error_naming([&] { InceptionV3(f, "w.safetensors", Device::cpu()); },
                        {"w.safetensors", "Mixed_6c.branch7x7_2.conv.weight", "[160, 160, 7, 1]", "[160, 160, 1, 7]"});
  }
  {
    io::SafetensorsFile f = *weights_;
    f.tensors.erase(std::remove_if(f.tensors.begin(), f.tensors.end(),
                                   [](const auto& e) { return e.first == "Mixed_7c.branch_pool.bn.running_var"; }),
                    f.tensors.end());
    const std::string broken = temp_path("missing.safetensors");
    io::save_safetensors(broken, f);
    expect_error_naming([&] { models::eval::make_inception_feature_net(broken, Device::cpu()); },
                        {broken, "Mixed_7c.branch_pool.bn.running_var", "missing", "[192]"});
    fs::remove(broken);
  }
  {
    io::SafetensorsFile f = *weights_;
    f.add("AuxLogits.fc.weight", Tensor::zeros({1008, 768}));
    expect_error_naming([&] { InceptionV3(f, "aux.safetensors", Device::cpu()); },
                        {"aux.safetensors", "unexpected tensor AuxLogits.fc.weight", "[1008, 768]"});
  }
  {
    // num_batches_tracked buffers (torch's BatchNorm state) are not weights: accepted and ignored.
    io::SafetensorsFile f = *weights_;
    f.add_int64("Conv2d_1a_3x3.bn.num_batches_tracked", 0);
    EXPECT_NO_THROW(InceptionV3(f, "nbt.safetensors", Device::cpu()));
  }
}

TEST(InceptionWeights, TensorListIsTorchvisionsStateDict) {
  // The fixture's metadata lists the state_dict of pytorch-fid's FID network: "name 32x3x3x3" lines.
  const auto ref = inception_fixture();
  ASSERT_TRUE(ref.metadata.count("state_dict"));
  std::istringstream lines(ref.metadata.at("state_dict"));
  std::string line;
  std::vector<std::string> expected;
  while (std::getline(lines, line)) expected.push_back(line);
  std::vector<std::string> ours;
  for (const auto& [name, s] : models::eval::inception_tensor_shapes()) {
    std::string dims;
    for (size_t i = 0; i < s.size(); ++i) dims += (i ? "x" : "") + std::to_string(s[i]);
    ours.push_back(name + " " + dims);
  }
  EXPECT_EQ(ours, expected);
  EXPECT_EQ(ours.size(), 94u * 5 + 2);  // 94 BasicConv2d (conv weight + 4 batch-norm tensors) and fc
}
