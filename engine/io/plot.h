// Charts as 8-bit RGB images: line charts (training curves; linear or log y), bar charts, scatter
// plots with a categorical legend, small multiples of histograms, and heat maps with a colour map
// and a colour bar. Text is drawn with stb_easy_font, lines with a two-pixel pen; NaN/inf values
// are skipped (in a log-scale chart, so are values <= 0).
#pragma once
#include <array>
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
  // A disc (filled) or a ring of radius `radius` centred on (x, y).
  void circle(double x, double y, double radius, bool filled, uint8_t r, uint8_t g, uint8_t b);
  // Copies `img` (1 or 3 channels; grey is replicated) with its top-left corner at (x, y).
  void blit(const Image& img, int64_t x, int64_t y);
};

using Rgb = std::array<uint8_t, 3>;
// A colour for category i: the ten of matplotlib's "tab10", then ten more distinct ones, cycling.
Rgb category_colour(size_t i);
// The "viridis" colour map at t in [0, 1] (clamped): dark blue through green to yellow.
Rgb colour_map(double t);

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
  bool log_y = false;          // logarithmic y axis, gridlines at powers of ten
  std::string y_label;         // above the y axis
  int64_t legend_width = 0;    // > 0: the legend is a column this wide at the right, one line a series
};

Image line_plot(const std::vector<Series>& series, const PlotOptions& opt);

// ---- bar charts ----
struct Bar {
  std::string label;  // under the bar (every label_every-th)
  double value = 0;
  Rgb colour{31, 119, 180};
};
struct BarOptions {
  std::string title, x_label, y_label;
  int64_t width = 720, height = 300;
  bool log_y = false;       // bars then start at the axis' bottom decade
  int64_t label_every = 0;  // 0: as many labels as fit
  bool wrap_labels = false;  // labels too wide for a bar broken into lines after '.' and '_' (long names)
  // An optional legend: (label, colour) pairs drawn at the top right.
  std::vector<std::pair<std::string, Rgb>> legend;
};
Image bar_chart(const std::vector<Bar>& bars, const BarOptions& opt);

// ---- scatter plots ----
// A point of category `category` (its colour; -1: grey) drawn in marker style `style` (0: filled
// disc, 1: ring, 2: cross, 3: square outline).
struct ScatterPoint {
  double x = 0, y = 0;
  int category = 0;
  int style = 0;
};
struct ScatterOptions {
  std::string title, x_label, y_label;
  int64_t width = 640, height = 560;  // the legend takes a column at the right
  std::vector<std::string> categories;  // legend names of the categories, by index
  std::vector<std::string> styles;      // legend names of the marker styles, by index
  double radius = 3;
};
Image scatter_plot(const std::vector<ScatterPoint>& points, const ScatterOptions& opt);

// ---- histograms, as small multiples ----
// One histogram: bins [edges[i], edges[i+1]) holding counts[i] (counts.size() + 1 edges).
struct Histogram {
  std::vector<double> edges, counts;
};
// `values`' histogram over `bins` equal bins from lo to hi (values outside: in the end bins).
Histogram make_histogram(const std::vector<double>& values, int64_t bins, double lo, double hi);
struct HistogramPanel {
  std::string title;
  Histogram hist;
  Rgb colour{31, 119, 180};
  std::string note;  // one line under the title (e.g. a summary statistic)
};
struct HistogramGridOptions {
  std::string title;        // over the whole grid
  int64_t columns = 4;      // panels per row
  int64_t panel_width = 220, panel_height = 140;
  bool log_counts = false;  // bar heights log(1 + count)
};
Image histogram_grid(const std::vector<HistogramPanel>& panels, const HistogramGridOptions& opt);

// ---- heat maps ----
// values [height, width] row-major mapped through colour_map over [vmin, vmax], each value a
// scale x scale block of pixels.
Image heat_map(const std::vector<double>& values, int64_t height, int64_t width, double vmin, double vmax,
               int64_t scale = 1);
// A vertical colour bar `height` pixels tall with vmin at the bottom and vmax at the top, ticks
// labelled, and `label` above it.
Image colour_bar(double vmin, double vmax, int64_t height, const std::string& label);
// An image of `width` x `height` with `title` centred on a white band (a figure's heading).
Image title_band(const std::string& title, int64_t width, int64_t height = 24, int scale = 1);
// Images side by side, tops aligned, on white, `gap` pixels apart.
Image place_side_by_side(const std::vector<Image>& images, int64_t gap = 0);
// Images of equal width, one above the other.
Image stack_vertically(const std::vector<Image>& images);

}  // namespace gan::io
