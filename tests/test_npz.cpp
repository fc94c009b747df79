// .npz archives: members written by numpy.savez (stored) and numpy.savez_compressed (deflated)
// read back to their known values (tests/data/eval/make_fixtures.py), a round trip through our
// writer in both modes, and errors that name the file and the member.
#include <cmath>
#include <filesystem>

#include "engine/io/file_util.h"
#include "engine/io/npz.h"
#include "tests/eval_helpers.h"
#include "tests/test_helpers.h"

using namespace gan;

namespace {

std::string fixture(const std::string& name) { return std::string(GAN_SOURCE_DIR) + "/tests/data/eval/" + name; }

void expect_numpy_arrays(const io::NpzFile& f) {
  Tensor a = f.get("a");
  ASSERT_EQ(a.dtype(), DType::Float64);
  ASSERT_EQ(a.shape(), (Shape{3, 4}));
  std::vector<double> av = a.to_double_vector();
  for (size_t i = 0; i < av.size(); ++i) EXPECT_EQ(av[i], 0.5 * static_cast<double>(i));
  Tensor b = f.get("b");
  ASSERT_EQ(b.dtype(), DType::Float32);
  ASSERT_EQ(b.shape(), (Shape{5}));
  std::vector<float> bv = b.to_float_vector();
  for (size_t i = 0; i < bv.size(); ++i) EXPECT_EQ(bv[i], static_cast<float>(i) - 2.0f);
  EXPECT_EQ(f.get_string("name"), "digits");
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"a", "b", "ints", "name"}));
}

}  // namespace

TEST(Npz, ReadsNumpySavez) { expect_numpy_arrays(io::load_npz(fixture("npz_stored.npz"))); }

TEST(Npz, ReadsNumpySavezCompressed) { expect_numpy_arrays(io::load_npz(fixture("npz_deflated.npz"))); }

TEST(Npz, ErrorsNameTheFileAndTheMember) {
  io::NpzFile f = io::load_npz(fixture("npz_stored.npz"));
  EXPECT_THROW_MSG(f.get("mu"), {"npz_stored.npz", "no array 'mu'", "a, b, ints, name"});
  EXPECT_THROW_MSG(f.get("ints"), {"npz_stored.npz", "member ints.npy", "<i8"});
  EXPECT_THROW_MSG(f.get_string("a"), {"member a.npy", "not a 0-d unicode string"});
  const std::string garbage = "this is not a zip archive at all";
  EXPECT_THROW_MSG(io::parse_npz(reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size(), "bad.npz"),
                   {"bad.npz", "not a .npz"});
  EXPECT_THROW_MSG(io::load_npz("/nonexistent/stats.npz"), {"/nonexistent/stats.npz"});
}

TEST(Npz, RoundTripStoredAndDeflated) {
  Generator gen(7);
  Tensor x = Tensor::randn({17, 5}, &gen, DType::Float64);
  Tensor y = Tensor::randn({3, 2, 4}, &gen);
  for (bool compress : {false, true}) {
    io::NpzWriter w;
    w.add("x", x).add("y", y).add_string("feature_net", "inception");
    std::string bytes = w.serialize(compress);
    io::NpzFile f = io::parse_npz(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "memory");
    EXPECT_EQ(f.get("x").to_double_vector(), x.to_double_vector());
    EXPECT_EQ(f.get("x").dtype(), DType::Float64);
    EXPECT_EQ(f.get("y").to_float_vector(), y.to_float_vector());
    EXPECT_EQ(f.get("y").shape(), (Shape{3, 2, 4}));
    EXPECT_EQ(f.get_string("feature_net"), "inception");
  }
  // Deflate really compresses a compressible array (stored keeps it at full size).
  io::NpzWriter w;
  w.add("z", Tensor::zeros({1000}, DType::Float64));
  EXPECT_LT(w.serialize(true).size(), 1000u);
  EXPECT_GT(w.serialize(false).size(), 8000u);
  const std::string path = (std::filesystem::temp_directory_path() / "gan_npz_test.npz").string();
  w.save(path);
  EXPECT_EQ(io::load_npz(path).get("z").to_double_vector(), std::vector<double>(1000, 0.0));
  std::filesystem::remove(path);
}
