// Toy 2-D data and the mode-coverage protocol: mode centres, weights and spreads of the
// samplers against their definitions; coverage, high-quality share and reverse KL on constructed
// point sets; the scatter plot's geometry; a short toy training run through the on-disk run
// (metrics columns, plot, checkpoint, .npy points) that stays finite.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/io/image.h"
#include "engine/io/npy.h"
#include "models/run.h"
#include "models/sampling.h"
#include "models/toy.h"
#include "models/toy_plot.h"
#include "models/config.h"
#include "models/trainer.h"
#include "tests/test_helpers.h"

using namespace gan;
namespace fs = std::filesystem;

namespace {

// Per-mode count, mean and std (pooled over both coordinates) of points assigned to their nearest mode.
struct ModeStats {
  std::vector<int64_t> count;
  std::vector<double> mx, my, var;
};

ModeStats stats(const std::vector<double>& xy, const models::ToyData& d) {
  const size_t k = d.modes.size();
  ModeStats s{std::vector<int64_t>(k, 0), std::vector<double>(k, 0), std::vector<double>(k, 0), std::vector<double>(k, 0)};
  std::vector<int64_t> owner;
  for (size_t i = 0; i < xy.size(); i += 2) {
    size_t best = 0;
    double bd = 1e300;
    for (size_t m = 0; m < k; ++m) {
      double dx = xy[i] - d.modes[m].first, dy = xy[i + 1] - d.modes[m].second;
      if (dx * dx + dy * dy < bd) bd = dx * dx + dy * dy, best = m;
    }
    owner.push_back(static_cast<int64_t>(best));
    ++s.count[best];
    s.mx[best] += xy[i];
    s.my[best] += xy[i + 1];
  }
  for (size_t m = 0; m < k; ++m) s.mx[m] /= s.count[m], s.my[m] /= s.count[m];
  for (size_t i = 0; i < xy.size(); i += 2) {
    int64_t m = owner[i / 2];
    s.var[m] += (xy[i] - s.mx[m]) * (xy[i] - s.mx[m]) + (xy[i + 1] - s.my[m]) * (xy[i + 1] - s.my[m]);
  }
  for (size_t m = 0; m < k; ++m) s.var[m] /= 2.0 * (s.count[m] - 1);
  return s;
}

}  // namespace

TEST(Toy, GaussianMixturesHaveTheirCentresWeightsAndSpreads) {
  struct Case {
    std::string name;
    size_t modes;
    double sigma;
  };
  for (const Case& c : {Case{"gaussians8", 8, 0.02}, Case{"gaussians25", 25, 0.05}}) {
    SCOPED_TRACE(c.name);
    models::ToyData d = models::toy_data(c.name);
    ASSERT_EQ(d.modes.size(), c.modes);
    EXPECT_DOUBLE_EQ(d.sigma, c.sigma);
    // The definitions: a radius-2 circle at multiples of 45 degrees, or the {-4..4}^2 grid of step 2.
    for (size_t m = 0; m < d.modes.size(); ++m) {
      auto [x, y] = d.modes[m];
      if (c.modes == 8) {
        EXPECT_NEAR(std::hypot(x, y), 2.0, 1e-12);
        double a = std::atan2(y, x) / (M_PI / 4);
        EXPECT_NEAR(a, std::round(a), 1e-12);
      } else {
        EXPECT_NEAR(x / 2, std::round(x / 2), 1e-12);
        EXPECT_LE(std::abs(x), 4.0);
        EXPECT_LE(std::abs(y), 4.0);
      }
    }
    const int64_t n = 25000;
    Generator g(123);
    std::vector<double> xy = models::sample_toy(d, n, g).to_double_vector();
    ModeStats s = stats(xy, d);
    const double k = static_cast<double>(c.modes), p = 1 / k;
    for (size_t m = 0; m < c.modes; ++m) {
      // Counts within 5 binomial standard deviations; centre within 5 standard errors; std within 6%.
      EXPECT_NEAR(static_cast<double>(s.count[m]), n * p, 5 * std::sqrt(n * p * (1 - p))) << "mode " << m;
      double se = c.sigma / std::sqrt(static_cast<double>(s.count[m]));
      EXPECT_NEAR(s.mx[m], d.modes[m].first, 5 * se) << "mode " << m;
      EXPECT_NEAR(s.my[m], d.modes[m].second, 5 * se) << "mode " << m;
      EXPECT_NEAR(std::sqrt(s.var[m]), c.sigma, 0.06 * c.sigma) << "mode " << m;
    }
    // Real data scores as the protocol expects: all modes, ~98.9% within 3 sigma in 2-D.
    models::Coverage cov = models::mode_coverage(xy, d);
    EXPECT_EQ(cov.modes_covered, static_cast<int64_t>(c.modes));
    EXPECT_NEAR(cov.high_quality_share, 1 - std::exp(-4.5), 0.004);
    EXPECT_LT(cov.reverse_kl, 0.01);
  }
}

