// Line charts as 8-bit RGB images (training curves): axes, min/max labels, a legend. Text is
// drawn with stb_easy_font, lines with a two-pixel pen; NaN/inf points are skipped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/image.h"

namespace gan::io {

// An RGB drawing surface, white to start with: points, filled rectangles [x0, x1) x [y0, y1), a
// two-pixel line, and text in stb_easy_font's font (about 6 x 7 pixels a character at scale 1).
struct Canvas {
  Image img;
  Canvas(int64_t width, int64_t height);
  void put(int64_t x, int64_t y, uint8_t r, uint8_t g, uint8_t b);  // outside: ignored
  void rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint8_t r, uint8_t g, uint8_t b);
  void line(double x0, double y0, double x1, double y1, uint8_t r, uint8_t g, uint8_t b);
  void text(int64_t x, int64_t y, const std::string& s, uint8_t r, uint8_t g, uint8_t b, int scale = 1);
  static int64_t text_width(const std::string& s, int scale = 1);
};

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
