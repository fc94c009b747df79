#include "engine/io/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb/stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "engine/core/error.h"

namespace gan::io {

Canvas::Canvas(int64_t w, int64_t h) {
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.assign(static_cast<size_t>(w * h * 3), 255);
}

void Canvas::put(int64_t x, int64_t y, uint8_t r, uint8_t g, uint8_t b) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  uint8_t* p = &img.pixels[static_cast<size_t>((y * img.width + x) * 3)];
  p[0] = r;
  p[1] = g;
  p[2] = b;
}

void Canvas::rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint8_t r, uint8_t g, uint8_t b) {
  for (int64_t y = y0; y < y1; ++y)
    for (int64_t x = x0; x < x1; ++x) put(x, y, r, g, b);
}

void Canvas::line(double x0, double y0, double x1, double y1, uint8_t r, uint8_t g, uint8_t b) {
  int64_t steps = static_cast<int64_t>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
  for (int64_t i = 0; i <= steps; ++i) {
    double t = static_cast<double>(i) / static_cast<double>(steps);
    int64_t x = std::lround(x0 + t * (x1 - x0)), y = std::lround(y0 + t * (y1 - y0));
    put(x, y, r, g, b);
    put(x, y + 1, r, g, b);
  }
}

void Canvas::text(int64_t x, int64_t y, const std::string& s, uint8_t r, uint8_t g, uint8_t b, int scale) {
  static char buf[60000];
  std::string copy = s;
  int quads = stb_easy_font_print(0, 0, copy.data(), nullptr, buf, sizeof buf);
  for (int q = 0; q < quads; ++q) {  // each quad: 4 vertices of x, y, z and a colour (16 bytes)
    const float* v0 = reinterpret_cast<const float*>(buf + q * 64);
    const float* v2 = reinterpret_cast<const float*>(buf + q * 64 + 32);
    rect(x + scale * std::lround(v0[0]), y + scale * std::lround(v0[1]), x + scale * std::lround(v2[0]),
         y + scale * std::lround(v2[1]), r, g, b);
  }
}

int64_t Canvas::text_width(const std::string& s, int scale) {
  std::string copy = s;
  return scale * stb_easy_font_width(copy.data());
}

void Canvas::circle(double cx, double cy, double radius, bool filled, uint8_t r, uint8_t g, uint8_t b) {
  const int64_t R = static_cast<int64_t>(std::ceil(radius)) + 1;
  const double outer = radius * radius, inner = (radius - 1.2) * (radius - 1.2);
  for (int64_t dy = -R; dy <= R; ++dy)
    for (int64_t dx = -R; dx <= R; ++dx) {
      const double d = static_cast<double>(dx * dx + dy * dy);
      if (d <= outer && (filled || radius < 1.5 || d >= inner))
        put(std::lround(cx) + dx, std::lround(cy) + dy, r, g, b);
    }
}

void Canvas::blit(const Image& src, int64_t x0, int64_t y0) {
  GAN_CHECK(src.channels == 1 || src.channels == 3, "Canvas::blit: images of 1 or 3 channels, got " << src.channels);
  for (int64_t y = 0; y < src.height; ++y)
    for (int64_t x = 0; x < src.width; ++x) {
      const bool grey = src.channels == 1;
      put(x0 + x, y0 + y, src.at(y, x, 0), src.at(y, x, grey ? 0 : 1), src.at(y, x, grey ? 0 : 2));
    }
}

Rgb category_colour(size_t i) {
  static const Rgb palette[] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
                                {140, 86, 75},   {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
                                {0, 0, 128},     {128, 128, 0},   {0, 128, 128},   {128, 0, 0},    {255, 0, 255},
                                {0, 200, 100},   {100, 60, 200},  {200, 150, 0},   {60, 60, 60},   {0, 90, 200}};
  return palette[i % (sizeof palette / sizeof palette[0])];
}

Rgb colour_map(double t) {
  // viridis sampled at nine evenly spaced points, linearly interpolated between them
  static const double stops[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},   {44, 113, 142}, {33, 144, 141},
                                     {39, 173, 129}, {92, 200, 99},  {170, 220, 50},  {253, 231, 37}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 8;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  Rgb c;
  for (int k = 0; k < 3; ++k) c[static_cast<size_t>(k)] = static_cast<uint8_t>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  return c;
}

