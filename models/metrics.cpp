#include "models/metrics.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/io/file_util.h"
#include "engine/io/plot.h"
#include "engine/ops/ops.h"

namespace gan::models {

namespace {

constexpr const char* kScoreColumns = "modes_covered,high_quality,reverse_kl";

std::string number(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

}  // namespace

Tensor StepScalars::get(const std::string& name) const {
  for (const auto& [n, t] : values)
    if (n == name) return t;
  return Tensor();
}

const Tensor& StepScalars::operator[](const std::string& name) const {
  for (const auto& [n, t] : values)
    if (n == name) return t;
  GAN_FAIL("step scalars: no '" << name << "'");
}

std::optional<double> LogRecord::value(const std::string& column) const {
  for (const auto& [spec, v] : values)
    if (spec->column == column) return v;
  return std::nullopt;
}

MetricsLog::MetricsLog(std::string path, std::vector<ScalarSpec> scalars, std::vector<CurvePanel> panels,
                       std::vector<std::string> eval_columns)
    : path_(std::move(path)), scalars_(std::move(scalars)), panels_(std::move(panels)),
      eval_columns_(std::move(eval_columns)) {
  panels_.insert(panels_.begin(), CurvePanel{"losses", {"loss_d", "loss_g"}, false});
}

std::string MetricsLog::header() const {
  std::string h = "step,epoch";
  for (const auto& s : scalars_)
    if (s.required) h += "," + s.column;
  h += ",images_per_s";
  for (const auto& s : scalars_)
    if (!s.required) h += "," + s.column;
  h += std::string(",") + kScoreColumns;
  for (const auto& c : eval_columns_) h += "," + c;
  return h;
}

void MetricsLog::start() {
  rows_.clear();
  io::write_file_atomic(path_, header() + "\n");
}

void MetricsLog::keep_until(int64_t step) {
  std::string kept = header() + "\n";
  rows_.clear();
  std::ifstream in(path_);
  std::string line;
  std::vector<std::string> columns;
  if (std::getline(in, line)) columns = split(line);
  while (std::getline(in, line)) {
    if (line.empty() || std::atoll(line.c_str()) > step) continue;
    kept += line + "\n";
    std::vector<std::string> cells = split(line);
    std::map<std::string, double> row;
    for (size_t i = 0; i < cells.size() && i < columns.size(); ++i)
      if (!cells[i].empty()) row[columns[i]] = std::atof(cells[i].c_str());
    rows_.push_back(row);
  }
  io::write_file_atomic(path_, kept);
}

LogRecord MetricsLog::summarize(const std::vector<StepScalars>& steps, int64_t last_step,
                                const std::string& checkpoint_note) const {
  LogRecord rec;
  rec.step = last_step;
  if (steps.empty()) return rec;
  // One transfer: every step's scalars, NaN where a step lacks one (left out of the means).
  const Tensor& like = steps[0]["loss_d"];
  const Tensor missing = Tensor::full({1}, NAN, like.dtype(), like.device());
  std::vector<Tensor> parts;
  for (const auto& s : steps)
    for (const auto& spec : scalars_) {
      Tensor t = s.get(spec.column);
      parts.push_back(t.defined() ? t.reshape({1}).to(like.dtype()) : missing);
    }
  const std::vector<double> v = cat(parts, 0).to_double_vector();
  const size_t k = scalars_.size();
  std::vector<double> sums(k, 0);
  std::vector<int64_t> counts(k, 0);
  for (size_t i = 0; i < steps.size(); ++i)
    for (size_t j = 0; j < k; ++j) {
      if (!steps[i].get(scalars_[j].column).defined()) continue;
      const double x = v[i * k + j];
      if (!std::isfinite(x))
        throw TrainingDiverged("training diverged: " + scalars_[j].label + " is " + std::to_string(x) + " at step " +
                               std::to_string(last_step - static_cast<int64_t>(steps.size() - 1 - i)) + "; " +
                               checkpoint_note + " (try a lower --lr)");
      sums[j] += x;
      ++counts[j];
    }
  for (size_t j = 0; j < k; ++j)
    if (counts[j] > 0) rec.values.emplace_back(&scalars_[j], sums[j] / static_cast<double>(counts[j]));
  return rec;
}

void MetricsLog::append(const LogRecord& r) {
  std::string row = std::to_string(r.step) + "," + std::to_string(r.epoch);
  auto cell = [&](const ScalarSpec& s) {
    auto v = r.value(s.column);
    row += "," + (v ? number("%.6g", *v) : std::string());
  };
  for (const auto& s : scalars_)
    if (s.required) cell(s);
  row += "," + number("%.1f", r.images_per_s);
  for (const auto& s : scalars_)
    if (!s.required) cell(s);
  if (r.coverage)
    row += "," + std::to_string(r.coverage->modes_covered) + "," + number("%.4f", r.coverage->high_quality_share) + "," +
           number("%.6g", r.coverage->reverse_kl);
  else
    row += ",,,";
  for (const auto& c : eval_columns_) {
    row += ",";
    for (const auto& [name, v] : r.eval)
      if (name == c) row += number("%.6g", v);
  }
  io::append_file(path_, row + "\n");
  std::map<std::string, double> kept{{"step", static_cast<double>(r.step)}};
  for (const auto& [spec, v] : r.values) kept[spec->column] = v;
  for (const auto& [name, v] : r.eval) kept[name] = v;
  rows_.push_back(kept);
}

io::Image MetricsLog::curves() const {
  static const uint8_t palette[][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}};
  std::vector<io::Image> images;
  size_t colour = 0;
  for (const auto& panel : panels_) {
    std::vector<io::Series> series;
    for (const auto& col : panel.columns) {
      const uint8_t* c = palette[colour++ % 4];
      std::string label = col;
      for (const auto& spec : scalars_)
        if (spec.column == col && !spec.short_label.empty()) label = spec.short_label;
      io::Series s{label, {}, {}, c[0], c[1], c[2]};
      for (const auto& row : rows_) {
        auto it = row.find(col);
        if (it == row.end()) continue;
        s.x.push_back(row.at("step"));
        s.y.push_back(it->second);
      }
      series.push_back(s);
    }
    io::PlotOptions opt;
    opt.title = panel.title;
    opt.x_label = "step";
    opt.height = images.empty() ? 260 : 220;
    opt.fixed_y = panel.unit_range;
    images.push_back(io::line_plot(series, opt));
  }
  return io::stack_vertically(images);
}

}  // namespace gan::models
