// The skip of every GPU test where no GPU is visible (CI, the CPU machine): a skip with its reason,
// never a pass, so a run's summary shows what it did not check.
#pragma once
#include <gtest/gtest.h>

#include "engine/core/device.h"

#define SKIP_WITHOUT_GPU()                                                                            \
  do {                                                                                              \
    if (::gan::cuda_device_count() == 0)                                                            \
      GTEST_SKIP() << "no CUDA device visible: this GPU check did not run (a skip, not a pass)";    \
  } while (0)
