// The prefetching data source (models/prefetch.h) against the source it wraps: the same batches in
// the same order, the same data positions after each one, set_state's prepared batches dropped, a
// failing read reported at its own place, and no hang when it is destroyed at any point.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

#include "models/data.h"
#include "models/prefetch.h"
#include "models/trainer.h"
#include "tests/op_reference.h"
#include "tests/test_helpers.h"

using namespace gan;
using namespace gan::models;
using namespace gan::test;

namespace {

io::ImageDataset labelled_images(int64_t n, uint64_t seed) {
  io::ImageDataset ds = random_images(n, 1, 8, seed);
  for (int64_t i = 0; i < n; ++i) ds.labels.push_back(static_cast<int32_t>(i % 10));
  return ds;
}

void expect_same_batch(const Batch& a, const Batch& b, int64_t i) {
  EXPECT_TRUE(same_bits(a.real, b.real)) << "batch " << i;
  EXPECT_TRUE(same_bits(a.labels, b.labels)) << "batch " << i;
  EXPECT_TRUE(same_bits(a.real_b, b.real_b)) << "batch " << i;
}

void expect_same_state(const DataState& a, const DataState& b, int64_t i) {
  EXPECT_EQ(a.epoch, b.epoch) << "after batch " << i;
  EXPECT_EQ(a.position, b.position) << "after batch " << i;
  EXPECT_EQ(a.draws, b.draws) << "after batch " << i;
}

// A source whose reads fail where a test says, counting its calls.
class FlakySource : public DataSource {
 public:
  explicit FlakySource(int64_t fail_at) : fail_at_(fail_at) {}
  Batch next() override {
    if (calls_++ == fail_at_) throw Error("flaky: read " + std::to_string(fail_at_) + " failed");
    return {Tensor::full({2, 3}, static_cast<double>(served_++)), Tensor(), Tensor()};
  }
  std::string describe() const override { return "flaky"; }
  DataState state() const override { return {0, served_, std::nullopt}; }
  void set_state(const DataState& s) override { served_ = s.position; }
  bool worth_prefetching() const override { return true; }

  std::atomic<int64_t> calls_{0};

 private:
  int64_t fail_at_;
  int64_t served_ = 0;
};

}  // namespace

TEST(Prefetch, SameBatchesAndPositionsAsTheSourceOverEpochs) {
  const io::ImageDataset ds = labelled_images(23, 3);  // 5 batches of 4 per epoch, 3 images dropped
  for (bool pinned : {false, true}) {
    auto plain = image_source(ds, 4, 8, 17, true);
    auto ahead = prefetched(image_source(ds, 4, 8, 17, true), pinned);
    expect_same_state(ahead->state(), plain->state(), -1);
    for (int64_t i = 0; i < 13; ++i) {  // two and a half epochs
      expect_same_batch(ahead->next(), plain->next(), i);
      expect_same_state(ahead->state(), plain->state(), i);
    }
    EXPECT_EQ(ahead->batches_per_epoch(), plain->batches_per_epoch());
    EXPECT_EQ(ahead->describe(), plain->describe());
  }
}

TEST(Prefetch, UnpairedBatchesMatchTheirSource) {
  const io::ImageDataset a = random_images(12, 1, 8, 4), b = random_images(20, 1, 8, 5);
  auto plain = unpaired_source(a, b, 4, 8, 9);
  auto ahead = prefetched(unpaired_source(a, b, 4, 8, 9), false);
  for (int64_t i = 0; i < 8; ++i) {
    expect_same_batch(ahead->next(), plain->next(), i);
    expect_same_state(ahead->state(), plain->state(), i);
  }
  ASSERT_EQ(ahead->examples(3).size(), 2u);
  EXPECT_TRUE(same_bits(ahead->examples(3)[1], plain->examples(3)[1]));
}