namespace {

std::string num(double v) {
  char b[32];
  if (std::abs(v) >= 1 && std::abs(v) < 1e15 && v == std::floor(v)) std::snprintf(b, sizeof b, "%.0f", v);
  else if (v != 0 && (std::abs(v) >= 1e4 || std::abs(v) < 1e-2)) std::snprintf(b, sizeof b, "%.2e", v);
  else std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

// About `target` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart).
std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  std::vector<double> t;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target, p = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / p < 1.5 ? p : raw / p < 3.5 ? 2 * p : raw / p < 7.5 ? 5 * p : 10 * p;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}

}  // namespace

Image line_plot(const std::vector<Series>& series, const PlotOptions& opt) {
  GAN_CHECK(opt.width >= 200 && opt.height >= 100, "line_plot: image " << opt.width << "x" << opt.height << " too small");
  GAN_CHECK(opt.legend_width >= 0 && opt.legend_width < opt.width - 150,
            "line_plot: legend width " << opt.legend_width << " does not fit a " << opt.width << " wide image");
  Canvas c(opt.width, opt.height);
  const int64_t left = 60, right = opt.width - 12 - opt.legend_width, top = 22, bottom = opt.height - 22;
  // A log axis works on log10 of the values; values <= 0 have no place on it and are skipped.
  auto fy = [&](double y) { return opt.log_y ? (y > 0 ? std::log10(y) : NAN) : y; };
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : series) {
    GAN_CHECK(s.x.size() == s.y.size(), "line_plot: series '" << s.label << "' has " << s.x.size() << " x and "
                                                              << s.y.size() << " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double y = fy(s.y[i]);
      if (!std::isfinite(s.x[i]) || !std::isfinite(y)) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
  }
  if (opt.fixed_y) {
    ymin = fy(opt.y_min);
    ymax = fy(opt.y_max);
  }
  bool empty = !std::isfinite(xmin);
  if (empty) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + 1, ymin -= 1;
  if (opt.log_y && !opt.fixed_y) {  // whole decades at both ends, so that the gridlines frame the data
    ymin = std::floor(ymin);
    ymax = std::max(std::ceil(ymax), ymin + 1);
  }
  auto px = [&](double x) { return left + (x - xmin) / (xmax - xmin) * static_cast<double>(right - left); };
  auto py = [&](double y) { return bottom - (y - ymin) / (ymax - ymin) * static_cast<double>(bottom - top); };
  auto text = [&](int64_t x, int64_t y, const std::string& s, uint8_t shade = 40) { c.text(x, y, s, shade, shade, shade); };
  auto text_width = [](const std::string& s) { return Canvas::text_width(s); };

  // Grid lines (quarters; a log axis: every power of ten, labelled), then the frame.
  if (opt.log_y) {
    const int64_t every = std::max<int64_t>(1, static_cast<int64_t>(std::ceil((ymax - ymin) / 8)));
    for (int64_t k = static_cast<int64_t>(ymin); k <= static_cast<int64_t>(ymax); k += every) {
      int64_t y = std::lround(py(static_cast<double>(k)));
      if (y > top && y < bottom) c.rect(left, y, right, y + 1, 225, 225, 225);
      text(4, y - 3, "1e" + std::to_string(k));
    }
  } else {
    for (int k = 1; k < 4; ++k) {
      int64_t y = std::lround(top + k * (bottom - top) / 4.0);
      c.rect(left, y, right, y + 1, 225, 225, 225);
    }
  }
  c.rect(left, top, right, top + 1, 120, 120, 120);
  c.rect(left, bottom, right, bottom + 1, 120, 120, 120);
  c.rect(left, top, left + 1, bottom, 120, 120, 120);
  c.rect(right - 1, top, right, bottom, 120, 120, 120);
  for (const auto& s : series) {
    bool have = false;
    double lx = 0, ly = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double yv = fy(s.y[i]);
      if (!std::isfinite(s.x[i]) || !std::isfinite(yv)) {
        have = false;
        continue;
      }
      double x = px(s.x[i]), y = py(std::clamp(yv, ymin, ymax));
      if (have) c.line(lx, ly, x, y, s.r, s.g, s.b);
      else c.put(std::lround(x), std::lround(y), s.r, s.g, s.b);
      lx = x, ly = y, have = true;
    }
  }
  text(left, 6, opt.title, 0);
  if (!opt.log_y) {
    text(4, top - 4, num(ymax));
    text(4, bottom - 6, num(ymin));
  }
  if (!opt.y_label.empty()) text(left + 5, top + 5, opt.y_label, 90);  // inside the frame's top-left corner
  // x ticks at round values; the axis name right of the last one that leaves it room
  const std::string xname = opt.x_label;
  int64_t last_tick_end = left;
  for (double v : nice_ticks(xmin, xmax, 8)) {
    const int64_t x = std::lround(px(v));
    const std::string l = num(v);
    const int64_t w = text_width(l);
    if (x - w / 2 < last_tick_end + 4 || x + w / 2 > right - text_width(xname) - 10) continue;
    c.rect(x, bottom, x + 1, bottom + 3, 120, 120, 120);
    text(x - w / 2, bottom + 6, l);
    last_tick_end = x + w / 2;
  }
  if (!xname.empty()) text(right - text_width(xname), bottom + 6, xname, 90);
  if (opt.legend_width > 0) {  // one line a series in the right-hand column
    int64_t y = top + 2;
    for (const auto& s : series) {
      if (y + 10 > opt.height) break;
      c.rect(right + 10, y + 2, right + 22, y + 6, s.r, s.g, s.b);
      text(right + 26, y, s.label);
      y += 12;
    }
  } else {  // right-aligned at the top
    int64_t x = right;
    for (auto it = series.rbegin(); it != series.rend(); ++it) {
      int64_t w = text_width(it->label);
      x -= w + 6;
      text(x, 6, it->label);
      x -= 14;
      c.rect(x, 8, x + 10, 12, it->r, it->g, it->b);
      x -= 10;
    }
  }
  if (empty) text(left + 10, top + 10, "no data yet");
  return c.img;
}

