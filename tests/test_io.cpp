// File formats and data: safetensors (layout, round trip, every kind of corruption), .npy
// layout, PNG grids, the IDX/CIFAR-10/image-folder readers on files the tests write, the bundled
// MNIST subset against its README, and the shuffling batch loader.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "engine/io/datasets.h"
#include "engine/io/file_util.h"
#include "engine/io/image.h"
#include "engine/io/loader.h"
#include "engine/io/npy.h"
#include "engine/io/plot.h"
#include "engine/io/safetensors.h"
#include "engine/io/stb.h"
#include "tests/test_helpers.h"

#ifdef GAN_WITH_ZLIB
#include <zlib.h>
#endif

using namespace gan;
using namespace gan::test;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the system temp folder, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("gan_io_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& n) const { return (path / n).string(); }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  auto v = io::read_file(path);
  return std::string(v.begin(), v.end());
}

// Expects `f` to throw a gan::Error whose message contains every needle.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing " << needles.at(0);
  } catch (const Error& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

// An 8-byte length + JSON header + data file, assembled by hand.
std::string st_file(const std::string& header, const std::string& data) {
  uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}

}  // namespace

// ---------------- safetensors ----------------

TEST(Safetensors, LayoutIsTheSpecifiedOne) {
  io::SafetensorsFile f;
  f.add("a", Tensor::from_vector(std::vector<float>{1.5f, -2.0f, 3.25f}, {3}));
  f.add_int64("n", 42);
  f.metadata["k"] = "v";
  std::string bytes = io::serialize_safetensors(f);
  uint64_t hlen;
  std::memcpy(&hlen, bytes.data(), 8);
  EXPECT_EQ((8 + hlen) % 8, 0u);  // data section 8-byte aligned
  auto header = nlohmann::json::parse(bytes.substr(8, hlen));
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], nlohmann::json::array({3}));
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json::array({0, 12}));
  EXPECT_EQ(header["n"]["dtype"], "I64");
  EXPECT_EQ(header["n"]["shape"], nlohmann::json::array());
  EXPECT_EQ(header["n"]["data_offsets"], nlohmann::json::array({12, 20}));
  EXPECT_EQ(header["__metadata__"]["k"], "v");
  ASSERT_EQ(bytes.size(), 8 + hlen + 20);
  float vals[3];
  std::memcpy(vals, bytes.data() + 8 + hlen, 12);
  EXPECT_EQ(vals[0], 1.5f);
  EXPECT_EQ(vals[2], 3.25f);
  int64_t n;
  std::memcpy(&n, bytes.data() + 8 + hlen + 12, 8);
  EXPECT_EQ(n, 42);
}

TEST(Safetensors, RoundTripKeepsEverything) {
  TempDir dir;
  Generator g(1);
  Tensor a = Tensor::randn({3, 5, 2}, &g), b = Tensor::randn({7}, &g, DType::Float64), c = Tensor::randn({}, &g),
         e = Tensor::empty({0, 4});
  io::SafetensorsFile f;
  f.add("x.a", a);
  f.add("x.b", b);
  f.add("c", c);
  f.add("empty", e);
  f.add_int64("count", -123456789012345);
  f.metadata["step"] = "17";
  f.metadata["config"] = R"({"nested": "json"})";
  std::string path = dir / "t.safetensors";
  io::save_safetensors(path, f);
  auto r = io::load_safetensors(path);
  ASSERT_EQ(r.tensors.size(), 5u);
  EXPECT_EQ(r.tensors[0].first, "x.a");  // file order is kept
  EXPECT_EQ(r.get("x.a").to_tensor().to_double_vector(), a.to_double_vector());
  Tensor b2 = r.get("x.b").to_tensor();
  EXPECT_EQ(b2.dtype(), DType::Float64);
  EXPECT_EQ(b2.to_double_vector(), b.to_double_vector());
  EXPECT_EQ(r.get("c").shape, Shape{});
  EXPECT_EQ(r.get("empty").shape, (Shape{0, 4}));
  EXPECT_EQ(r.get("count").to_int64(), -123456789012345);
  EXPECT_TRUE(r.get("count").is_integer());
  EXPECT_EQ(r.metadata, f.metadata);
  expect_error([&] { r.get("nope", path); }, {path, "nope"});
  // No temporary files are left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);
}

TEST(Safetensors, ReadsOtherIntegerAndHalfDtypes) {
  // F16 1.0 = 0x3C00, -2.5 = 0xC100; BF16 1.0 = 0x3F80; I32 7; U8 200.
  std::string data;
  uint16_t h[2] = {0x3C00, 0xC100};
  data.append(reinterpret_cast<const char*>(h), 4);
  uint16_t bf = 0x3F80;
  data.append(reinterpret_cast<const char*>(&bf), 2);
  int32_t i = 7;
  data.append(reinterpret_cast<const char*>(&i), 4);
  data.push_back(static_cast<char>(200));
  std::string header = R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},)"
                       R"("i":{"dtype":"I32","shape":[1],"data_offsets":[6,10]},)"
                       R"("u":{"dtype":"U8","shape":[1],"data_offsets":[10,11]}})";
  std::string bytes = st_file(header, data);
  auto f = io::parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mixed");
  EXPECT_EQ(f.get("h").to_tensor().to_double_vector(), (std::vector<double>{1.0, -2.5}));
  EXPECT_EQ(f.get("b").to_tensor().item(), 1.0);
  EXPECT_EQ(f.get("i").to_int64(), 7);
  EXPECT_EQ(f.get("u").to_int64(), 200);
}