TEST(Prefetch, SetStateDropsThePreparedBatches) {
  const io::ImageDataset ds = labelled_images(40, 6);
  auto ahead = prefetched(image_source(ds, 4, 8, 21, true), false);
  for (int i = 0; i < 3; ++i) ahead->next();  // the worker has prepared batches 3 and 4 by now
  const DataState back{1, 2, std::nullopt};
  ahead->set_state(back);
  auto plain = image_source(ds, 4, 8, 21, true);
  plain->set_state(back);
  expect_same_state(ahead->state(), plain->state(), -1);
  for (int64_t i = 0; i < 12; ++i) {
    expect_same_batch(ahead->next(), plain->next(), i);
    expect_same_state(ahead->state(), plain->state(), i);
  }
  // A position set before the first read (a resumed run) is where the first batch comes from.
  auto fresh = prefetched(image_source(ds, 4, 8, 21, true), false);
  fresh->set_state(back);
  auto again = image_source(ds, 4, 8, 21, true);
  again->set_state(back);
  expect_same_batch(fresh->next(), again->next(), 0);
}

TEST(Prefetch, AFailedReadIsReportedInItsPlaceAndRetried) {
  auto owned = std::make_unique<FlakySource>(2);
  FlakySource* flaky = owned.get();
  auto ahead = prefetched(std::move(owned), false);
  EXPECT_EQ(ahead->next().real.to_double_vector()[0], 0.0);
  EXPECT_EQ(ahead->next().real.to_double_vector()[0], 1.0);
  expect_error_naming([&] { ahead->next(); }, {"flaky: read 2 failed"});
  EXPECT_EQ(ahead->state().position, 2);  // the position of the batches handed out
  EXPECT_EQ(flaky->calls_.load(), 3);     // the worker stopped at the failure
  EXPECT_EQ(ahead->next().real.to_double_vector()[0], 2.0);  // asked again, the source serves it
  EXPECT_EQ(ahead->state().position, 3);
}

TEST(Prefetch, OnlySourcesThatAskForItAreWrapped) {
  auto toy = toy_source("gaussians8", 16, 1);
  DataSource* raw = toy.get();
  EXPECT_EQ(prefetched(std::move(toy), false).get(), raw);  // a 2-D draw costs less than a hand-over
  auto fixed = fixed_batch_source(Tensor::zeros({2, 1, 4, 4}), "fixed");
  raw = fixed.get();
  EXPECT_EQ(prefetched(std::move(fixed), false).get(), raw);
  auto images = image_source(random_images(8, 1, 8, 2), 2, 8, 3);
  raw = images.get();
  auto wrapped = prefetched(std::move(images), false);
  EXPECT_NE(wrapped.get(), raw);
  EXPECT_EQ(prefetched(std::move(wrapped), false)->worth_prefetching(), false);  // never wrapped twice
}

TEST(Prefetch, DestroyedAtAnyPointWithoutHanging) {
  const io::ImageDataset ds = random_images(16, 1, 8, 7);
  { auto never_read = prefetched(image_source(ds, 4, 8, 1), false); }
  {
    auto read_once = prefetched(image_source(ds, 4, 8, 1), false);
    read_once->next();  // the worker now waits for room in a full queue
  }
  {
    auto ahead = prefetched(std::make_unique<FlakySource>(0), false);
    EXPECT_THROW(ahead->next(), Error);  // the worker has ended on the failure
  }
}

TEST(Prefetch, PinnedHostTensorsAreOrdinaryHostTensorsWithoutAGpu) {
  Tensor t = Tensor::empty_pinned({3, 5});
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_EQ(t.nbytes(), 60u);
  EXPECT_EQ(t.impl().storage->pinned, cuda_device_count() > 0);
  float* p = t.data<float>();
  for (int i = 0; i < 15; ++i) p[i] = static_cast<float>(i);
  EXPECT_EQ(t.to_double_vector()[14], 14.0);
  EXPECT_EQ(Tensor::empty_pinned({0}).numel(), 0);
  expect_error_naming([] { Tensor::empty_pinned({2, -1}); }, {"negative extent"});
}

// A trainer reads through the prefetching source and checkpoints the position of the batches its
// steps used: after k steps, the state a plain loader reaches after k batches.
TEST(Prefetch, TrainerPositionIsThatOfTheBatchesItUsed) {
  const io::ImageDataset ds = random_images(40, 1, 32, 8);
  TrainConfig cfg = tiny_dcgan32(7);
  Trainer t(cfg, ds, Device::cpu());
  for (int i = 0; i < 7; ++i) t.train_step();
  auto plain = image_source(ds, cfg.batch, 32, cfg.seed);
  for (int i = 0; i < 7 * t.recipe().critic_steps(); ++i) plain->next();
  expect_same_state(t.data().state(), plain->state(), 7);
}