Image stack_vertically(const std::vector<Image>& images) {
  GAN_CHECK(!images.empty(), "stack_vertically: no images");
  Image out;
  out.width = images[0].width;
  out.channels = images[0].channels;
  for (const auto& im : images) {
    GAN_CHECK(im.width == out.width && im.channels == out.channels,
              "stack_vertically: images differ in width or channels");
    out.height += im.height;
    out.pixels.insert(out.pixels.end(), im.pixels.begin(), im.pixels.end());
  }
  return out;
}


// ---- axes shared by the bar, scatter and histogram charts ----

namespace {

// A value axis, linear or log10, mapped onto pixels [p0, p1] (p1 < p0 for a y axis).
struct Axis {
  double lo = 0, hi = 1;  // in axis units (log10 of the values on a log axis)
  bool log = false;
  double p0 = 0, p1 = 1;
  static Axis fit(double vmin, double vmax, bool log, bool pad) {
    Axis a;
    a.log = log;
    if (!std::isfinite(vmin) || !std::isfinite(vmax)) vmin = log ? 0.1 : 0, vmax = log ? 10 : 1;
    if (log) vmin = std::log10(vmin), vmax = std::log10(vmax);
    if (vmax == vmin) vmax = vmin + 0.5, vmin -= 0.5;
    if (log) {
      a.lo = std::floor(vmin);
      a.hi = std::max(std::ceil(vmax), a.lo + 1);
    } else {
      const double m = pad ? 0.05 * (vmax - vmin) : 0;
      a.lo = vmin - m;
      a.hi = vmax + m;
    }
    return a;
  }
  double unit(double v) const { return log ? (v > 0 ? std::log10(v) : NAN) : v; }
  double pixel(double v) const { return p0 + (unit(v) - lo) / (hi - lo) * (p1 - p0); }
  // (value, label) of each tick
  std::vector<std::pair<double, std::string>> ticks() const {
    std::vector<std::pair<double, std::string>> out;
    if (log) {
      const int64_t every = std::max<int64_t>(1, static_cast<int64_t>(std::ceil((hi - lo) / 8)));
      for (int64_t k = static_cast<int64_t>(lo); k <= static_cast<int64_t>(hi); k += every)
        out.emplace_back(std::pow(10.0, static_cast<double>(k)), "1e" + std::to_string(k));
    } else {
      for (double v : nice_ticks(lo, hi)) out.emplace_back(v, num(v));
    }
    return out;
  }
};

void grey_text(Canvas& c, int64_t x, int64_t y, const std::string& s, uint8_t shade = 40) { c.text(x, y, s, shade, shade, shade); }

// The frame [left, right] x [top, bottom], horizontal gridlines and labels of the y axis, and the
// x axis' ticks when `x` is given.
void draw_frame(Canvas& c, int64_t left, int64_t top, int64_t right, int64_t bottom, const Axis& y, const Axis* x) {
  for (auto& [v, label] : y.ticks()) {
    const int64_t py = std::lround(y.pixel(v));
    if (py < top || py > bottom) continue;
    if (py > top && py < bottom) c.rect(left + 1, py, right, py + 1, 228, 228, 228);
    c.rect(left - 4, py, left, py + 1, 120, 120, 120);
    grey_text(c, left - 6 - Canvas::text_width(label), py - 3, label);
  }
  if (x)
    for (auto& [v, label] : x->ticks()) {
      const int64_t px = std::lround(x->pixel(v));
      if (px < left || px > right) continue;
      if (px > left && px < right) c.rect(px, top + 1, px + 1, bottom, 236, 236, 236);
      c.rect(px, bottom, px + 1, bottom + 4, 120, 120, 120);
      grey_text(c, px - Canvas::text_width(label) / 2, bottom + 7, label);
    }
  c.rect(left, top, right, top + 1, 120, 120, 120);
  c.rect(left, bottom, right + 1, bottom + 1, 120, 120, 120);
  c.rect(left, top, left + 1, bottom, 120, 120, 120);
  c.rect(right, top, right + 1, bottom, 120, 120, 120);
}

void draw_marker(Canvas& c, double x, double y, int style, double r, const Rgb& col) {
  switch (style % 4) {
    case 0: c.circle(x, y, r, true, col[0], col[1], col[2]); break;
    case 1: c.circle(x, y, r + 0.5, false, col[0], col[1], col[2]); break;
    case 2:
      for (double d = -r; d <= r; d += 0.5) {
        c.put(std::lround(x + d), std::lround(y + d), col[0], col[1], col[2]);
        c.put(std::lround(x + d), std::lround(y - d), col[0], col[1], col[2]);
      }
      break;
    default: {
      const int64_t R = std::lround(r), X = std::lround(x), Y = std::lround(y);
      c.rect(X - R, Y - R, X + R + 1, Y - R + 1, col[0], col[1], col[2]);
      c.rect(X - R, Y + R, X + R + 1, Y + R + 1, col[0], col[1], col[2]);
      c.rect(X - R, Y - R, X - R + 1, Y + R + 1, col[0], col[1], col[2]);
      c.rect(X + R, Y - R, X + R + 1, Y + R + 1, col[0], col[1], col[2]);
    }
  }
}

}  // namespace

