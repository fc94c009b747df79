#include "models/toy_plot.h"

#include <algorithm>
#include <cmath>

#include "engine/io/plot.h"
#include "engine/ops/ops.h"

namespace gan::models {

std::vector<float> critic_grid(nn::Module& critic, double extent, int64_t n) {
  GAN_CHECK(n > 0 && extent > 0, "critic_grid: needs n > 0 and extent > 0, got " << n << ", " << extent);
  std::vector<float> xy(static_cast<size_t>(2 * n * n));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) {
      xy[2 * (r * n + c)] = static_cast<float>(-extent + (c + 0.5) * 2 * extent / n);
      xy[2 * (r * n + c) + 1] = static_cast<float>(extent - (r + 0.5) * 2 * extent / n);
    }
  NoGradGuard no_grad;
  bool was_training = critic.is_training();
  critic.eval();
  Tensor v = critic(Tensor::from_vector(xy, {n * n, 2}, critic.device()));
  critic.train(was_training);
  return v.to_float_vector();
}

namespace {

// io::Canvas with colours as RGB triples and rectangles as (x, y, width, height); text at twice
// stb_easy_font's size.
struct Canvas : io::Canvas {
  using io::Canvas::Canvas;
  void set(int64_t x, int64_t y, const uint8_t* c) { put(x, y, c[0], c[1], c[2]); }
  void rect(int64_t x, int64_t y, int64_t w, int64_t h, const uint8_t* c) {
    io::Canvas::rect(x, y, x + w, y + h, c[0], c[1], c[2]);
  }
  void text(int64_t x, int64_t y, const std::string& s, const uint8_t* c) { io::Canvas::text(x, y, s, c[0], c[1], c[2], 2); }
};

int64_t text_width(const std::string& s) { return io::Canvas::text_width(s, 2); }

// Pale blue (low) -> pale yellow (high): light enough that black and red points stay visible.
void heat_color(double t, uint8_t* rgb) {
  t = std::clamp(t, 0.0, 1.0);
  const double lo[3] = {150, 185, 235}, mid[3] = {240, 240, 240}, hi[3] = {250, 215, 120};
  for (int k = 0; k < 3; ++k) {
    double v = t < 0.5 ? lo[k] + (mid[k] - lo[k]) * (t / 0.5) : mid[k] + (hi[k] - mid[k]) * ((t - 0.5) / 0.5);
    rgb[k] = static_cast<uint8_t>(std::lround(v));
  }
}

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

io::Image render_toy_plot(const ToyPlot& p, int64_t size) {
  GAN_CHECK(size >= 200, "render_toy_plot: image size " << size << " is too small");
  GAN_CHECK(p.extent > 0, "render_toy_plot: extent must be positive");
  GAN_CHECK(p.critic.empty() || static_cast<int64_t>(p.critic.size()) == p.grid_n * p.grid_n,
            "render_toy_plot: critic grid has " << p.critic.size() << " values for a " << p.grid_n << "^2 grid");
  // The title's lines, then the legend, above the plot.
  const int64_t lines = 1 + static_cast<int64_t>(std::count(p.title.begin(), p.title.end(), '\n'));
  const int64_t legend_y = 24 + 26 * (lines - 1), left = 50, top = legend_y + 20, bottom = 36, right = 14;
  const int64_t area = size - std::max(left + right, top + bottom);
  Canvas cv(size, size);
  const uint8_t black[3] = {0, 0, 0}, red[3] = {215, 25, 28}, grid[3] = {205, 205, 205}, dark[3] = {60, 60, 60};
  const double e = p.extent;
  auto to_px = [&](double x, double y, int64_t& px, int64_t& py) {
    px = left + static_cast<int64_t>(std::floor((x + e) / (2 * e) * area));
    py = top + static_cast<int64_t>(std::floor((e - y) / (2 * e) * area));
  };

  // Heat map: bilinear interpolation between cell centres, scaled to the grid's own range.
  double vmin = 0, vmax = 1;
  if (!p.critic.empty()) {
    auto [mn, mx] = std::minmax_element(p.critic.begin(), p.critic.end());
    vmin = *mn;
    vmax = *mx;
  }
  for (int64_t py = 0; py < area; ++py)
    for (int64_t px = 0; px < area; ++px) {
      uint8_t rgb[3] = {255, 255, 255};
      if (!p.critic.empty()) {
        const int64_t n = p.grid_n;
        double gx = (px + 0.5) / area * n - 0.5, gy = (py + 0.5) / area * n - 0.5;
        gx = std::clamp(gx, 0.0, n - 1.0);
        gy = std::clamp(gy, 0.0, n - 1.0);
        int64_t x0 = std::min<int64_t>(static_cast<int64_t>(gx), n - 1), y0 = std::min<int64_t>(static_cast<int64_t>(gy), n - 1);
        int64_t x1 = std::min(x0 + 1, n - 1), y1 = std::min(y0 + 1, n - 1);
        double fx = gx - x0, fy = gy - y0;
        auto at = [&](int64_t r, int64_t c) { return static_cast<double>(p.critic[r * n + c]); };
        double v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
        heat_color(vmax > vmin ? (v - vmin) / (vmax - vmin) : 0.5, rgb);
      }
      cv.set(left + px, top + py, rgb);
    }

  // Gridlines and ticks at integers (every 2 beyond +-4).
  const double step = e > 4 ? 2 : 1;
  for (double t = -std::floor(e / step) * step; t <= e + 1e-9; t += step) {
    int64_t px, py;
    to_px(t, t, px, py);
    for (int64_t k = 0; k < area; ++k) {
      cv.set(px, top + k, grid);
      cv.set(left + k, py, grid);
    }
    cv.rect(px, top + area, 1, 5, black);
    cv.rect(left - 5, py, 5, 1, black);
    std::string s = tick_label(t);
    cv.text(px - text_width(s) / 2 + 1, top + area + 9, s, black);
    cv.text(left - 8 - text_width(s), py - 5, s, black);
  }

  // Real points first, generated ones over them.
  auto dots = [&](const std::vector<double>& xy, const uint8_t* rgb) {
    for (size_t i = 0; i + 1 < xy.size(); i += 2) {
      if (!std::isfinite(xy[i]) || !std::isfinite(xy[i + 1])) continue;
      if (std::abs(xy[i]) > e || std::abs(xy[i + 1]) > e) continue;
      int64_t px, py;
      to_px(xy[i], xy[i + 1], px, py);
      cv.rect(px - 1, py - 1, 2, 2, rgb);
    }
  };
  dots(p.real, black);
  dots(p.fake, red);

  // Border.
  cv.rect(left - 1, top - 1, area + 2, 1, black);
  cv.rect(left - 1, top + area, area + 2, 1, black);
  cv.rect(left - 1, top - 1, 1, area + 2, black);
  cv.rect(left + area, top - 1, 1, area + 2, black);

  // Title on the first line, legend on the second.
  cv.text(left, 6, p.title, black);
  int64_t x = left, y = legend_y;
  cv.rect(x, y + 1, 8, 8, black);
  cv.text(x + 12, y, "real", dark);
  x += 12 + text_width("real") + 16;
  cv.rect(x, y + 1, 8, 8, red);
  cv.text(x + 12, y, "generated", dark);
  x += 12 + text_width("generated") + 16;
  if (!p.critic.empty()) {
    cv.text(x, y, "critic", dark);
    x += text_width("critic") + 6;
    for (int64_t k = 0; k < 80; ++k) {
      uint8_t rgb[3];
      heat_color(k / 79.0, rgb);
      cv.rect(x + k, y, 1, 10, rgb);
    }
    cv.text(x + 86, y, tick_label(std::round(vmin * 100) / 100) + " to " + tick_label(std::round(vmax * 100) / 100),
            dark);
  }
  return cv.img;
}

}  // namespace gan::models
