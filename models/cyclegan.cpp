#include "models/cyclegan.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/nn/init.h"
#include "engine/ops/ops.h"

namespace gan::models {

namespace {
std::shared_ptr<nn::Module> norm(int64_t c) { return std::make_shared<nn::InstanceNorm2d>(c); }
}  // namespace

ResnetBlock::ResnetBlock(int64_t dim, Generator& gen) : nn::Module("ResnetBlock") {
  conv_block = register_module("conv_block", std::make_shared<nn::Sequential>());
  for (int half = 0; half < 2; ++half) {
    conv_block->push_back(std::make_shared<nn::ReflectionPad2d>(1));
    conv_block->push_back(std::make_shared<nn::Conv2d>(dim, dim, 3, 1, 0, true, &gen));
    conv_block->push_back(norm(dim));
    if (half == 0) conv_block->push_back(std::make_shared<nn::ReLU>());
  }
}

Tensor ResnetBlock::forward(const Tensor& x) { return add(x, (*conv_block)(x)); }

ResnetGenerator::ResnetGenerator(int64_t channels, int64_t ngf, int64_t blocks, Generator& gen)
    : nn::Module("ResnetGenerator") {
  model = register_module("model", std::make_shared<nn::Sequential>());
  auto& m = *model;
  m.push_back(std::make_shared<nn::ReflectionPad2d>(3));
  m.push_back(std::make_shared<nn::Conv2d>(channels, ngf, 7, 1, 0, true, &gen));  // ngf x S x S
  m.push_back(norm(ngf));
  m.push_back(std::make_shared<nn::ReLU>());
  for (int64_t mult : {1, 2}) {  // (2 ngf) x S/2 x S/2, then (4 ngf) x S/4 x S/4
    m.push_back(std::make_shared<nn::Conv2d>(ngf * mult, ngf * mult * 2, 3, 2, 1, true, &gen));
    m.push_back(norm(ngf * mult * 2));
    m.push_back(std::make_shared<nn::ReLU>());
  }
  for (int64_t i = 0; i < blocks; ++i) m.push_back(std::make_shared<ResnetBlock>(ngf * 4, gen));
  for (int64_t mult : {4, 2}) {  // (2 ngf) x S/2 x S/2, then ngf x S x S
    m.push_back(std::make_shared<nn::ConvTranspose2d>(ngf * mult, ngf * mult / 2, 3, 2, 1, 1, true, &gen));
    m.push_back(norm(ngf * mult / 2));
    m.push_back(std::make_shared<nn::ReLU>());
  }
  m.push_back(std::make_shared<nn::ReflectionPad2d>(3));
  m.push_back(std::make_shared<nn::Conv2d>(ngf, channels, 7, 1, 0, true, &gen));  // C x S x S
  m.push_back(std::make_shared<nn::Tanh>());
  nn::init::dcgan_init(*this, gen);  // the reference's init_weights('normal', 0.02)
}

Tensor ResnetGenerator::forward(const Tensor& x) {
  GAN_CHECK(x.dim() == 4 && x.size(2) % 4 == 0 && x.size(3) % 4 == 0 && x.size(2) >= 8 && x.size(3) >= 8,
            "ResnetGenerator: expected images [N, C, H, W] with H and W multiples of 4, at least 8, got " << x.str());
  return (*model)(x);
}

PatchDiscriminator::PatchDiscriminator(int64_t channels, int64_t ndf, int64_t layers, Generator& gen)
    : nn::Module("NLayerDiscriminator") {
  model = register_module("model", std::make_shared<nn::Sequential>());
  auto& m = *model;
  m.push_back(std::make_shared<nn::Conv2d>(channels, ndf, 4, 2, 1, true, &gen));  // ndf x S/2 x S/2
  m.push_back(std::make_shared<nn::LeakyReLU>(0.2));
  int64_t mult = 1;
  for (int64_t i = 1; i <= layers; ++i) {  // the last of these keeps the side (stride 1)
    const int64_t prev = mult;
    mult = std::min<int64_t>(int64_t{1} << i, 8);
    m.push_back(std::make_shared<nn::Conv2d>(ndf * prev, ndf * mult, 4, i < layers ? 2 : 1, 1, true, &gen));
    m.push_back(norm(ndf * mult));
    m.push_back(std::make_shared<nn::LeakyReLU>(0.2));
  }
  m.push_back(std::make_shared<nn::Conv2d>(ndf * mult, 1, 4, 1, 1, true, &gen));  // 1 x P x P
  nn::init::dcgan_init(*this, gen);
}

Tensor PatchDiscriminator::forward(const Tensor& x) { return (*model)(x); }

ImagePool::ImagePool(int64_t size, int64_t channels, int64_t side) : nn::Module("ImagePool"), size_(size) {
  images_ = register_buffer("images", Tensor::zeros({size, channels, side, side}));
  register_counter("count", &count_);
}

Tensor ImagePool::forward(const Tensor&) {
  GAN_FAIL("ImagePool: call query(fakes, generator); the pool draws from the run's noise stream");
}

Tensor ImagePool::query(const Tensor& fakes, Generator& gen) {
  NoGradGuard no_grad;
  Tensor fresh = fakes.detach();
  if (size_ == 0) return fresh;
  GAN_CHECK(fresh.dim() == 4 && fresh.size(1) == images_.size(1) && fresh.size(2) == images_.size(2) &&
                fresh.size(3) == images_.size(3),
            "ImagePool: expected fakes [B, " << images_.size(1) << ", " << images_.size(2) << ", " << images_.size(3)
                                             << "], got " << fresh.str());
  GAN_CHECK(count_ >= 0 && count_ <= size_, "ImagePool: holds " << count_ << " of " << size_ << " images");
  const int64_t b = fresh.size(0);
  // Every image draws two numbers (the coin, then the slot) once the pool is full, used or not,
  // so that the stream's position depends only on the step.
  std::vector<Tensor> rows(static_cast<size_t>(size_)), out;
  auto row = [&](int64_t r) { return rows[r].defined() ? rows[r] : slice(images_, 0, r, r + 1); };
  bool changed = false;
  for (int64_t i = 0; i < b; ++i) {
    Tensor img = slice(fresh, 0, i, i + 1);
    if (count_ < size_) {
      rows[count_++] = img;
      out.push_back(img);
      changed = true;
      continue;
    }
    const std::vector<float> u = Tensor::rand({2}, &gen).to_float_vector();
    if (u[0] < 0.5f) {
      out.push_back(img);
      continue;
    }
    const int64_t slot = std::min<int64_t>(static_cast<int64_t>(std::floor(u[1] * static_cast<float>(size_))), size_ - 1);
    out.push_back(row(slot));
    rows[slot] = img;
    changed = true;
  }
  if (changed) {
    std::vector<Tensor> all;
    for (int64_t r = 0; r < size_; ++r) all.push_back(row(r));
    images_.copy_(cat(all, 0));
  }
  return cat(out, 0);
}

}  // namespace gan::models