// `label` in lines of at most `width` pixels, broken after '.' or '_' (a piece wider than that
// stays whole).
static std::vector<std::string> wrap_label(const std::string& label, int64_t width) {
  std::vector<std::string> pieces, lines;
  std::string cur;
  for (char ch : label) {
    cur += ch;
    if (ch == '.' || ch == '_') pieces.push_back(cur), cur.clear();
  }
  if (!cur.empty()) pieces.push_back(cur);
  std::string line;
  for (const auto& p : pieces) {
    if (!line.empty() && Canvas::text_width(line + p) > width) lines.push_back(line), line.clear();
    line += p;
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

Image bar_chart(const std::vector<Bar>& bars, const BarOptions& opt) {
  GAN_CHECK(opt.width >= 200 && opt.height >= 120, "bar_chart: image " << opt.width << "x" << opt.height << " too small");
  GAN_CHECK(!bars.empty(), "bar_chart: no bars");
  const int64_t left = 70, right = opt.width - 14, top = 40;
  const double slot = static_cast<double>(right - left) / static_cast<double>(bars.size());
  std::vector<std::vector<std::string>> labels;
  size_t lines = 1;
  for (const Bar& b : bars) {
    labels.push_back(opt.wrap_labels ? wrap_label(b.label, static_cast<int64_t>(slot) - 4) : std::vector<std::string>{b.label});
    lines = std::max(lines, labels.back().size());
  }
  const int64_t label_h = 10 * static_cast<int64_t>(lines) + 4;
  Canvas c(opt.width, opt.height);
  const int64_t bottom = opt.height - 24 - label_h;
  GAN_CHECK(bottom - top >= 40, "bar_chart: " << opt.height << " pixels leave no room for bars under labels " << label_h
                                              << " pixels tall");
  double vmin = INFINITY, vmax = -INFINITY;
  for (const Bar& b : bars) {
    if (!std::isfinite(b.value) || (opt.log_y && b.value <= 0)) continue;
    vmin = std::min(vmin, b.value);
    vmax = std::max(vmax, b.value);
  }
  if (!opt.log_y && std::isfinite(vmin)) vmin = std::min(vmin, 0.0), vmax = std::max(vmax, 0.0);
  Axis y = Axis::fit(vmin, vmax, opt.log_y, false);
  if (!opt.log_y) {  // round ends
    auto t = nice_ticks(y.lo, y.hi);
    const double step = t.size() > 1 ? t[1] - t[0] : 1;
    y.lo = std::floor(y.lo / step + 1e-9) * step;
    y.hi = std::ceil(y.hi / step - 1e-9) * step;
    if (y.hi == y.lo) y.hi = y.lo + 1;
  }
  y.p0 = static_cast<double>(bottom);
  y.p1 = static_cast<double>(top);
  draw_frame(c, left, top, right, bottom, y, nullptr);
  const double base = opt.log_y ? std::pow(10.0, y.lo) : 0.0;
  int64_t every = opt.label_every;
  if (every <= 0) {
    int64_t widest = 0;
    for (const auto& l : labels)
      for (const auto& line : l) widest = std::max(widest, Canvas::text_width(line));
    every = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(static_cast<double>(widest + 6) / slot)));
  }
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double x0 = left + slot * static_cast<double>(i) + std::max(1.0, slot * 0.12), x1 = left + slot * static_cast<double>(i + 1) - std::max(1.0, slot * 0.12);
    if (std::isfinite(b.value) && !(opt.log_y && b.value <= 0)) {
      const double p = std::clamp(y.pixel(b.value), static_cast<double>(top), static_cast<double>(bottom));
      const double q = std::clamp(y.pixel(base), static_cast<double>(top), static_cast<double>(bottom));
      c.rect(std::lround(x0), std::lround(std::min(p, q)), std::max(std::lround(x1), std::lround(x0) + 1),
             std::lround(std::max(p, q)) + 1, b.colour[0], b.colour[1], b.colour[2]);
    }
    if (static_cast<int64_t>(i) % every != 0 || b.label.empty()) continue;
    const int64_t cx = std::lround(x0 + (x1 - x0) / 2);
    for (size_t k = 0; k < labels[i].size(); ++k)
      grey_text(c, cx - Canvas::text_width(labels[i][k]) / 2, bottom + 6 + 10 * static_cast<int64_t>(k), labels[i][k]);
  }
  grey_text(c, left, 8, opt.title, 0);
  if (!opt.y_label.empty()) grey_text(c, left, 24, opt.y_label, 90);
  grey_text(c, (left + right - Canvas::text_width(opt.x_label)) / 2, opt.height - 16, opt.x_label);
  int64_t x = right;
  for (auto it = opt.legend.rbegin(); it != opt.legend.rend(); ++it) {
    x -= Canvas::text_width(it->first) + 6;
    grey_text(c, x, 24, it->first);
    x -= 14;
    c.rect(x, 25, x + 10, 32, it->second[0], it->second[1], it->second[2]);
    x -= 12;
  }
  return c.img;
}