TEST(Toy, SwissRollFollowsItsSpiral) {
  models::ToyData d = models::toy_data("swissroll");
  EXPECT_TRUE(d.modes.empty());
  Generator g(5);
  const int64_t n = 20000;
  std::vector<double> xy = models::sample_toy(d, n, g).to_double_vector();
  // Without noise a point is (t cos t, t sin t) / 7.5 with t ~ U[1.5 pi, 4.5 pi]: 7.5 |p| is t
  // up to noise of std 0.25, so its mean is 3 pi and its std (3 pi) / sqrt(12).
  double s = 0, s2 = 0, resid = 0;
  for (int64_t i = 0; i < n; ++i) {
    double x = 7.5 * xy[2 * i], y = 7.5 * xy[2 * i + 1];
    double t = std::hypot(x, y);
    s += t;
    s2 += t * t;
    // The point sits on the spiral: its radius is its angle up to whole turns (within 4 noise stds).
    double best = 1e9;
    for (int k = 0; k < 4; ++k) best = std::min(best, std::abs(t - (std::atan2(y, x) + 2 * M_PI * k)));
    resid += best > 1.0;
  }
  double mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
  EXPECT_NEAR(mean, 3 * M_PI, 0.1);
  EXPECT_NEAR(sd, 3 * M_PI / std::sqrt(12.0), 0.05);
  EXPECT_LT(resid / n, 0.01);
  EXPECT_THROW(models::mode_coverage(xy, d), Error);
  EXPECT_THROW(models::toy_data("gaussians9"), Error);
}

TEST(Toy, CoverageOnConstructedPoints) {
  models::ToyData d = models::toy_data("gaussians8");
  const double s = d.sigma;
  auto at = [&](int m, double dx, double dy) { return std::vector<double>{d.modes[m].first + dx, d.modes[m].second + dy}; };
  // 3 modes with 4 points each, slightly off-centre (inside 3 sigma).
  std::vector<double> pts;
  for (int m : {0, 3, 5})
    for (int j = 0; j < 4; ++j) {
      auto p = at(m, 0.5 * s * (j - 1.5), 0.7 * s);
      pts.insert(pts.end(), p.begin(), p.end());
    }
  models::Coverage c = models::mode_coverage(pts, d);
  EXPECT_EQ(c.modes, 8);
  EXPECT_EQ(c.modes_covered, 3);
  EXPECT_EQ(c.high_quality, 12);
  EXPECT_DOUBLE_EQ(c.high_quality_share, 1.0);
  EXPECT_NEAR(c.reverse_kl, std::log(8.0 / 3.0), 1e-12);
  EXPECT_EQ(c.histogram, (std::vector<int64_t>{4, 0, 0, 4, 0, 4, 0, 0}));

  // Unequal histogram 3:1 plus points outside 3 sigma (low quality; they do not count for modes).
  std::vector<double> q;
  for (auto p : {at(2, 0, 0), at(2, s, s), at(2, -2 * s, 0), at(6, 0, -2.9 * s), at(1, 3.1 * s, 0), at(4, 0, 5 * s)})
    q.insert(q.end(), p.begin(), p.end());
  q.insert(q.end(), {0.0, 0.0});  // the centre of the ring: far from every mode
  c = models::mode_coverage(q, d);
  EXPECT_EQ(c.modes_covered, 2);
  EXPECT_EQ(c.high_quality, 4);
  EXPECT_NEAR(c.high_quality_share, 4.0 / 7.0, 1e-12);
  EXPECT_NEAR(c.reverse_kl, 0.75 * std::log(0.75 * 8) + 0.25 * std::log(0.25 * 8), 1e-12);

  // Nothing near a mode: no coverage, reverse KL infinite; NaN points are low quality.
  c = models::mode_coverage(std::vector<double>{0.0, 0.0, NAN, 1.0}, d);
  EXPECT_EQ(c.modes_covered, 0);
  EXPECT_EQ(c.high_quality, 0);
  EXPECT_TRUE(std::isinf(c.reverse_kl));
}

