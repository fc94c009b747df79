// Data-movement ops: permute, transpose, cat, slice, pad_slice. Forward against index loops,
// gradients against finite differences, errors that name the op.
#include <algorithm>
#include <numeric>

#include "tests/op_reference.h"

using namespace gan;
using namespace gan::test;

TEST(ShapeOps, PermuteMatchesIndexLoop) {
  std::mt19937_64 r(3);
  uint64_t seed = 10;
  for (DType dt : both_dtypes())
    for (int rank = 1; rank <= 4; ++rank) {
      Shape xs = random_shape(r, rank);
      Tensor x = uniform(xs, dt, seed++);
      auto xv = x.to_double_vector();
      std::vector<int64_t> perm(rank);
      std::iota(perm.begin(), perm.end(), 0);
      do {
        Shape os(rank);
        for (int i = 0; i < rank; ++i) os[i] = xs[perm[i]];
        std::vector<double> ref(xv.size());
        for (int64_t i = 0; i < static_cast<int64_t>(ref.size()); ++i) {
          auto oi = unravel(i, os);
          std::vector<int64_t> xi(rank);
          for (int d = 0; d < rank; ++d) xi[perm[d]] = oi[d];
          ref[i] = xv[ravel(xi, xs)];
        }
        Tensor y = permute(x, perm);
        EXPECT_EQ(y.shape(), os);
        expect_matches(y, ref, 0, 0, "permute " + shape_str(xs) + " by " + shape_str(perm));
      } while (std::next_permutation(perm.begin(), perm.end()));
    }
}

TEST(ShapeOps, TransposeAndNegativeDims) {
  Tensor x = uniform({3, 4, 5}, DType::Float64, 20);
  Tensor t = transpose(x, 0, -1);
  EXPECT_EQ(t.shape(), (Shape{5, 4, 3}));
  auto xv = x.to_double_vector(), tv = t.to_double_vector();
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(tv[(c * 4 + b) * 3 + a], xv[(a * 4 + b) * 5 + c]);
  EXPECT_EQ(rel_error(permute(x, {-1, 1, 0}), t), 0.0);
}

TEST(ShapeOps, PermuteErrors) {
  Tensor x = Tensor::zeros({2, 3, 4});
  expect_error_naming([&] { permute(x, {0, 1}); }, {"permute", "rank 3"});
  expect_error_naming([&] { permute(x, {0, 1, 1}); }, {"permute", "repeated"});
  expect_error_naming([&] { permute(x, {0, 1, 3}); }, {"permute", "3"});
  expect_error_naming([&] { transpose(x, 0, 5); }, {"transpose", "5"});
}

TEST(ShapeOps, CatAlongEachDim) {
  for (DType dt : both_dtypes())
    for (int64_t dim = 0; dim < 3; ++dim) {
      Shape base = {3, 2, 5};
      std::vector<int64_t> sizes = {1, 4, 2};
      std::vector<Tensor> parts;
      for (size_t i = 0; i < sizes.size(); ++i) {
        Shape s = base;
        s[dim] = sizes[i];
        parts.push_back(uniform(s, dt, 30 + i + 10 * dim));
      }
      Tensor y = cat(parts, dim - 3);  // negative dim on purpose
      Shape ys = base;
      ys[dim] = 7;
      ASSERT_EQ(y.shape(), ys);
      auto yv = y.to_double_vector();
      std::vector<double> ref(yv.size());
      for (int64_t i = 0; i < static_cast<int64_t>(ref.size()); ++i) {
        auto idx = unravel(i, ys);
        int64_t k = 0, at = idx[dim];
        while (at >= sizes[k]) at -= sizes[k++];
        idx[dim] = at;
        ref[i] = parts[k].to_double_vector()[ravel(idx, parts[k].shape())];
      }
      expect_matches(y, ref, 0, 0, "cat dim " + std::to_string(dim));
    }
}