Image scatter_plot(const std::vector<ScatterPoint>& points, const ScatterOptions& opt) {
  GAN_CHECK(opt.width >= 300 && opt.height >= 200, "scatter_plot: image " << opt.width << "x" << opt.height << " too small");
  int64_t legend_w = 0;
  for (const auto& n : opt.categories) legend_w = std::max(legend_w, Canvas::text_width(n) + 30);
  for (const auto& n : opt.styles) legend_w = std::max(legend_w, Canvas::text_width(n) + 30);
  Canvas c(opt.width, opt.height);
  const int64_t left = 60, right = opt.width - 16 - legend_w, top = 30, bottom = opt.height - 36;
  GAN_CHECK(right - left >= 100, "scatter_plot: a legend " << legend_w << " pixels wide leaves no room in " << opt.width);
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& p : points) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    xmin = std::min(xmin, p.x), xmax = std::max(xmax, p.x), ymin = std::min(ymin, p.y), ymax = std::max(ymax, p.y);
  }
  Axis x = Axis::fit(xmin, xmax, false, true), y = Axis::fit(ymin, ymax, false, true);
  x.p0 = static_cast<double>(left);
  x.p1 = static_cast<double>(right);
  y.p0 = static_cast<double>(bottom);
  y.p1 = static_cast<double>(top);
  draw_frame(c, left, top, right, bottom, y, &x);
  // Filled markers first, outlines over them, so that neither hides the other entirely.
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& p : points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y) || ((p.style % 4 == 0) != (pass == 0))) continue;
      const Rgb col = p.category < 0 ? Rgb{150, 150, 150} : category_colour(static_cast<size_t>(p.category));
      draw_marker(c, x.pixel(p.x), y.pixel(p.y), p.style, opt.radius, col);
    }
  grey_text(c, left, 10, opt.title, 0);
  grey_text(c, (left + right - Canvas::text_width(opt.x_label)) / 2, opt.height - 16, opt.x_label);
  if (!opt.y_label.empty()) grey_text(c, left + 5, top + 5, opt.y_label, 90);
  int64_t ly = top + 2;
  const int64_t lx = right + 12;
  for (size_t i = 0; i < opt.categories.size(); ++i, ly += 14) {
    const Rgb col = category_colour(i);
    c.rect(lx, ly, lx + 12, ly + 9, col[0], col[1], col[2]);
    grey_text(c, lx + 18, ly + 1, opt.categories[i]);
  }
  ly += 10;
  for (size_t i = 0; i < opt.styles.size(); ++i, ly += 14) {
    draw_marker(c, static_cast<double>(lx + 6), static_cast<double>(ly + 4), static_cast<int>(i), opt.radius, {60, 60, 60});
    grey_text(c, lx + 18, ly + 1, opt.styles[i]);
  }
  return c.img;
}