TEST(Safetensors, CorruptFilesGiveClearErrors) {
  TempDir dir;
  io::SafetensorsFile f;
  Generator g(2);
  f.add("w", Tensor::randn({4, 4}, &g));
  f.add("b", Tensor::randn({4}, &g));
  std::string good = io::serialize_safetensors(f);
  std::string path = dir / "bad.safetensors";
  auto load_bytes = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return [&] { io::load_safetensors(path); };
  };
  // Truncated anywhere: in the length, in the header, in the data.
  for (size_t cut : {size_t{0}, size_t{5}, size_t{20}, good.size() - 1, good.size() - 30})
    expect_error(load_bytes(good.substr(0, cut)), {path});
  expect_error(load_bytes(good.substr(0, good.size() - 1)), {path, "fall outside the data section"});
  expect_error(load_bytes(good.substr(0, 5)), {path, "truncated"});
  // Trailing garbage.
  expect_error(load_bytes(good + "xyz"), {path, "bytes after the last tensor"});
  // Malformed JSON.
  expect_error(load_bytes(st_file(R"({"w": {"dtype": "F32", )", "")), {path, "malformed JSON"});
  expect_error(load_bytes(st_file("[1, 2]", "")), {path, "not a JSON object"});
  // Header length pointing past the end.
  std::string huge = good;
  uint64_t big = 1 << 30;
  std::memcpy(&huge[0], &big, 8);
  expect_error(load_bytes(huge), {path, "exceeds the file size"});
  std::string data(80, '\0');
  // Offsets disagreeing with dtype x shape.
  expect_error(load_bytes(st_file(R"({"w":{"dtype":"F32","shape":[4,4],"data_offsets":[0,60]}})", data.substr(0, 60))),
               {path, "'w'", "needs 64"});
  // Overlapping tensors, gaps.
  expect_error(load_bytes(st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                  R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                  data.substr(0, 24))),
               {path, "overlapping"});
  expect_error(load_bytes(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data.substr(0, 16))),
               {path, "gap"});
  // Unknown dtype, negative extent, missing fields, non-string metadata.
  expect_error(load_bytes(st_file(R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", data.substr(0, 1))),
               {path, "unknown dtype 'Q7'"});
  expect_error(load_bytes(st_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", data.substr(0, 4))),
               {path, "negative"});
  expect_error(load_bytes(st_file(R"({"a":{"dtype":"F32","shape":[1]}})", data.substr(0, 4))), {path, "lacks"});
  expect_error(load_bytes(st_file(R"({"__metadata__":{"x":1}})", "")), {path, "not a string"});
  // A missing file.
  expect_error([&] { io::load_safetensors(dir / "none.safetensors"); }, {"none.safetensors", "cannot open"});
}

TEST(Safetensors, ShapesWhoseByteCountWrapsAndEmptyTensors) {
  // [2^39, 2^23] F64: 2^62 elements pass the element-count bound, but 2^62 x 8 bytes wraps to 0 in
  // 64 bits and so once matched an empty span, making to_tensor() allocate 2^62 elements.
  const std::string wrap = st_file(R"({"w":{"dtype":"F64","shape":[549755813888,8388608],"data_offsets":[0,0]}})", "");
  expect_error([&] { io::parse_safetensors(reinterpret_cast<const uint8_t*>(wrap.data()), wrap.size(), "wrap.st"); },
               {"wrap.st", "'w'", "spans 0 bytes", "needs over 2^64"});
  // A tensor with a zero extent holds no bytes and converts to an empty tensor of its shape.
  const std::string empty = st_file(R"({"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}})", "");
  io::SafetensorsFile f = io::parse_safetensors(reinterpret_cast<const uint8_t*>(empty.data()), empty.size(), "e.st");
  Tensor t = f.get("e").to_tensor();
  EXPECT_EQ(t.shape(), (Shape{0, 4}));
  EXPECT_EQ(t.numel(), 0);
}

TEST(Safetensors, AtomicWriteReplacesAndFailsCleanly) {
  TempDir dir;
  std::string path = dir / "f.bin";
  io::write_file_atomic(path, std::string("first"));
  io::write_file_atomic(path, std::string("second version"));
  EXPECT_EQ(read_bytes(path), "second version");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);
  expect_error([&] { io::write_file_atomic(dir / "no/such/folder/f.bin", std::string("x")); }, {"no/such/folder/f.bin"});
}

