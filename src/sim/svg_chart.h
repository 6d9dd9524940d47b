// Line charts as standalone SVG files, for the simulator's reports: one or
// more panels, each with axes, grid, tick labels and a legend.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace allot::sim {

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
  bool dashed = false;
};

struct Chart {
  std::string title;
  std::string x_label;
  std::string y_label;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  std::vector<ChartSeries> series;
};

// The SVG document: the panels laid out in `columns` columns.
std::string RenderSvg(const std::vector<Chart>& panels, int columns = 1);

// Writes `text` to `path`; false when the file cannot be written.
bool WriteTextFile(const std::string& path, const std::string& text);

}  // namespace allot::sim