Histogram make_histogram(const std::vector<double>& values, int64_t bins, double lo, double hi) {
  GAN_CHECK(bins >= 1, "make_histogram: bins must be positive, got " << bins);
  if (!(hi > lo)) hi = lo + 1e-30 + std::abs(lo) * 1e-6;
  Histogram h;
  h.counts.assign(static_cast<size_t>(bins), 0.0);
  for (int64_t i = 0; i <= bins; ++i) h.edges.push_back(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(bins));
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    const int64_t b = std::clamp(static_cast<int64_t>(std::floor((v - lo) / (hi - lo) * static_cast<double>(bins))), int64_t{0}, bins - 1);
    h.counts[static_cast<size_t>(b)] += 1;
  }
  return h;
}

Image histogram_grid(const std::vector<HistogramPanel>& panels, const HistogramGridOptions& opt) {
  GAN_CHECK(!panels.empty(), "histogram_grid: no panels");
  GAN_CHECK(opt.columns >= 1 && opt.panel_width >= 120 && opt.panel_height >= 80,
            "histogram_grid: " << opt.columns << " columns of " << opt.panel_width << "x" << opt.panel_height
                               << " panels (at least 1 of 120x80)");
  const int64_t rows = (static_cast<int64_t>(panels.size()) + opt.columns - 1) / opt.columns, head = opt.title.empty() ? 4 : 26;
  Canvas c(opt.columns * opt.panel_width, head + rows * opt.panel_height);
  grey_text(c, 8, 8, opt.title, 0);
  for (size_t i = 0; i < panels.size(); ++i) {
    const HistogramPanel& p = panels[i];
    GAN_CHECK(p.hist.edges.size() == p.hist.counts.size() + 1 && !p.hist.counts.empty(),
              "histogram_grid: panel '" << p.title << "' has " << p.hist.counts.size() << " counts and "
                                        << p.hist.edges.size() << " edges");
    const int64_t ox = static_cast<int64_t>(i) % opt.columns * opt.panel_width,
                  oy = head + static_cast<int64_t>(i) / opt.columns * opt.panel_height;
    const int64_t left = ox + 10, right = ox + opt.panel_width - 10, top = oy + (p.note.empty() ? 18 : 30),
                  bottom = oy + opt.panel_height - 18;
    grey_text(c, left, oy + 4, p.title, 0);
    if (!p.note.empty()) grey_text(c, left, oy + 16, p.note, 100);
    double peak = 0;
    for (double v : p.hist.counts) peak = std::max(peak, opt.log_counts ? std::log1p(v) : v);
    if (peak <= 0) peak = 1;
    const double lo = p.hist.edges.front(), hi = p.hist.edges.back();
    auto px = [&](double v) { return left + (v - lo) / (hi - lo) * static_cast<double>(right - left); };
    for (size_t b = 0; b < p.hist.counts.size(); ++b) {
      const double h = (opt.log_counts ? std::log1p(p.hist.counts[b]) : p.hist.counts[b]) / peak;
      const int64_t x0 = std::lround(px(p.hist.edges[b])), x1 = std::max(x0 + 1, std::lround(px(p.hist.edges[b + 1])));
      c.rect(x0, std::lround(bottom - h * static_cast<double>(bottom - top)), x1, bottom, p.colour[0], p.colour[1], p.colour[2]);
    }
    c.rect(left, bottom, right, bottom + 1, 120, 120, 120);
    if (lo < 0 && hi > 0) {  // zero marked
      const int64_t z = std::lround(px(0));
      c.rect(z, top, z + 1, bottom, 200, 60, 60);
    }
    grey_text(c, left, bottom + 4, num(lo));
    const std::string r = num(hi);
    grey_text(c, right - Canvas::text_width(r), bottom + 4, r);
  }
  return c.img;
}