// The temporary file of a long but legal name stays within the 255-byte file-name limit, keeps the
// writer's pid readable, and differs for names that share their first 255 bytes' worth.
TEST(FileUtil, AtomicWriteOfALongNameAndTemporaryNames) {
  TempDir dir;
  const std::string longest(255, 'n'), other = std::string(254, 'n') + "m";
  for (long pid : {1L, 4194304L, 2147483647L}) {
    const std::string t = io::temp_file_name(longest, pid);
    EXPECT_LE(t.size(), 255u) << pid;
    EXPECT_EQ(io::temp_file_pid(t), pid);
    EXPECT_NE(t, io::temp_file_name(other, pid));
  }
  EXPECT_EQ(io::temp_file_name("last.safetensors", 42), ".last.safetensors.tmp.42");  // short names unchanged
  for (const char* not_temp : {"last.safetensors", ".x.tmp.", ".x.tmp.12a", ".x.tmp.007", ".tmp.12", "x.tmp.12"})
    EXPECT_EQ(io::temp_file_pid(not_temp), -1) << not_temp;
  for (const std::string& name : {longest, std::string(240, 'a') + ".safetensors"}) {
    io::write_file_atomic(dir / name, std::string("complete"));
    EXPECT_EQ(read_bytes(dir / name), "complete");
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 2);
}

// A folder's lock: exclusive while held (the refusal names the folder and the holder's pid, which
// the lock file holds), free again once released.
TEST(FileUtil, FolderLockIsExclusiveAndNamesTheHolder) {
  TempDir dir;
  {
    io::FolderLock lock(dir.path);
    EXPECT_TRUE(lock.held());
    EXPECT_EQ(read_bytes(dir / ".lock"), std::to_string(::getpid()) + "\n");
    expect_error([&] { io::FolderLock second(dir.path); },
                 {dir.path.string() + ": in use by process " + std::to_string(::getpid())});
  }
  io::FolderLock again(dir.path);
  EXPECT_TRUE(again.held());
  expect_error([&] { io::FolderLock none(dir / "missing"); }, {dir / "missing"});
}

// Only temporary files (write_file_atomic's names) of processes that are gone are removed.
TEST(FileUtil, RemoveStaleTempFilesKeepsLiveWritersAndOtherFiles) {
  TempDir dir;
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const std::string stale = io::temp_file_name("a.bin", dead), live = io::temp_file_name("a.bin", ::getpid());
  for (const std::string& f : {stale, live, std::string("a.bin"), "b.tmp." + std::to_string(dead)}) write_bytes(dir / f, "x");
  fs::create_directories(dir / (".sub.tmp." + std::to_string(dead)));  // a folder, not a file: kept
  EXPECT_EQ(io::remove_stale_temp_files(dir.path), std::vector<std::string>{stale});
  EXPECT_FALSE(fs::exists(dir / stale));
  EXPECT_TRUE(fs::exists(dir / live));
  EXPECT_TRUE(fs::exists(dir / "a.bin"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 4);
}

// ---------------- npy ----------------

TEST(Npy, LayoutReadableByNumpy) {
  Tensor t = Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 2.0f, 3.0f, 4.0f, 5.0f}, {2, 1, 3});
  std::string b = io::serialize_npy(t);
  EXPECT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  size_t hlen = static_cast<uint8_t>(b[8]) | (static_cast<size_t>(static_cast<uint8_t>(b[9])) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);
  std::string header = b.substr(10, hlen);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_NE(header.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 3), }"), std::string::npos) << header;
  ASSERT_EQ(b.size(), 10 + hlen + 24);
  float v[6];
  std::memcpy(v, b.data() + 10 + hlen, 24);
  EXPECT_EQ(v[0], 0.5f);
  EXPECT_EQ(v[5], 5.0f);
  // 1-D and 0-D shapes use Python's tuple syntax.
  std::string one = io::serialize_npy(Tensor::zeros({5}));
  EXPECT_NE(one.find("'shape': (5,)"), std::string::npos);
  std::string zero = io::serialize_npy(Tensor::scalar(1.0, DType::Float64));
  EXPECT_NE(zero.find("'descr': '<f8'"), std::string::npos);
  EXPECT_NE(zero.find("'shape': ()"), std::string::npos);
}

TEST(Npy, RoundTripAndErrors) {
  TempDir dir;
  Generator g(3);
  Tensor t = Tensor::randn({3, 2, 5, 1}, &g);
  std::string path = dir / "a.npy";
  io::save_npy(path, t);
  Tensor r = io::load_npy(path);
  EXPECT_EQ(r.shape(), t.shape());
  EXPECT_EQ(r.to_double_vector(), t.to_double_vector());
  std::string bytes = read_bytes(path);
  write_bytes(path, bytes.substr(0, bytes.size() - 4));
  expect_error([&] { io::load_npy(path); }, {path, "needs"});
  write_bytes(path, "not numpy at all");
  expect_error([&] { io::load_npy(path); }, {path, "bad magic"});
  std::string fortran = io::serialize_npy(t);
  fortran.replace(fortran.find("False"), 5, "True ");
  write_bytes(path, fortran);
  expect_error([&] { io::load_npy(path); }, {path, "Fortran"});
}

namespace {
// A version-1 .npy file with this header text (padded as numpy pads it) and payload.
std::string npy_with_header(std::string dict, const std::string& payload) {
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  return out + dict + payload;
}
}  // namespace

