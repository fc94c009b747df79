// Errors: every failed check throws gan::Error with a message that names the op and what was wrong.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace gan {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace gan

// GAN_CHECK(cond, "op: message " << value << ...) throws gan::Error when cond is false.
#define GAN_CHECK(cond, ...)                                        \
  do {                                                              \
    if (!(cond)) {                                                  \
      std::ostringstream gan_check_os_;                             \
      gan_check_os_ << __VA_ARGS__;                                 \
      throw ::gan::Error(gan_check_os_.str());                      \
    }                                                               \
  } while (0)

#define GAN_FAIL(...) GAN_CHECK(false, __VA_ARGS__)