TEST(ShapeOps, CatErrors) {
  expect_error_naming([] { cat({}, 0); }, {"cat"});
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 4}), c = Tensor::zeros({2, 3, 1});
  expect_error_naming([&] { cat({a, b}, 0); }, {"cat", "[2, 3]", "[2, 4]"});
  expect_error_naming([&] { cat({a, c}, 0); }, {"cat", "[2, 3]", "[2, 3, 1]"});
  expect_error_naming([&] { cat({a, Tensor::zeros({2, 3}, DType::Float64)}, 0); }, {"cat", "float64"});
  expect_error_naming([&] { cat({a, a}, 2); }, {"cat", "2"});
  EXPECT_EQ(cat({a, b}, 1).shape(), (Shape{2, 7}));
}

TEST(ShapeOps, SliceAndPadSlice) {
  for (DType dt : both_dtypes()) {
    Shape xs = {4, 5, 3};
    Tensor x = uniform(xs, dt, 40);
    auto xv = x.to_double_vector();
    for (int64_t dim = 0; dim < 3; ++dim) {
      int64_t start = 1, end = xs[dim] - 1;
      Tensor s = slice(x, dim, start, end);
      Shape ss = xs;
      ss[dim] = end - start;
      ASSERT_EQ(s.shape(), ss);
      std::vector<double> ref(static_cast<size_t>(numel_of(ss)));
      for (int64_t i = 0; i < static_cast<int64_t>(ref.size()); ++i) {
        auto idx = unravel(i, ss);
        idx[dim] += start;
        ref[i] = xv[ravel(idx, xs)];
      }
      expect_matches(s, ref, 0, 0, "slice dim " + std::to_string(dim));

      // pad_slice puts it back with zeros around it.
      Tensor p = pad_slice(s, xs, dim, start);
      ASSERT_EQ(p.shape(), xs);
      std::vector<double> pref(xv.size());
      for (int64_t i = 0; i < static_cast<int64_t>(pref.size()); ++i) {
        auto idx = unravel(i, xs);
        pref[i] = (idx[dim] >= start && idx[dim] < end) ? xv[i] : 0.0;
      }
      expect_matches(p, pref, 0, 0, "pad_slice dim " + std::to_string(dim));
    }
    EXPECT_EQ(slice(x, 1, 2, 2).shape(), (Shape{4, 0, 3}));  // empty range is allowed
  }
}

TEST(ShapeOps, SliceAndPadSliceErrors) {
  Tensor x = Tensor::zeros({4, 5});
  expect_error_naming([&] { slice(x, 1, 3, 6); }, {"slice", "[3, 6)"});
  expect_error_naming([&] { slice(x, 1, -1, 2); }, {"slice"});
  expect_error_naming([&] { slice(x, 1, 3, 2); }, {"slice"});
  expect_error_naming([&] { slice(x, 2, 0, 1); }, {"slice", "2"});
  Tensor piece = Tensor::zeros({4, 2});
  // Out of the target's range, or a target whose other dims differ: both would write out of bounds.
  expect_error_naming([&] { pad_slice(piece, {4, 5}, 1, 4); }, {"pad_slice", "[4, 2]", "[4, 5]"});
  expect_error_naming([&] { pad_slice(piece, {4, 5}, 1, -1); }, {"pad_slice"});
  expect_error_naming([&] { pad_slice(piece, {3, 5}, 1, 0); }, {"pad_slice", "[4, 2]", "[3, 5]"});
  expect_error_naming([&] { pad_slice(piece, {4, 5, 1}, 1, 0); }, {"pad_slice", "[4, 2]", "[4, 5, 1]"});
}