// The header is parsed by its grammar, not searched: what numpy writes (either quote style, any
// key order, trailing comma or not) reads; a negative, overflowing or non-integer extent, an
// unknown, repeated or missing key, and text after the dict are errors naming the file and the
// piece; a header of 60,000 characters is read in linear time (a regex search over such a
// header can overflow the stack).
TEST(Npy, HeaderIsParsedByItsGrammar) {
  const std::string six(24, '\0');
  auto load = [](const std::string& bytes) {
    return io::parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.npy");
  };
  Tensor a = load(npy_with_header("{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}", six));
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_EQ(load(npy_with_header("{'descr':'<f4','fortran_order':False,'shape':(6,),}", six)).shape(), (Shape{6}));
  EXPECT_EQ(load(npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 7), }", "")).shape(),
            (Shape{0, 7}));
  struct Bad {
    std::string dict, payload;
    std::vector<std::string> words;
  };
  const std::vector<Bad> bad = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -3), }", six, {"x.npy", "'shape'", "non-negative"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1), }", six,
       {"x.npy", "'99999999999999999999'", "64-bit integer"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "", {"x.npy", "2^60 elements"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2.5, 1), }", six, {"x.npy", "expected ')'", "'.5, 1)"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", six, {"x.npy", "unknown key 'extra'"}},
      {"{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (6,)}", six, {"x.npy", "repeats 'descr'"}},
      {"{'descr': '<f4', 'fortran_order': False}", six, {"x.npy", "lacks 'shape'"}},
      {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,)}", six, {"x.npy", "True or False", "Maybe"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} trailing", six, {"x.npy", "text after the dict"}},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}", six, {"x.npy", "malformed"}},
      {"{'descr': '<i8', 'fortran_order': False, 'shape': (3,)}", six, {"x.npy", "unsupported .npy dtype '<i8'"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::string(60000, ' ') + "6,)}", six, {}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': ((((" + std::string(60000, '(') + ")}", six,
       {"x.npy", "non-negative 64-bit integer"}},
  };
  for (const Bad& b : bad) {
    if (b.words.empty()) {
      EXPECT_EQ(load(npy_with_header(b.dict, b.payload)).shape(), (Shape{6}));
      continue;
    }
    expect_error([&] { load(npy_with_header(b.dict, b.payload)); }, b.words);
  }
}

// ---------------- images ----------------

TEST(Image, GridLayoutAndValueMapping) {
  // 3 images 1x2x2, 2 per row, padding 1, pad value 7.
  std::vector<float> v = {-1, 1, 0, 0.5f, /**/ 1, 1, 1, 1, /**/ -1, -1, -1, -2};
  Tensor x = Tensor::from_vector(v, {3, 1, 2, 2});
  io::Image img = io::make_grid(x, 2, 1, 7);
  EXPECT_EQ(img.width, 2 * 3 + 1);
  EXPECT_EQ(img.height, 2 * 3 + 1);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.at(0, 0, 0), 7);   // padding
  EXPECT_EQ(img.at(1, 1, 0), 0);   // -1 -> 0
  EXPECT_EQ(img.at(1, 2, 0), 255); // 1 -> 255
  EXPECT_EQ(img.at(2, 1, 0), 128); // 0 -> round(127.5) = 128
  EXPECT_EQ(img.at(2, 2, 0), 191); // 0.5 -> round(191.25)
  EXPECT_EQ(img.at(1, 4, 0), 255); // second image, first row
  EXPECT_EQ(img.at(4, 1, 0), 0);   // third image (second row), -1
  EXPECT_EQ(img.at(5, 2, 0), 0);   // -2 is clamped
  EXPECT_EQ(img.at(4, 4, 0), 7);   // the empty fourth cell stays padding
  EXPECT_THROW(io::make_grid(Tensor::zeros({2, 2, 4, 4}), 2), Error);
}

TEST(Image, PngRoundTripThroughDecoder) {
  TempDir dir;
  Generator g(4);
  Tensor x = Tensor::rand({5, 3, 6, 4}, &g, -1, 1);
  io::Image img = io::make_grid(x, 3);
  std::string path = dir / "grid.png";
  io::save_png(path, img);
  std::string bytes = read_bytes(path);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  io::Image back = io::load_image(path);
  EXPECT_EQ(back.width, img.width);
  EXPECT_EQ(back.height, img.height);
  EXPECT_EQ(back.channels, 3);
  EXPECT_EQ(back.pixels, img.pixels);
  write_bytes(path, "garbage");
  expect_error([&] { io::load_image(path); }, {path, "cannot decode"});
}

TEST(Image, ResizeAndCrop) {
  io::Image img;
  img.width = 6;
  img.height = 4;
  img.channels = 1;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) img.pixels.push_back(static_cast<uint8_t>(x * 10 + y));
  io::Image sq = io::center_crop_square(img);
  EXPECT_EQ(sq.width, 4);
  EXPECT_EQ(sq.at(0, 0, 0), 10);  // column 1 is the crop's first
  EXPECT_EQ(sq.at(3, 3, 0), 43);
  io::Image flat;
  flat.width = flat.height = 5;
  flat.channels = 3;
  flat.pixels.assign(75, 90);
  io::Image r = io::resize_image(flat, 9, 7);
  EXPECT_EQ(r.width, 9);
  EXPECT_EQ(r.height, 7);
  for (uint8_t p : r.pixels) EXPECT_NEAR(p, 90, 1);  // a constant image stays constant
}

