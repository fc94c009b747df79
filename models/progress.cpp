#include "models/progress.h"

#include <cmath>
#include <cstdio>

namespace gan::models {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  long long t = std::llround(s);
  char buf[32];
  if (t < 60) std::snprintf(buf, sizeof buf, "%llds", t);
  else if (t < 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

// " W 0.412" and " modes 8/8 hq 91%" where the run has them.
static std::string extras(const LogRecord& r) {
  std::string s;
  char buf[96];
  if (r.wasserstein) {
    std::snprintf(buf, sizeof buf, " W %.3f", *r.wasserstein);
    s += buf;
  }
  if (r.coverage) {
    std::snprintf(buf, sizeof buf, " modes %lld/%lld hq %.0f%% rKL %.3f", static_cast<long long>(r.coverage->modes_covered),
                  static_cast<long long>(r.coverage->modes), 100 * r.coverage->high_quality_share, r.coverage->reverse_kl);
    s += buf;
  }
  return s;
}

std::string progress_bar(const LogRecord& r, int width) {
  double frac = r.total_steps > 0 ? static_cast<double>(r.step) / static_cast<double>(r.total_steps) : 0;
  int filled = static_cast<int>(frac * width);
  std::string bar = "[" + std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(width - filled), '.') + "]";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s %lld/%lld %3d%% | %.1f it/s %.0f img/s | ETA %s | loss_d %.3f loss_g %.3f "
                "D(x) %.2f D(G(z)) %.2f",
                bar.c_str(), static_cast<long long>(r.step), static_cast<long long>(r.total_steps),
                static_cast<int>(frac * 100), r.steps_per_s, r.images_per_s, format_duration(r.eta_s).c_str(),
                r.loss_d, r.loss_g, r.d_x, r.d_g_z);
  return buf + extras(r);
}

std::string progress_line(const LogRecord& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "step %lld/%lld epoch %lld loss_d %.4f loss_g %.4f D(x) %.3f D(G(z)) %.3f "
                "%.0f img/s ETA %s",
                static_cast<long long>(r.step), static_cast<long long>(r.total_steps),
                static_cast<long long>(r.epoch), r.loss_d, r.loss_g, r.d_x, r.d_g_z, r.images_per_s,
                format_duration(r.eta_s).c_str());
  return buf + extras(r);
}

}  // namespace gan::models
