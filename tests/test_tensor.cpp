// Tensor creation, conversion, views and in-place copies.
#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

TEST(Tensor, ZerosOnesFull) {
  for (DType dt : both_dtypes()) {
    Shape s = {3, 1, 5};
    Tensor z = Tensor::zeros(s, dt), o = Tensor::ones(s, dt), f = Tensor::full(s, -2.75, dt);
    for (const Tensor* t : {&z, &o, &f}) {
      EXPECT_EQ(t->shape(), s);
      EXPECT_EQ(t->dtype(), dt);
      EXPECT_EQ(t->numel(), 15);
      EXPECT_EQ(t->dim(), 3);
      EXPECT_TRUE(t->device().is_cpu());
      EXPECT_EQ(t->nbytes(), 15 * dtype_size(dt));
    }
    EXPECT_EQ(z.to_double_vector(), std::vector<double>(15, 0.0));
    EXPECT_EQ(o.to_double_vector(), std::vector<double>(15, 1.0));
    EXPECT_EQ(f.to_double_vector(), std::vector<double>(15, -2.75));
  }
  // float32 rounds the fill value once, as a float would.
  EXPECT_EQ(Tensor::full({2}, 0.1).to_double_vector()[1], static_cast<double>(0.1f));
  // A large fill crosses the parallel grain.
  auto big = Tensor::full({100003}, 3.5).to_double_vector();
  for (double v : big) ASSERT_EQ(v, 3.5);
}