// A header that declares no pixels (found by the fuzzer: a BMP of width 0, which stb decodes) is
// refused by name; cropping and resizing it used to abort inside stb_image_resize.
TEST(Image, ImagesWithoutPixelsAreRefused) {
  std::string bmp("\x42\x4d\x7e\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x01\x00\x18\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x4d\x00\x00\x00\x00\x00\x00\x00\x46\xfd\xee\xee\xee", 54);
  bmp += std::string(64, '\xee');
  try {
    io::decode_image(reinterpret_cast<const uint8_t*>(bmp.data()), bmp.size(), 3, "empty.bmp");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty.bmp: image of 0 x"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected at least 1 x 1"), std::string::npos) << e.what();
  }
  io::Image none{0, 0, 3, {}};
  expect_error([&] { io::resize_image(none, 4, 4); }, {"resize_image", "empty"});
}

// A JPEG whose Huffman table declares more than 256 codes (found by fuzzing) is refused before
// stb_image's decoder writes the table past its arrays; the count is read from the DHT segment.
TEST(Image, JpegHuffmanTablesOfMoreThan256CodesAreRefused) {
  std::string jpeg("\xff\xd8", 2);
  std::string dht("\x00", 1);  // class 0, table 0
  for (int i = 0; i < 16; ++i) dht.push_back(i < 15 ? '\x14' : '\x0c');  // 15 x 20 + 12 = 312 codes
  dht += std::string(312, '\x01');
  const size_t len = dht.size() + 2;
  jpeg += std::string("\xff\xc4", 2) + static_cast<char>(len >> 8) + static_cast<char>(len & 0xff) + dht;
  jpeg += std::string("\xff\xd9", 2);
  expect_error([&] { io::decode_image(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size(), 3, "h.jpg"); },
               {"h.jpg", "damaged JPEG", "312 codes", "at most 256"});
}

// A PNG whose first image-data chunk is empty (found by fuzzing: stb_image copies it from a null
// buffer) is refused before decoding.
TEST(Image, PngWithAnEmptyFirstImageDataChunkIsRefused) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  png += std::string("\0\0\0\x0dIHDR", 8) + std::string("\0\0\0\x03\0\0\0\x03\x08\0\0\0\0", 13) + "crc!";
  png += std::string("\0\0\0\0IDAT", 8) + "crc!";
  png += std::string("\0\0\0\0IEND", 8) + "crc!";
  expect_error([&] { io::decode_image(reinterpret_cast<const uint8_t*>(png.data()), png.size(), 3, "e.png"); },
               {"e.png", "damaged PNG", "IDAT", "empty"});
}

TEST(Image, LinePlotDrawsSeriesWhereTheyBelong) {
  // A flat series at y = 0.5 on a fixed [0, 1] axis runs along the middle of the plot area
  // (rows 22..238 of a 260-pixel image); a NaN point leaves a gap, not a crash.
  io::Series s{"half", {0, 1, 2, 3, 4}, {0.5, 0.5, NAN, 0.5, 0.5}, 200, 10, 20};
  io::PlotOptions opt;
  opt.fixed_y = true;
  io::Image img = io::line_plot({s}, opt);
  EXPECT_EQ(img.width, 720);
  EXPECT_EQ(img.height, 260);
  EXPECT_EQ(img.channels, 3);
  auto is_series = [&](int64_t y, int64_t x) {
    return img.at(y, x, 0) == 200 && img.at(y, x, 1) == 10 && img.at(y, x, 2) == 20;
  };
  int64_t mid = 238 - (238 - 22) / 2;
  int64_t x_first = 60 + (708 - 60) / 8;  // a quarter of the way into the first segment
  EXPECT_TRUE(is_series(mid, x_first) || is_series(mid + 1, x_first));
  EXPECT_FALSE(is_series(mid - 40, x_first));
  int64_t x_gap = 60 + (708 - 60) * 2 / 4;  // the NaN point's column
  EXPECT_FALSE(is_series(mid, x_gap) || is_series(mid + 1, x_gap));
  io::Image two = io::stack_vertically({img, img});
  EXPECT_EQ(two.height, 520);
  EXPECT_THROW(io::line_plot({io::Series{"bad", {1, 2}, {1}, 0, 0, 0}}, opt), Error);
}

// ---------------- data sets ----------------

namespace {

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

std::string idx_images(int n, int h, int w, std::vector<uint8_t>& pixels, uint64_t seed) {
  std::string s = std::string("\0\0\x08\x03", 4) + be32(n) + be32(h) + be32(w);
  Generator g(seed);
  pixels.clear();
  for (int i = 0; i < n * h * w; ++i) pixels.push_back(static_cast<uint8_t>(g.below(256)));
  s.append(pixels.begin(), pixels.end());
  return s;
}

#ifdef GAN_WITH_ZLIB
void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
#endif

}  // namespace

