// Line charts as 8-bit RGB images (training curves): axes, min/max labels, a legend. Text is
// drawn with stb_easy_font, lines with a two-pixel pen; NaN/inf points are skipped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/image.h"

namespace gan::io {

struct Series {
  std::string label;
  std::vector<double> x, y;
  uint8_t r = 0, g = 0, b = 0;
};

struct PlotOptions {
  std::string title, x_label;
  int64_t width = 720, height = 260;
  bool fixed_y = false;  // use y_min..y_max instead of the data's range
  double y_min = 0, y_max = 1;
};

Image line_plot(const std::vector<Series>& series, const PlotOptions& opt);
// Images of equal width, one above the other.
Image stack_vertically(const std::vector<Image>& images);

}  // namespace gan::io