TEST(Toy, ScatterPlotPutsPointsWhereTheyBelong) {
  models::ToyPlot p;
  p.extent = 2;
  p.real = {-1.0, 1.0};
  p.fake = {1.0, -1.0, 50.0, 50.0};  // the second is off the plot and skipped
  p.critic = {0.f, 1.f, 2.f, 3.f};
  p.grid_n = 2;
  p.title = "TEST";
  io::Image img = models::render_toy_plot(p, 400);
  EXPECT_EQ(img.channels, 3);
  // Plot area: left 50, top 44, side 400 - max(64, 80) = 320: (x, y) -> (50 + (x+2)/4*320, 44 + (2-y)/4*320).
  auto px = [&](double x, double y, int c) { return img.at(44 + static_cast<int64_t>((2 - y) / 4 * 320), 50 + static_cast<int64_t>((x + 2) / 4 * 320), c); };
  EXPECT_EQ(px(-1, 1, 0), 0);  // black real point
  EXPECT_EQ(px(-1, 1, 1), 0);
  EXPECT_GT(px(1, -1, 0), 200);  // red generated point
  EXPECT_LT(px(1, -1, 1), 60);
  // Heat map: low critic (top left cell, value 0) is bluish, high (bottom right, 3) yellowish.
  EXPECT_GT(px(-1.9, 1.9, 2), px(-1.9, 1.9, 0));
  EXPECT_GT(px(1.9, -1.9, 0), px(1.9, -1.9, 2));
}

TEST(Toy, ShortRunsStayFiniteAndReportCoverage) {
  fs::path dir = fs::temp_directory_path() / ("gan_toy_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  for (std::string loss : {"wgan-gp", "bce", "hinge", "lsgan", "wgan"}) {
    SCOPED_TRACE(loss);
    models::TrainConfig c;
    c.data = "gaussians8";
    c.loss = loss;
    models::apply_defaults(c, {"hidden"});
    c.model.g_hidden = c.model.d_hidden = {24, 24};
    c.batch = 64;
    c.steps = loss == "wgan-gp" ? 12 : 6;
    c.sample_every = 6;
    c.log_every = 3;
    c.checkpoint_every = 0;
    c.n_samples = 300;
    c.seed = 4;
    c.device = "cpu";
    std::string out = (dir / loss).string();
    models::RunResult r = models::run_training(c, out, {});
    EXPECT_EQ(r.last_step, c.steps);
    std::ifstream f(r.metrics_path);
    std::string header, line, last;
    std::getline(f, header);
    EXPECT_EQ(header, "step,epoch,loss_d,loss_g,d_x,d_g_z,images_per_s,wasserstein,gradient_penalty,grad_norm,"
                      "modes_covered,high_quality,reverse_kl");
    while (std::getline(f, line)) last = line;
    // The last row: step, finite losses, loss terms where the loss has them, coverage figures.
    std::vector<std::string> cells;
    std::stringstream ss(last);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    if (last.back() == ',') cells.push_back("");
    ASSERT_EQ(cells.size(), 13u) << last;
    EXPECT_EQ(std::stoll(cells[0]), c.steps);
    for (int k = 2; k < 6; ++k) EXPECT_TRUE(std::isfinite(std::stod(cells[k]))) << last;
    bool wgan_family = loss == "wgan" || loss == "wgan-gp";
    EXPECT_EQ(!cells[7].empty(), wgan_family) << last;
    EXPECT_EQ(!cells[8].empty(), loss == "wgan-gp") << last;
    int64_t covered = std::stoll(cells[10]);
    EXPECT_GE(covered, 0);
    EXPECT_LE(covered, 8);
    double hq = std::stod(cells[11]);
    EXPECT_GE(hq, 0.0);
    EXPECT_LE(hq, 1.0);

    io::Image img = io::load_image(r.last_sample);
    EXPECT_EQ(img.width, 600);
    EXPECT_EQ(img.height, 600);
    if (loss == "wgan-gp") {
      // The checkpoint samples as points: [N, 2] .npy, and the same generator again.
      models::LoadedGenerator g = models::load_generator(r.last_checkpoint, Device::cpu());
      EXPECT_EQ(g.data, "gaussians8");
      Tensor pts = models::sample_images(g, 50, 3);
      models::write_toy_points(pts, g.data, (dir / "pts.npy").string());
      Tensor back = io::load_npy((dir / "pts.npy").string());
      EXPECT_EQ(back.shape(), (Shape{50, 2}));
      EXPECT_LT(test::rel_error(back, pts), 1e-7);
    }
  }
  fs::remove_all(dir);
}