TEST(Datasets, IdxPlainAndGzipAndErrors) {
  TempDir dir;
  std::vector<uint8_t> px;
  std::string imgs = idx_images(5, 3, 4, px, 1);
  std::string labels = std::string("\0\0\x08\x01", 4) + be32(5) + std::string("\x03\x01\x04\x01\x05", 5);
  write_bytes(dir / "train-images-idx3-ubyte", imgs);
  write_bytes(dir / "train-labels-idx1-ubyte", labels);
  io::ImageDataset ds = io::read_mnist_like(dir.path.string());
  EXPECT_EQ(ds.count, 5);
  EXPECT_EQ(ds.channels, 1);
  EXPECT_EQ(ds.height, 3);
  EXPECT_EQ(ds.width, 4);
  EXPECT_EQ(ds.pixels, px);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{3, 1, 4, 1, 5}));
#ifdef GAN_WITH_ZLIB
  write_gz(dir / "images.gz", imgs);
  io::ImageDataset gz = io::read_idx_dataset(dir / "images.gz");
  EXPECT_EQ(gz.pixels, px);
  std::string gzbytes = read_bytes(dir / "images.gz");
  write_bytes(dir / "cut.gz", gzbytes.substr(0, gzbytes.size() / 2));
  expect_error([&] { io::read_idx_dataset(dir / "cut.gz"); }, {"cut.gz", "gzip"});
#endif
  write_bytes(dir / "short", imgs.substr(0, imgs.size() - 7));
  expect_error([&] { io::read_idx_dataset(dir / "short"); }, {"short", "truncated"});
  write_bytes(dir / "magic", "\x01\x02\x08\x03" + imgs.substr(4));
  expect_error([&] { io::read_idx_dataset(dir / "magic"); }, {"magic", "magic number"});
  write_bytes(dir / "labels3", std::string("\0\0\x08\x01", 4) + be32(3) + "abc");
  expect_error([&] { io::read_idx_dataset(dir / "train-images-idx3-ubyte", dir / "labels3"); },
               {"labels3", "3 labels for 5 images"});
  expect_error([&] { io::read_mnist_like(dir / "missing"); }, {"missing", "no such file"});
}

#ifdef GAN_WITH_ZLIB
// What pigz and bgzip write: several gzip members, which gunzip reads as one file.
TEST(Datasets, IdxGzipWithSeveralMembersReadsEveryMember) {
  TempDir dir;
  std::vector<uint8_t> px;
  std::string imgs = idx_images(7, 5, 6, px, 2);
  write_gz(dir / "a.gz", imgs.substr(0, 11));
  write_gz(dir / "b.gz", imgs.substr(11, 100));
  write_gz(dir / "c.gz", imgs.substr(111));
  write_bytes(dir / "multi.gz", read_bytes(dir / "a.gz") + read_bytes(dir / "b.gz") + read_bytes(dir / "c.gz"));
  io::ImageDataset ds = io::read_idx_dataset(dir / "multi.gz");
  EXPECT_EQ(ds.count, 7);
  EXPECT_EQ(ds.pixels, px);
  // Bytes after the last member that start no member are refused, naming where they start.
  const std::string whole = read_bytes(dir / "multi.gz");
  write_bytes(dir / "junk.gz", whole + "junk");
  expect_error([&] { io::read_idx_dataset(dir / "junk.gz"); },
               {"junk.gz", "4 bytes after the end of the gzip data", "byte " + std::to_string(whole.size())});
}

// A header's extents bound what is read and inflated: a small file that expands far past what its
// header declares, a header whose extents overflow 64 bits, and one that declares more than the
// file holds are refused by name, not allocated.
TEST(Datasets, IdxHeaderBoundsWhatIsReadAndInflated) {
  TempDir dir;
  std::vector<uint8_t> px;
  std::string imgs = idx_images(2, 3, 3, px, 3);
  write_gz(dir / "bomb.gz", imgs + std::string(50 << 20, '\0'));  // 50 MB of zeros after 2 images
  EXPECT_LT(read_bytes(dir / "bomb.gz").size(), 200000u);
  expect_error([&] { io::read_idx_dataset(dir / "bomb.gz"); }, {"bomb.gz", "more than the 34 bytes its header declares"});
  // Four extents of 2^16 multiply to 2^64, which a 64-bit product wraps to exactly 0: an empty
  // payload would have matched.
  write_bytes(dir / "wrap", std::string("\0\0\x08\x04", 4) + be32(0x10000) + be32(0x10000) + be32(0x10000) + be32(0x10000));
  expect_error([&] { io::read_idx(dir / "wrap"); }, {"wrap", "more than 2^60 bytes"});
  write_gz(dir / "wrap.gz", read_bytes(dir / "wrap"));
  expect_error([&] { io::read_idx(dir / "wrap.gz"); }, {"wrap.gz", "more than 2^60 bytes"});
  write_bytes(dir / "big", std::string("\0\0\x08\x03", 4) + be32(60000) + be32(1000) + be32(1000) + "x");
  expect_error([&] { io::read_idx(dir / "big"); }, {"big", "holds 1 bytes", "need 60000000000", "truncated"});
}
#endif

