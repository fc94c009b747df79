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

namespace {

std::string num(double v) {
  char b[32];
  if (std::abs(v) >= 1e4 && std::abs(v) < 1e15 && v == std::floor(v)) std::snprintf(b, sizeof b, "%.0f", v);
  else if (v != 0 && (std::abs(v) >= 1e4 || std::abs(v) < 1e-2)) std::snprintf(b, sizeof b, "%.2e", v);
  else std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

}  // namespace

Image line_plot(const std::vector<Series>& series, const PlotOptions& opt) {
  GAN_CHECK(opt.width >= 200 && opt.height >= 100, "line_plot: image " << opt.width << "x" << opt.height << " too small");
  Canvas c(opt.width, opt.height);
  const int64_t left = 60, right = opt.width - 12, top = 22, bottom = opt.height - 22;
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : series) {
    GAN_CHECK(s.x.size() == s.y.size(), "line_plot: series '" << s.label << "' has " << s.x.size() << " x and "
                                                              << s.y.size() << " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]);
      ymax = std::max(ymax, s.y[i]);
    }
  }
  if (opt.fixed_y) {
    ymin = opt.y_min;
    ymax = opt.y_max;
  }
  bool empty = !std::isfinite(xmin);
  if (empty) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + 1, ymin -= 1;
  auto px = [&](double x) { return left + (x - xmin) / (xmax - xmin) * static_cast<double>(right - left); };
  auto py = [&](double y) { return bottom - (y - ymin) / (ymax - ymin) * static_cast<double>(bottom - top); };

  // Grid lines at quarters, then the frame.
  for (int k = 1; k < 4; ++k) {
    int64_t y = std::lround(top + k * (bottom - top) / 4.0);
    c.rect(left, y, right, y + 1, 225, 225, 225);
  }
  c.rect(left, top, right, top + 1, 120, 120, 120);
  c.rect(left, bottom, right, bottom + 1, 120, 120, 120);
  c.rect(left, top, left + 1, bottom, 120, 120, 120);
  c.rect(right - 1, top, right, bottom, 120, 120, 120);
  for (const auto& s : series) {
    bool have = false;
    double lx = 0, ly = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        have = false;
        continue;
      }
      double x = px(s.x[i]), y = py(std::clamp(s.y[i], ymin, ymax));
      if (have) c.line(lx, ly, x, y, s.r, s.g, s.b);
      else c.put(std::lround(x), std::lround(y), s.r, s.g, s.b);
      lx = x, ly = y, have = true;
    }
  }
  auto text = [&](int64_t x, int64_t y, const std::string& s, uint8_t shade = 40) { c.text(x, y, s, shade, shade, shade); };
  auto text_width = [](const std::string& s) { return Canvas::text_width(s); };
  text(left, 6, opt.title, 0);
  text(4, top - 4, num(ymax));
  text(4, bottom - 6, num(ymin));
  text(left, bottom + 6, num(xmin));
  std::string xr = num(xmax);
  text(right - text_width(xr), bottom + 6, xr);
  text((left + right - text_width(opt.x_label)) / 2, bottom + 6, opt.x_label);
  // Legend, right-aligned at the top.
  int64_t x = right;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    int64_t w = text_width(it->label);
    x -= w + 6;
    text(x, 6, it->label);
    x -= 14;
    c.rect(x, 8, x + 10, 12, it->r, it->g, it->b);
    x -= 10;
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

}  // namespace gan::io
