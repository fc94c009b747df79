// Strict text-to-number conversion for everything read from files and metadata: the whole text
// must be the number (no sign where unsigned, no spaces, no trailing characters, no exponent in an
// integer), and it must fit its type. std::stoll and friends accept "12abc", skip spaces, throw
// std::invalid_argument without naming the value, and saturate or wrap; these return nullopt and
// let the caller name the file, the field and the value.
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gan {

// A decimal integer of type T, the whole of `s` ("-" first only for signed T).
template <class T>
std::optional<T> parse_integer(std::string_view s) {
  T v{};
  if (s.empty()) return std::nullopt;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

inline std::optional<int64_t> parse_int64(std::string_view s) { return parse_integer<int64_t>(s); }

// A finite decimal or scientific number, the whole of `s`.
inline std::optional<double> parse_finite_double(std::string_view s) {
  double v = 0;
  if (s.empty()) return std::nullopt;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace gan
