// The tiny run whose checkpoints the checkpoint harness restores: an MLP GAN on four 4x4 grey
// images with Adam and a moving average of G, small enough that a restore takes microseconds.
// The seed writer (write_seeds.cpp) saves its checkpoints into the corpus.
#pragma once
#include <cstdint>

#include "engine/io/datasets.h"
#include "models/config.h"

namespace gan::fuzz {

inline models::TrainConfig tiny_config() {
  models::TrainConfig cfg;
  cfg.model.arch = "mlp";
  cfg.model.nz = 3;
  cfg.model.image_size = 4;
  cfg.model.g_hidden = {5};
  cfg.model.d_hidden = {6};
  cfg.data = "mnist";
  cfg.batch = 2;
  cfg.steps = 4;
  cfg.ema = 0.9;
  cfg.device = "cpu";
  models::apply_defaults(cfg, {"steps", "batch", "ema", "device"});
  return cfg;
}

inline io::ImageDataset tiny_data() {
  io::ImageDataset ds;
  ds.count = 4;
  ds.channels = 1;
  ds.height = ds.width = 4;
  for (int i = 0; i < 64; ++i) ds.pixels.push_back(static_cast<uint8_t>(i * 37 % 256));
  ds.source = "tiny";
  return ds;
}

}  // namespace gan::fuzz