TEST(Tensor, ArangeAndScalar) {
  for (DType dt : both_dtypes()) {
    Tensor a = Tensor::arange(7, dt);
    EXPECT_EQ(a.shape(), Shape{7});
    EXPECT_EQ(a.to_double_vector(), (std::vector<double>{0, 1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(Tensor::arange(0, dt).numel(), 0);
    Tensor s = Tensor::scalar(4.5, dt);
    EXPECT_EQ(s.dim(), 0);
    EXPECT_EQ(s.numel(), 1);
    EXPECT_EQ(s.item(), 4.5);
  }
  EXPECT_THROW(Tensor::arange(-1), Error);
}

TEST(Tensor, FromVectorRoundTrips) {
  std::vector<double> d = {1.5, -2.25, 3.0, 1e-300, -7.0, 0.0};
  Tensor t = Tensor::from_vector(d, {2, 3});
  EXPECT_EQ(t.dtype(), DType::Float64);
  EXPECT_EQ(t.to_double_vector(), d);
  std::vector<float> f = {0.1f, -0.2f, 3.5f};
  Tensor u = Tensor::from_vector(f, {3});
  EXPECT_EQ(u.dtype(), DType::Float32);
  EXPECT_EQ(u.to_float_vector(), f);
  EXPECT_EQ(u.data<float>()[1], -0.2f);
  expect_error_naming([&] { Tensor::from_vector(d, {4, 2}); }, {"from_vector", "6", "[4, 2]"});
  expect_error_naming([&] { u.data<double>(); }, {"float64", "float32"});
}

TEST(Tensor, NegativeExtentsAreRejected) {
  expect_error_naming([] { Tensor::zeros({2, -3}); }, {"negative", "[2, -3]"});
  expect_error_naming([] { Tensor::empty({-1}); }, {"negative"});
  expect_error_naming([] { Tensor::full({-2, -2}, 1.0); }, {"negative"});
  // -2 x -2 has 4 elements; the count must not sneak it through.
  expect_error_naming([] { Tensor::from_vector(std::vector<double>(4, 1.0), {-2, -2}); }, {"negative"});
  Tensor x = Tensor::zeros({2, 3});
  expect_error_naming([&] { x.reshape({-2, -3}); }, {"reshape"});
  Generator g(1);
  expect_error_naming([&] { Tensor::randn({3, -1}, &g); }, {"negative"});
}

TEST(Tensor, ReshapeWithInferredExtent) {
  Tensor x = uniform({2, 3, 4}, DType::Float32, 1);
  EXPECT_EQ(x.reshape({-1}).shape(), Shape{24});
  EXPECT_EQ(x.reshape({4, -1}).shape(), (Shape{4, 6}));
  EXPECT_EQ(x.reshape({-1, 2, 3}).shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(x.reshape({2, 3, 4}).raw_data(), x.raw_data());
  EXPECT_EQ(x.reshape({24, -1}).shape(), (Shape{24, 1}));
  EXPECT_EQ(x.reshape({4, 6}).to_double_vector(), x.to_double_vector());
  expect_error_naming([&] { x.reshape({5, -1}); }, {"reshape", "[2, 3, 4]", "[5, -1]"});
  expect_error_naming([&] { x.reshape({-1, -1}); }, {"reshape", "-1"});
  expect_error_naming([&] { x.reshape({5, 5}); }, {"reshape", "[2, 3, 4]", "[5, 5]"});
  // Empty tensors reshape too, with -1 resolved against the other extents.
  EXPECT_EQ(Tensor::zeros({0, 6}).reshape({-1, 3}).shape(), (Shape{0, 3}));
  // A scalar is a one-element tensor.
  EXPECT_EQ(Tensor::scalar(1.0).reshape({1, 1}).shape(), (Shape{1, 1}));
  EXPECT_EQ(Tensor::scalar(1.0).reshape({-1}).shape(), Shape{1});
}

TEST(Tensor, RowIsAViewOfOneElementOfTheFirstDim) {
  Tensor x = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 2, 2});
  Tensor r = x.row(1);
  EXPECT_EQ(r.shape(), (Shape{2, 2}));
  EXPECT_EQ(r.to_double_vector(), (std::vector<double>{4, 5, 6, 7}));
  // Writes through the view land in the buffer, and only in that row.
  r.copy_(Tensor::full({2, 2}, -1.0, x.dtype()));
  EXPECT_EQ(x.to_double_vector(), (std::vector<double>{0, 1, 2, 3, -1, -1, -1, -1, 8, 9, 10, 11}));
  // A row of a row; a row of a vector is a scalar.
  EXPECT_EQ(x.row(2).row(1).to_double_vector(), (std::vector<double>{10, 11}));
  EXPECT_EQ(x.row(2).row(1).row(0).shape(), Shape{});
  EXPECT_EQ(x.row(2).row(1).row(0).item(), 10.0);
  EXPECT_FALSE(x.row(0).requires_grad());
  expect_error_naming([&] { x.row(3); }, {"row", "3", "[3, 2, 2]"});
  expect_error_naming([&] { x.row(-1); }, {"row", "-1"});
  expect_error_naming([&] { Tensor::scalar(1.0).row(0); }, {"row", "0"});
}

TEST(Tensor, ViewsShareStorage) {
  Tensor x = Tensor::zeros({2, 6}, DType::Float64);
  Tensor v = x.reshape({3, 4});
  v.data<double>()[5] = 9.0;
  EXPECT_EQ(x.to_double_vector()[5], 9.0);
}

TEST(Tensor, FlattenRanges) {
  Tensor x = Tensor::zeros({2, 3, 4, 5});
  EXPECT_EQ(x.flatten().shape(), Shape{120});
  EXPECT_EQ(x.flatten(1).shape(), (Shape{2, 60}));
  EXPECT_EQ(x.flatten(1, 2).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(x.flatten(0, 0).shape(), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(x.flatten(-3, -2).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(x.flatten(2, -1).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(Tensor::scalar(2.0).flatten().shape(), Shape{1});
  expect_error_naming([&] { x.flatten(2, 1); }, {"flatten"});
  expect_error_naming([&] { x.flatten(0, 4); }, {"flatten", "4"});
}

TEST(Tensor, DetachSharesStorageWithoutHistory) {
  Tensor x = randn64({3}, 2);
  Tensor y = x * 2.0;
  Tensor d = y.detach();
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.raw_data(), y.raw_data());
  EXPECT_EQ(d.shape(), y.shape());
}

TEST(Tensor, CloneIsIndependentAndDifferentiable) {
  Tensor x = uniform({4, 3}, DType::Float64, 3);
  Tensor c = x.clone();
  EXPECT_NE(c.raw_data(), x.raw_data());
  auto before = x.to_double_vector();
  EXPECT_EQ(c.to_double_vector(), before);
  c.data<double>()[0] += 1.0;
  c.fill_(-4.0);
  EXPECT_EQ(x.to_double_vector(), before);
  Tensor xs = x.clone().requires_grad_();
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return in[0].clone(); }, inputs({xs}));
}

TEST(Tensor, CopyAcrossDtypes) {
  Tensor src64 = uniform({3, 5}, DType::Float64, 4);
  Tensor dst32 = Tensor::zeros({3, 5}, DType::Float32);
  dst32.copy_(src64);
  auto s = src64.to_double_vector(), d = dst32.to_double_vector();
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(d[i], static_cast<double>(static_cast<float>(s[i])));

  Tensor back = Tensor::zeros({15}, DType::Float64);  // same element count, other shape: allowed
  back.copy_(dst32);
  EXPECT_EQ(back.to_double_vector(), d);

  Tensor same = Tensor::full({3, 5}, 7.0, DType::Float64);
  same.copy_(src64);
  EXPECT_EQ(same.to_double_vector(), s);
  EXPECT_NE(same.raw_data(), src64.raw_data());

  expect_error_naming([&] { dst32.copy_(Tensor::zeros({4, 4})); }, {"copy_", "[4, 4]", "[3, 5]"});
}

TEST(Tensor, CopyFromItselfOrItsOwnView) {
  Tensor x = uniform({3, 4}, DType::Float64, 9);
  auto before = x.to_double_vector();
  x.copy_(x);
  x.copy_(x.reshape({12}));
  EXPECT_EQ(x.to_double_vector(), before);
}

TEST(Tensor, CopyIsNotRecorded) {
  Tensor x = randn64({3}, 5);
  Tensor buf = Tensor::zeros({3}, DType::Float64);
  buf.copy_(x * 3.0);
  EXPECT_FALSE(buf.requires_grad());
}

TEST(Tensor, ToDtypeIsDifferentiable) {
  Tensor x = randn64({4}, 6);
  Tensor f = x.to(DType::Float32);
  EXPECT_EQ(f.dtype(), DType::Float32);
  EXPECT_TRUE(f.requires_grad());
  EXPECT_TRUE(x.to(DType::Float64).same_as(x));
  EXPECT_TRUE(x.to(Device::cpu()).same_as(x));
  Tensor g = grad({sum(f * 2.0)}, {x})[0];
  EXPECT_EQ(g.dtype(), DType::Float64);
  expect_close(g, {2, 2, 2, 2}, 0);
}

TEST(Tensor, ItemErrors) {
  EXPECT_EQ(Tensor::full({1, 1, 1}, 2.5).item(), 2.5);
  expect_error_naming([] { Tensor::zeros({2}).item(); }, {"item", "2 elements"});
  expect_error_naming([] { Tensor::zeros({0}).item(); }, {"item", "0 elements"});
  expect_error_naming([] { Tensor().item(); }, {"undefined"});
}

TEST(Tensor, MetadataAndStrings) {
  Tensor x = Tensor::zeros({4, 3});
  EXPECT_EQ(x.str(), "float32[4, 3] on cpu");
  EXPECT_EQ(Tensor().str(), "undefined tensor");
  EXPECT_EQ(x.size(-1), 3);
  EXPECT_EQ(x.size(0), 4);
  expect_error_naming([&] { x.size(2); }, {"size", "2"});
  EXPECT_FALSE(Tensor().defined());
}

TEST(Tensor, FillInPlace) {
  Tensor x = uniform({5, 7}, DType::Float32, 7);
  x.fill_(1.25);
  EXPECT_EQ(x.to_double_vector(), std::vector<double>(35, 1.25));
}

TEST(Tensor, RequiresGradOnNonLeafIsRejected) {
  Tensor x = randn64({2}, 8);
  Tensor y = x * 2.0;
  EXPECT_THROW(y.requires_grad_(false), Error);
  y.requires_grad_(true);  // already true: harmless
}

TEST(Tensor, CudaTensorWithoutGpuThrows) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present: nothing to refuse";
  expect_error_naming([] { Tensor::zeros({2}, DType::Float32, Device::cuda(0)); }, {"cuda"});
}
