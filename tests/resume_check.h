// The exact-resume check the training tests share: N steps straight and k steps, a checkpoint
// through safetensors bytes, a fresh trainer restored from it and N - k more must end in the same
// checkpoint, byte for byte (parameters, buffers, optimizer state, metadata).
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "engine/io/safetensors.h"
#include "models/trainer.h"

namespace gan::test {

inline void expect_exact_resume(const models::TrainConfig& c, const io::ImageDataset& ds, int total, int split) {
  models::Trainer straight(c, ds, Device::cpu());
  for (int i = 0; i < total; ++i) straight.train_step();
  models::Trainer first(c, ds, Device::cpu());
  for (int i = 0; i < split; ++i) first.train_step();
  const std::string bytes = io::serialize_safetensors(first.checkpoint());
  models::Trainer resumed(c, ds, Device::cpu());
  resumed.restore(io::parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem"), "mem");
  for (int i = split; i < total; ++i) resumed.train_step();
  const io::SafetensorsFile a = straight.checkpoint(), b = resumed.checkpoint();
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    const io::StoredTensor* other = b.find(name);
    ASSERT_NE(other, nullptr) << name;
    EXPECT_TRUE(t.data == other->data) << name << " differs after resume";
  }
  EXPECT_EQ(a.metadata, b.metadata);
}

}  // namespace gan::test
