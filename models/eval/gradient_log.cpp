#include "models/eval/gradient_log.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/io/file_util.h"
#include "engine/ops/ops.h"

namespace gan::models::eval {

namespace {

constexpr const char* kNormsHeader = "step,network,parameter,norm";
constexpr const char* kHistHeader = "step,network,parameter,bin_lo,bin_hi,count";

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
  return cells;
}

void append(const std::string& path, const std::string& rows) { io::append_file(path, rows); }

// Keeps the header and the rows whose first cell (the step) is <= step; a missing file starts
// afresh with the header.
void keep_rows_until(const std::string& path, const std::string& header, int64_t step) {
  std::string kept = header + "\n";
  std::ifstream in(path);
  std::string line;
  if (in && std::getline(in, line))
    while (std::getline(in, line))
      if (!line.empty() && std::atoll(line.c_str()) <= step) kept += line + "\n";
  io::write_file_atomic(path, kept);
}

std::vector<std::vector<std::string>> read_rows(const std::string& path, const std::string& header, size_t cells) {
  GAN_CHECK(io::file_exists(path), path << ": no such file");
  std::ifstream in(path);
  std::string line;
  GAN_CHECK(std::getline(in, line) && line == header,
            path << ": expected the header '" << header << "', found '" << line << "'");
  std::vector<std::vector<std::string>> rows;
  for (int64_t n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto c = split(line);
    GAN_CHECK(c.size() == cells, path << ":" << n << ": expected " << cells << " values, found " << c.size());
    rows.push_back(std::move(c));
  }
  return rows;
}

}  // namespace

std::vector<NamedParameter> phase_parameters(Trainer& t, Phase phase) {
  std::set<std::string> nets;
  for (const OptimizerGroup& g : t.recipe().optimizer_groups())
    if (g.phase == phase) nets.insert(g.networks.begin(), g.networks.end());
  std::vector<NamedParameter> out;
  for (auto& [name, m] : t.recipe().networks())
    if (nets.count(name))
      for (auto& [pn, p] : m->named_parameters()) out.push_back({name, pn, p});
  return out;
}

std::vector<double> gradient_norms(const std::vector<Tensor>& params) {
  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  std::vector<size_t> where;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor g = params[i].grad();
    if (!g.defined()) continue;
    parts.push_back(sum(square(g.detach())).reshape({1}));
    where.push_back(i);
  }
  std::vector<double> norms(params.size(), NAN);
  if (parts.empty()) return norms;
  const std::vector<double> sq = cat(parts, 0).to_double_vector();  // the one device read
  for (size_t k = 0; k < where.size(); ++k) norms[where[k]] = std::sqrt(sq[k]);
  return norms;
}

io::Histogram gradient_histogram(const Tensor& grad) {
  const std::vector<double> v = grad.to_double_vector();
  double m = 0;
  for (double x : v)
    if (std::isfinite(x)) m = std::max(m, std::abs(x));
  if (m == 0) m = 1e-30;  // an all-zero gradient: one spike at 0
  return io::make_histogram(v, kGradientHistogramBins, -m, m);
}

std::string gradient_histogram_header() { return kHistHeader; }

std::string gradient_histogram_rows(int64_t step, const std::string& network, const std::string& parameter,
                                    const io::Histogram& h) {
  std::string rows;
  for (size_t b = 0; b < h.counts.size(); ++b)
    rows += std::to_string(step) + "," + network + "," + parameter + "," + number(h.edges[b]) + "," +
            number(h.edges[b + 1]) + "," + std::to_string(static_cast<int64_t>(h.counts[b])) + "\n";
  return rows;
}

GradientLog::GradientLog(Trainer& trainer, std::string dir)
    : t_(trainer), dir_(std::move(dir)), hist_steps_(trainer.config().grad_hist_steps) {
  const int64_t total = t_.total_steps();
  for (int64_t s : hist_steps_)
    GAN_CHECK(s >= 1 && s <= total, "--grad-hist-steps " << s << ": outside the run's steps 1.." << total);
  hooks_.before_optimizer_step = [this](const StepPoint& at, const Tensor&) { observe(at); };
  hooks_.observes = [this](int64_t step) { return logs_step(step); };
}

