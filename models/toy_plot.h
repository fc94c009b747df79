// Scatter plots of 2-D samples for the toy experiments, drawn into an RGB buffer: generated
// points (red) over real points (black), on a heat map of the critic's value (pale blue low,
// pale yellow high), with a border, gridlines, tick labels, a title and a legend (io::Canvas).
#pragma once
#include <string>
#include <vector>

#include "engine/io/image.h"
#include "engine/nn/module.h"

namespace gan::models {

struct ToyPlot {
  double extent = 3;            // the plot shows [-extent, extent]^2
  std::vector<double> real;     // x0, y0, x1, y1, ...
  std::vector<double> fake;
  std::vector<float> critic;    // grid_n x grid_n values at cell centres, row 0 at the top; may be empty
  int64_t grid_n = 0;
  std::string title;  // one line, or two separated by '\n'
};

// The critic's value at the centres of a grid_n x grid_n grid over [-extent, extent]^2 (row 0
// at the top, y decreasing downwards), computed without history on the critic's device.
std::vector<float> critic_grid(nn::Module& critic, double extent, int64_t grid_n);

io::Image render_toy_plot(const ToyPlot& plot, int64_t size = 600);

}  // namespace gan::models
