// A run's config.json (or a checkpoint's "config" metadata): JSON text -> validated TrainConfig,
// then the defaults a run fills in from the loss and the data.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/core/error.h"
#include "models/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gan::models::TrainConfig cfg =
        gan::models::parse_train_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
    gan::models::apply_defaults(cfg, {});
    (void)gan::models::to_json(cfg).dump();
  } catch (const gan::Error&) {
  }
  return 0;
}
