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

// " loss_d 0.812 loss_g 1.934 D(x) 0.71 D(G(z)) 0.28" (`required`), or " W 0.412 modes 8/8 hq 91%
// rKL 0.010" where the run has them: the scalars with a short label, losses with one more digit.
static std::string values(const LogRecord& r, int digits, bool required) {
  std::string s;
  char buf[96];
  for (const auto& [spec, v] : r.values) {
    if (spec->short_label.empty() || spec->required != required) continue;
    const bool loss = spec->column.rfind("loss", 0) == 0;
    std::snprintf(buf, sizeof buf, " %s %.*f", spec->short_label.c_str(), loss ? digits + 1 : digits, v);
    s += buf;
  }
  if (r.coverage && !required) {
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
  std::snprintf(buf, sizeof buf, "%s %lld/%lld %3d%% | %.1f it/s %.0f img/s | ETA %s |", bar.c_str(),
                static_cast<long long>(r.step), static_cast<long long>(r.total_steps), static_cast<int>(frac * 100),
                r.steps_per_s, r.images_per_s, format_duration(r.eta_s).c_str());
  return buf + values(r, 2, true) + values(r, 2, false);
}

std::string progress_line(const LogRecord& r) {
  char head[96], tail[64];
  std::snprintf(head, sizeof head, "step %lld/%lld epoch %lld", static_cast<long long>(r.step),
                static_cast<long long>(r.total_steps), static_cast<long long>(r.epoch));
  std::snprintf(tail, sizeof tail, " %.0f img/s ETA %s", r.images_per_s, format_duration(r.eta_s).c_str());
  return head + values(r, 3, true) + tail + values(r, 3, false);
}

}  // namespace gan::models