bool GradientLog::logs_step(int64_t step) const {
  return step % t_.config().log_every == 0 || step == t_.total_steps() ||
         std::find(hist_steps_.begin(), hist_steps_.end(), step) != hist_steps_.end();
}

void GradientLog::start() {
  io::write_file_atomic(norms_path(), std::string(kNormsHeader) + "\n");
  io::write_file_atomic(histograms_path(), std::string(kHistHeader) + "\n");
}

void GradientLog::keep_until(int64_t step) {
  keep_rows_until(norms_path(), kNormsHeader, step);
  keep_rows_until(histograms_path(), kHistHeader, step);
}

// Called after each phase's backward. The step being taken is step() + 1 (step() counts the
// completed ones). The critic's rows wait for the generator phase so that a step's rows are
// written together, in the recipe's network order.
void GradientLog::observe(const StepPoint& at) {
  const int64_t step = t_.step() + 1, total = t_.total_steps();
  const bool norms = step % t_.config().log_every == 0 || step == total;
  const bool hist = std::find(hist_steps_.begin(), hist_steps_.end(), step) != hist_steps_.end();
  if (!norms && !hist) return;
  if (at.phase == Phase::Critic && at.critic_index != at.critic_steps - 1) return;  // only the last critic step's
  const std::vector<NamedParameter> params = phase_parameters(t_, at.phase);
  std::string hist_rows;
  if (norms) {
    std::vector<Tensor> ts;
    for (const auto& p : params) ts.push_back(p.param);
    const std::vector<double> n = gradient_norms(ts);
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i].param.grad().defined())
        pending_[params[i].network] +=
            std::to_string(step) + "," + params[i].network + "," + params[i].name + "," + number(n[i]) + "\n";
  }
  if (hist)
    for (const auto& p : params) {
      Tensor g = p.param.grad();
      if (!g.defined()) continue;
      hist_rows += gradient_histogram_rows(step, p.network, p.name, gradient_histogram(g));
    }
  if (!hist_rows.empty()) append(histograms_path(), hist_rows);
  if (at.phase != Phase::Generator || pending_.empty()) return;
  std::string rows;
  for (auto& [name, m] : t_.recipe().networks())
    if (auto it = pending_.find(name); it != pending_.end()) rows += it->second;
  pending_.clear();
  append(norms_path(), rows);
}

GradientNorms read_gradient_norms(const std::string& path) {
  GradientNorms g;
  for (const auto& c : read_rows(path, kNormsHeader, 4)) {
    const std::string &net = c[1], &par = c[2];
    if (!g.parameters.count(net)) g.networks.push_back(net);
    auto& params = g.parameters[net];
    if (std::find(params.begin(), params.end(), par) == params.end()) params.push_back(par);
    auto& s = g.series[net][par];
    s.first.push_back(std::atof(c[0].c_str()));
    s.second.push_back(std::atof(c[3].c_str()));
  }
  return g;
}

std::vector<RecordedHistogram> read_gradient_histograms(const std::string& path) {
  std::vector<RecordedHistogram> out;
  for (const auto& c : read_rows(path, kHistHeader, 6)) {
    const int64_t step = std::atoll(c[0].c_str());
    if (out.empty() || out.back().step != step || out.back().network != c[1] || out.back().parameter != c[2]) {
      out.push_back({step, c[1], c[2], {}});
      out.back().hist.edges.push_back(std::atof(c[3].c_str()));
    }
    out.back().hist.edges.push_back(std::atof(c[4].c_str()));
    out.back().hist.counts.push_back(std::atof(c[5].c_str()));
  }
  return out;
}

}  // namespace gan::models::eval
