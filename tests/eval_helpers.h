// Helpers shared by the evaluation tests (test_npz, test_eval_metrics, test_eval).
#pragma once
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "engine/core/error.h"

// The statement throws gan::Error whose message contains every needle.
#define EXPECT_THROW_MSG(statement, ...)                                                                 \
  do {                                                                                                    \
    std::initializer_list<std::string> needles_ = __VA_ARGS__;                                            \
    try {                                                                                                 \
      statement;                                                                                          \
      ADD_FAILURE() << #statement " did not throw";                                                      \
    } catch (const gan::Error& e_) {                                                                      \
      for (const auto& n_ : needles_)                                                                     \
        EXPECT_NE(std::string(e_.what()).find(n_), std::string::npos) << "'" << n_ << "' not in: " << e_.what(); \
    }                                                                                                     \
  } while (0)