TEST(ShapeOps, ReshapeFlattenAreViews) {
  Tensor x = uniform({2, 3, 4}, DType::Float32, 50);
  Tensor f = x.flatten(1);
  EXPECT_EQ(f.shape(), (Shape{2, 12}));
  EXPECT_EQ(f.raw_data(), x.raw_data());
  EXPECT_EQ(x.flatten().shape(), (Shape{24}));
  EXPECT_EQ(x.flatten(0, 1).shape(), (Shape{6, 4}));
  EXPECT_EQ(x.flatten(-2, -1).shape(), (Shape{2, 12}));
  EXPECT_EQ(f.to_double_vector(), x.to_double_vector());
}

// ---- gradients ----

TEST(ShapeOpsGrad, AllOps) {
  Tensor x = randn64({3, 4, 2}, 60);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 1}); }, inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 1); }, inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return slice(in[0], 1, 1, 3); }, inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return pad_slice(in[0], {3, 7, 2}, 1, 2); }, inputs({x}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return in[0].flatten(1); }, inputs({x}));
  Tensor y = randn64({3, 1, 2}, 61), z = randn64({3, 2, 2}, 62, /*requires_grad=*/false);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2]}, 1); }, inputs({x, y, z}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return cat({in[1], in[0]}, -2); }, inputs({x, y}));
}

TEST(ShapeOpsGradGrad, ThroughNonlinearity) {
  // Data movement is linear; a square around it makes the second derivative non-trivial.
  Tensor x = randn64({3, 4, 2}, 70), y = randn64({3, 1, 2}, 71);
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(permute(in[0], {1, 2, 0})); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(slice(in[0], 1, 1, 4)); }, inputs({x}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(cat({in[0], in[1]}, 1)); }, inputs({x, y}));
  EXPECT_GRADGRADCHECK([](const std::vector<Tensor>& in) { return square(pad_slice(in[1], {3, 4, 2}, 1, 2)) * in[0]; },
                       inputs({x, y}));
}

TEST(ShapeOpsGradGrad, CatOfLabelMapsAlongChannelsOf4D) {
  // A concat discriminator: label maps [N, C_y, H, W] joined to images [N, C, H, W] along dim 1, then
  // a nonlinearity and a product with a weight; differentiated twice in every input. The slice that
  // takes the image channels back out is in the same chain.
  Tensor img = randn64({2, 3, 3, 2}, 72), maps = randn64({2, 2, 3, 2}, 73), w = randn64({2, 5, 3, 2}, 74);
  EXPECT_GRADGRADCHECK(
      [](const std::vector<Tensor>& in) { return sum(mul(tanh(cat({in[0], in[1]}, 1)), in[2])); },
      inputs({img, maps, w}));
  EXPECT_GRADGRADCHECK(
      [](const std::vector<Tensor>& in) { return square(slice(cat({in[1], in[0], in[1]}, 1), 1, 1, 6)); },
      inputs({img, maps}));
}

TEST(ShapeOps, CatAlongChannelsOfOdd4DMatchesIndexLoop) {
  for (DType dt : both_dtypes()) {
    const std::vector<int64_t> channels = {3, 1, 5};
    std::vector<Tensor> parts;
    for (size_t i = 0; i < channels.size(); ++i) parts.push_back(uniform({3, channels[i], 5, 7}, dt, 80 + i));
    Tensor y = cat(parts, 1);
    ASSERT_EQ(y.shape(), (Shape{3, 9, 5, 7}));
    std::vector<double> ref(static_cast<size_t>(y.numel()));
    for (int64_t i = 0; i < y.numel(); ++i) {
      auto idx = unravel(i, y.shape());
      size_t k = 0;
      while (idx[1] >= channels[k]) idx[1] -= channels[k++];
      ref[i] = parts[k].to_double_vector()[ravel(idx, parts[k].shape())];
    }
    expect_matches(y, ref, 0, 0, "cat dim 1 of 4-D");
    // And slicing each part back out returns it exactly.
    int64_t at = 0;
    for (size_t k = 0; k < parts.size(); ++k) {
      EXPECT_EQ(slice(y, 1, at, at + channels[k]).to_double_vector(), parts[k].to_double_vector());
      at += channels[k];
    }
  }
}