Image heat_map(const std::vector<double>& values, int64_t height, int64_t width, double vmin, double vmax, int64_t scale) {
  GAN_CHECK(height > 0 && width > 0 && static_cast<int64_t>(values.size()) == height * width && scale >= 1,
            "heat_map: " << values.size() << " values for " << height << "x" << width << " (scale " << scale << ")");
  Image img;
  img.width = width * scale;
  img.height = height * scale;
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(img.width * img.height * 3));
  const double span = vmax > vmin ? vmax - vmin : 1;
  for (int64_t y = 0; y < img.height; ++y)
    for (int64_t x = 0; x < img.width; ++x) {
      const Rgb c = colour_map((values[static_cast<size_t>((y / scale) * width + x / scale)] - vmin) / span);
      std::copy(c.begin(), c.end(), img.pixels.begin() + (y * img.width + x) * 3);
    }
  return img;
}

Image colour_bar(double vmin, double vmax, int64_t height, const std::string& label) {
  GAN_CHECK(height >= 60, "colour_bar: " << height << " pixels is too short (at least 60)");
  const int64_t bar_w = 14, top = 22, bottom = height - 8;
  Axis a = Axis::fit(vmin, vmax, false, false);
  a.p0 = static_cast<double>(bottom);
  a.p1 = static_cast<double>(top);
  int64_t label_w = 0;
  for (auto& [v, l] : a.ticks()) label_w = std::max(label_w, Canvas::text_width(l));
  Canvas c(std::max<int64_t>(bar_w + 12 + label_w, Canvas::text_width(label) + 8), height);
  for (int64_t y = top; y <= bottom; ++y) {
    const Rgb col = colour_map(static_cast<double>(bottom - y) / static_cast<double>(bottom - top));
    c.rect(4, y, 4 + bar_w, y + 1, col[0], col[1], col[2]);
  }
  for (auto& [v, l] : a.ticks()) {
    const int64_t y = std::lround(a.pixel(v));
    if (y < top - 1 || y > bottom + 1) continue;
    c.rect(4 + bar_w, y, 8 + bar_w, y + 1, 60, 60, 60);
    grey_text(c, 10 + bar_w, y - 3, l);
  }
  grey_text(c, 2, 6, label);
  return c.img;
}

Image title_band(const std::string& title, int64_t width, int64_t height, int scale) {
  Canvas c(width, height);
  c.text(std::max<int64_t>(4, (width - Canvas::text_width(title, scale)) / 2), (height - 7 * scale) / 2, title, 0, 0, 0, scale);
  return c.img;
}

Image place_side_by_side(const std::vector<Image>& images, int64_t gap) {
  GAN_CHECK(!images.empty(), "place_side_by_side: no images");
  int64_t w = 0, h = 0;
  for (const auto& im : images) w += im.width + gap, h = std::max(h, im.height);
  Canvas c(w - gap, h);
  int64_t x = 0;
  for (const auto& im : images) {
    c.blit(im, x, 0);
    x += im.width + gap;
  }
  return c.img;
}

}  // namespace gan::io
