// Writes the seed corpora: small valid files of every format the harnesses read, made with the
// engine's own writers (safetensors, checkpoints, config.json, .npy, PNG) or, where it has none,
// by the few lines that lay out the format (IDX, gzip, CIFAR-10, JPEG/BMP/TGA through stb).
//   build/fuzz/fuzz_write_seeds fuzz/corpus
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#include <zlib.h>

#include "engine/core/tensor.h"
#include "engine/io/file_util.h"
#include "engine/io/image.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/io/stb.h"
#include "fuzz/tiny_run.h"
#include "models/config.h"
#include "models/trainer.h"

using namespace gan;

namespace {

std::string root;

void put(const std::string& harness, const std::string& name, const std::string& bytes) {
  io::make_directories(root + "/" + harness);
  io::write_file_atomic(root + "/" + harness + "/seed-" + name, bytes);
}

std::string gzip(const std::string& raw) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);  // 16+: gzip wrapper
  std::string out(deflateBound(&zs, raw.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string idx(uint8_t type, const std::vector<uint32_t>& dims, const std::string& payload) {
  std::string s{0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((d >> (8 * k)) & 0xff));
  return s + payload;
}

std::string pattern(size_t n, int mul) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(i * mul % 251));
  return s;
}

void append(void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); }

Tensor ramp(Shape shape, DType dt) {
  std::vector<double> v;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  for (int64_t i = 0; i < n; ++i) v.push_back(0.25 * static_cast<double>(i) - 1.0);
  if (dt == DType::Float64) return Tensor::from_vector(v, shape);
  return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), shape);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT (e.g. fuzz/corpus)\n", argv[0]);
    return 2;
  }
  root = argv[1];

  // ---- checkpoints of the tiny run, fresh and after two steps; its generator alone ----
  models::Trainer run(fuzz::tiny_config(), fuzz::tiny_data(), Device::cpu());
  put("checkpoint", "step0.safetensors", io::serialize_safetensors(run.checkpoint()));
  run.train_step();
  run.train_step();
  io::SafetensorsFile ckpt = run.checkpoint();
  put("checkpoint", "step2.safetensors", io::serialize_safetensors(ckpt));
  io::SafetensorsFile gen;
  for (const auto& [name, t] : ckpt.tensors)
    if (name.rfind("generator.", 0) == 0) gen.tensors.emplace_back(name.substr(10), t);
  put("checkpoint", "generator.safetensors", io::serialize_safetensors(gen));

  // ---- safetensors: the checkpoint, and one tensor of each dtype family with metadata ----
  put("safetensors", "checkpoint.safetensors", io::serialize_safetensors(ckpt));
  io::SafetensorsFile mixed;
  mixed.add("f32", ramp({2, 3}, DType::Float32));
  mixed.add("f64", ramp({3}, DType::Float64));
  mixed.add_int64("step", 7);
  io::StoredTensor half{"F16", {2}, {0x00, 0x3c, 0x00, 0xc0}}, bf{"BF16", {1}, {0x80, 0x3f}}, u8{"U8", {3}, {1, 2, 3}};
  mixed.tensors.emplace_back("f16", half);
  mixed.tensors.emplace_back("bf16", bf);
  mixed.tensors.emplace_back("u8", u8);
  mixed.tensors.emplace_back("empty", io::StoredTensor{"F32", {0, 4}, {}});
  mixed.metadata["format"] = "pt";
  put("safetensors", "mixed.safetensors", io::serialize_safetensors(mixed));

  // ---- config.json: the tiny run's, the defaults, a conditional DCGAN with codes ----
  put("config", "tiny.json", models::to_json(fuzz::tiny_config()).dump(2) + "\n");
  put("config", "default.json", models::to_json(models::TrainConfig{}).dump(2) + "\n");
  models::TrainConfig dc;
  dc.model.arch = "dcgan32";
  dc.model.image_size = 32;
  dc.model.channels = 3;
  dc.model.codes = "cat10,cont2";
  dc.loss = "wgan-gp";
  dc.data = "cifar10:data/cifar";
  dc.augment = "flip,translate";
  dc.eval_metrics = "fid,kid";
  put("config", "dcgan.json", models::to_json(dc).dump() + "\n");

  // ---- .npy: f4, f8, u1 (written by hand: the engine writes floats only), 0-d ----
  put("npy", "f4.npy", io::serialize_npy(ramp({2, 3}, DType::Float32)));
  put("npy", "f8.npy", io::serialize_npy(ramp({4}, DType::Float64)));
  put("npy", "f4-3d.npy", io::serialize_npy(ramp({2, 1, 2}, DType::Float32)));
  put("npy", "scalar.npy", io::serialize_npy(ramp({}, DType::Float64)));
  {
    std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
    while ((10 + dict.size() + 1) % 64) dict.push_back(' ');
    dict.push_back('\n');
    std::string h = "\x93NUMPY\x01";
    h.push_back('\0');
    h.push_back(static_cast<char>(dict.size() & 0xff));
    h.push_back(static_cast<char>(dict.size() >> 8));
    put("npy", "u1.npy", h + dict + pattern(6, 40));
  }

  // ---- IDX: images [3, 4, 4] and labels [3], plain, gzip, and gzip of two members ----
  const std::string images = idx(0x08, {3, 4, 4}, pattern(48, 17)), labels = idx(0x08, {3}, std::string{1, 7, 9});
  put("idx", "images-idx3-ubyte", images);
  put("idx", "labels-idx1-ubyte", labels);
  put("idx", "images-idx3-ubyte.gz", gzip(images));
  put("idx", "labels-idx1-ubyte.gz", gzip(labels));
  put("idx", "two-members.gz", gzip(images.substr(0, 20)) + gzip(images.substr(20)));
  put("idx", "float-idx2", idx(0x0D, {2, 2}, pattern(16, 3)));

  // ---- CIFAR-10: a batch of two records (labels 3 and 8) ----
  put("cifar", "batch2.bin", std::string(1, 3) + pattern(3072, 5) + std::string(1, 8) + pattern(3072, 11));

  // ---- images: the harness reads byte 0 as (bit 0: RGB, bit 1: 32x32) and decodes the rest ----
  io::Image rgb;
  rgb.width = 7;
  rgb.height = 5;
  rgb.channels = 3;
  std::string px = pattern(7 * 5 * 3, 29);
  rgb.pixels.assign(px.begin(), px.end());
  io::Image grey;
  grey.width = 3;
  grey.height = 6;
  grey.channels = 1;
  grey.pixels.assign(px.begin(), px.begin() + 18);
  put("image", "rgb.png", "\x03" + io::encode_png(rgb));
  put("image", "grey.png", std::string(1, '\0') + io::encode_png(grey));
  std::string jpg, bmp, tga;
  stbi_write_jpg_to_func(append, &jpg, 7, 5, 3, rgb.pixels.data(), 80);
  stbi_write_bmp_to_func(append, &bmp, 3, 6, 1, grey.pixels.data());
  stbi_write_tga_to_func(append, &tga, 7, 5, 3, rgb.pixels.data());
  put("image", "rgb.jpg", "\x01" + jpg);
  put("image", "grey.bmp", "\x02" + bmp);
  put("image", "rgb.tga", "\x03" + tga);

  // ---- the command line: argv[1..] separated by NUL bytes ----
  auto argv_of = [](std::vector<std::string> a) {
    std::string s;
    for (size_t i = 0; i < a.size(); ++i) s += (i ? std::string(1, '\0') : "") + a[i];
    return s;
  };
  put("cli", "train", argv_of({"train", "--model", "dcgan32", "--data", "mnist", "--steps", "100", "--lr", "2e-4",
                               "--loss", "wgan-gp", "--out", "runs/x"}));
  put("cli", "train-mlp", argv_of({"train", "--model", "mlp", "--batch", "32", "--ema", "0.999", "--seed", "3"}));
  put("cli", "sample", argv_of({"sample", "--checkpoint", "last.safetensors", "--n", "64", "--out", "s.png"}));
  put("cli", "trace", argv_of({"trace", "--model", "dcgan64", "--seed", "0", "--out", "trace/"}));
  put("cli", "eval", argv_of({"eval", "--checkpoint", "last.safetensors", "--ref", "mnist"}));
  put("cli", "analyze", argv_of({"analyze", "--run", "runs/x"}));
  put("cli", "help", argv_of({"--help-all"}));
  put("cli", "bad-number", argv_of({"train", "--lr", "nan"}));
  std::printf("wrote the seed corpora under %s\n", root.c_str());
  return 0;
}