TEST(Datasets, BundledMnistMatchesItsReadme) {
  std::string dir = std::string(GAN_SOURCE_DIR) + "/data/mnist-10k";
  io::ImageDataset ds = io::read_mnist_like(dir);
  EXPECT_EQ(ds.count, 10000);
  EXPECT_EQ(ds.height, 28);
  EXPECT_EQ(ds.width, 28);
  ASSERT_EQ(ds.labels.size(), 10000u);
  // The README's "Class counts: 0:1001 1:1127 ..." line is the reference.
  std::string readme = read_bytes(dir + "/README.md");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(readme, m, std::regex("Class counts:([^\\n]*)")));
  std::string counts = m[1];
  std::map<int, int> expect;
  std::regex pair("(\\d):(\\d+)");
  for (auto it = std::sregex_iterator(counts.begin(), counts.end(), pair); it != std::sregex_iterator(); ++it)
    expect[std::stoi((*it)[1])] = std::stoi((*it)[2]);
  ASSERT_EQ(expect.size(), 10u);
  std::map<int, int> got;
  for (int32_t l : ds.labels) ++got[l];
  EXPECT_EQ(got, expect);
  // Digits are bright strokes on a dark background: the border is (almost) all zero.
  int64_t border = 0, bright = 0;
  for (int64_t i = 0; i < 100; ++i) {
    const uint8_t* p = ds.image(i);
    for (int x = 0; x < 28; ++x) border += p[x] + p[27 * 28 + x];
    for (int k = 0; k < 784; ++k) bright += p[k] > 128;
  }
  EXPECT_LT(border, 100 * 56 * 2);
  EXPECT_GT(bright, 100 * 50);
}

TEST(Datasets, IdxDimsWhoseProductWrapsAroundAreRefused) {
  // 2^31 x 2^31 x 4 = 2^64 wraps to 0 in 64 bits: an IDX3 header with those extents and no
  // payload once passed the size check and made a data set of 2^31 images without pixels.
  const std::string wrap = std::string("\0\0\x08\x03", 4) + be32(1u << 31) + be32(1u << 31) + be32(4);
  expect_error([&] { io::parse_idx(std::vector<uint8_t>(wrap.begin(), wrap.end()), "wrap.idx"); },
               {"wrap.idx", "[2147483648, 2147483648, 4]", "more than 2^60 bytes"});
  // A zero extent makes the product 0 whatever the others are: an empty, valid array, which the
  // image reader then refuses by name.
  const std::string z = std::string("\0\0\x08\x03", 4) + be32(0) + be32(0xffffffffu) + be32(0xffffffffu);
  io::IdxArray a = io::parse_idx(std::vector<uint8_t>(z.begin(), z.end()), "empty.idx");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{0, 0xffffffffLL, 0xffffffffLL}));
  EXPECT_TRUE(a.data.empty());
  expect_error([&] { io::idx_dataset(a, "empty.idx"); }, {"empty.idx", "holds no images"});
}

TEST(Datasets, Cifar10Records) {
  TempDir dir;
  std::string b1, b2;
  std::vector<uint8_t> first;
  Generator g(5);
  for (int r = 0; r < 3; ++r) {
    std::string rec(1, static_cast<char>(r * 3));
    for (int i = 0; i < 3072; ++i) rec.push_back(static_cast<char>(g.below(256)));
    if (r == 0) first.assign(rec.begin() + 1, rec.end());
    (r < 2 ? b1 : b2) += rec;
  }
  fs::create_directories(dir.path / "cifar-10-batches-bin");
  write_bytes((dir.path / "cifar-10-batches-bin" / "data_batch_1.bin").string(), b1);
  write_bytes((dir.path / "cifar-10-batches-bin" / "data_batch_2.bin").string(), b2);
  write_bytes((dir.path / "cifar-10-batches-bin" / "test_batch.bin").string(), b2);  // not training data
  io::ImageDataset ds = io::read_cifar10(dir.path.string());
  EXPECT_EQ(ds.count, 3);
  EXPECT_EQ(ds.channels, 3);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 3, 6}));
  EXPECT_TRUE(std::equal(first.begin(), first.end(), ds.image(0)));
  write_bytes(dir / "bad.bin", b1.substr(0, 5000));
  expect_error([&] { io::read_cifar10(dir / "bad.bin"); }, {"bad.bin", "3073"});
  write_bytes(dir / "label.bin", std::string(1, '\x0b') + b1.substr(1, 3072));
  expect_error([&] { io::read_cifar10(dir / "label.bin"); }, {"label.bin", "label 11"});
}

