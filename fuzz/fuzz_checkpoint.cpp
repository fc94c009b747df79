// A training checkpoint: safetensors whose metadata holds the run's config, step, loader and
// RNG state. Recognised checkpoints are restored into a tiny MLP run (fuzz/tiny_run.h), which
// checks the config against the model, parses every metadata field and loads every network and
// optimizer tensor with its shape checks; a generator file alone goes through network_state.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "fuzz/tiny_run.h"
#include "models/checkpoint.h"
#include "models/trainer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Built once: a restore that fails half way leaves mixed weights, which the next restore
  // overwrites or refuses in the same way.
  static std::unique_ptr<gan::models::Trainer> run = std::make_unique<gan::models::Trainer>(
      gan::fuzz::tiny_config(), gan::fuzz::tiny_data(), gan::Device::cpu());
  const char* src = "fuzz-checkpoint.safetensors";
  try {
    gan::io::SafetensorsFile f = gan::io::parse_safetensors(data, size, src);
    if (gan::models::is_checkpoint(f)) {
      (void)gan::models::checkpoint_config(f, src);
      run->restore(f, src);
    } else {
      (void)gan::models::network_state(f, "generator", src);
    }
  } catch (const gan::Error&) {
  }
  return 0;
}