TEST(Datasets, ImageFolderWithClassSubfolders) {
  TempDir dir;
  fs::create_directories(dir.path / "cats");
  fs::create_directories(dir.path / "dogs");
  auto solid = [](int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    io::Image img;
    img.width = w;
    img.height = h;
    img.channels = 3;
    for (int i = 0; i < w * h; ++i) img.pixels.insert(img.pixels.end(), {r, g, b});
    return img;
  };
  io::save_png((dir.path / "cats" / "a.png").string(), solid(20, 10, 200, 10, 30));
  io::save_png((dir.path / "dogs" / "b.png").string(), solid(7, 7, 5, 250, 100));
  io::Image jpg = solid(16, 16, 120, 120, 120);
  std::string jpg_path = (dir.path / "dogs" / "c.jpg").string();
  stbi_write_jpg(jpg_path.c_str(), 16, 16, 3, jpg.pixels.data(), 95);
  write_bytes(dir / "notes.txt", "ignored");
  io::ImageDataset ds = io::read_image_folder(dir.path.string(), 8, 3);
  EXPECT_EQ(ds.count, 3);
  EXPECT_EQ(ds.height, 8);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1, 1}));
  // Planar CHW: image 0 is red throughout.
  EXPECT_NEAR(ds.image(0)[0], 200, 1);
  EXPECT_NEAR(ds.image(0)[64], 10, 1);
  EXPECT_NEAR(ds.image(0)[128], 30, 1);
  EXPECT_NEAR(ds.image(1)[64 + 9], 250, 1);
  EXPECT_NEAR(ds.image(2)[130], 120, 3);  // JPEG is lossy
  io::ImageDataset gray = io::read_image_folder(dir.path.string(), 4, 1);
  EXPECT_EQ(gray.channels, 1);
  fs::create_directories(dir.path / "empty");
  expect_error([&] { io::read_image_folder((dir.path / "empty").string(), 8); }, {"empty", "no images"});
  write_bytes((dir.path / "empty" / "broken.png"), "not a png");
  expect_error([&] { io::read_image_folder((dir.path / "empty").string(), 8); }, {"broken.png"});
}

// ---------------- loader ----------------

TEST(Loader, EpochsArePermutationsAndResumable) {
  io::ImageDataset ds;
  ds.count = 23;
  ds.channels = 1;
  ds.height = ds.width = 2;
  for (int i = 0; i < 23; ++i)
    for (int k = 0; k < 4; ++k) ds.pixels.push_back(static_cast<uint8_t>(i * 10 + k));
  ds.source = "toy";
  io::BatchLoader a(ds, 5, 2, 42);
  EXPECT_EQ(a.batches_per_epoch(), 4);  // the last partial batch is dropped
  std::vector<std::vector<double>> seen;
  std::set<int> epoch0;
  for (int b = 0; b < 4; ++b) {
    Tensor x = a.next();
    EXPECT_EQ(x.shape(), (Shape{5, 1, 2, 2}));
    auto v = x.to_double_vector();
    seen.push_back(v);
    for (int i = 0; i < 5; ++i) {
      // pixel p -> p / 127.5 - 1, exactly in float32
      double p0 = (v[i * 4] + 1) * 127.5;
      int img = static_cast<int>(std::lround(p0)) / 10;
      EXPECT_EQ(v[i * 4 + 3], static_cast<float>((img * 10 + 3) / 127.5f - 1.0f));
      EXPECT_TRUE(epoch0.insert(img).second) << "image " << img << " twice in one epoch";
    }
  }
  EXPECT_EQ(a.epoch(), 0);
  Tensor e1 = a.next();
  EXPECT_EQ(a.epoch(), 1);
  EXPECT_NE(a.permutation(0), a.permutation(1));
  // Same seed, same batches; a loader set to a saved state continues identically.
  io::BatchLoader b(ds, 5, 2, 42);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(b.next().to_double_vector(), seen[k]);
  io::BatchLoader c(ds, 5, 2, 42);
  c.set_state(0, 4);
  EXPECT_EQ(c.next().to_double_vector(), e1.to_double_vector());
  io::BatchLoader d(ds, 5, 2, 43);
  EXPECT_NE(d.next().to_double_vector(), seen[0]);
  EXPECT_THROW(io::BatchLoader(ds, 24, 2, 0), Error);
  EXPECT_THROW(c.set_state(0, 5), Error);
}

TEST(Loader, PadsTwentyEightToThirtyTwoAndResizesToSixtyFour) {
  io::ImageDataset ds;
  ds.count = 2;
  ds.channels = 1;
  ds.height = ds.width = 28;
  Generator g(6);
  for (int i = 0; i < 2 * 784; ++i) ds.pixels.push_back(static_cast<uint8_t>(1 + g.below(255)));
  io::ImageDataset p = io::fit_dataset(ds, 32);
  EXPECT_EQ(p.height, 32);
  for (int i = 0; i < 2; ++i)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        uint8_t v = p.image(i)[y * 32 + x];
        bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
        ASSERT_EQ(v, inside ? ds.image(i)[(y - 2) * 28 + x - 2] : 0) << y << "," << x;
      }
  io::ImageDataset r = io::fit_dataset(ds, 64);
  EXPECT_EQ(r.height, 64);
  EXPECT_EQ(r.pixels.size(), 2u * 64 * 64);
  io::BatchLoader l(ds, 2, 32, 0);
  Tensor x = l.next();
  EXPECT_EQ(x.shape(), (Shape{2, 1, 32, 32}));
  EXPECT_EQ(x.to_double_vector()[0], -1.0);  // padding is background, -1
}

TEST(FileUtil, ReadersRefuseFifosAndDevicesInsteadOfBlocking) {
  const std::string fifo = ::testing::TempDir() + "gan_io_fifo_" + std::to_string(::getpid());
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, std::string("/dev/zero")}) {
    try {
      io::read_file(path);  // before the check: blocks for ever (FIFO) or never ends (/dev/zero)
      ADD_FAILURE() << path << " was read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
  }
  ::unlink(fifo.c_str());
}
