#include "sim/svg_chart.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace allot::sim {
namespace {

constexpr int kPanelWidth = 640;
constexpr int kPanelHeight = 380;
constexpr int kLeft = 60, kRight = 170, kTop = 36, kBottom = 48;
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

// A "nice" tick step giving about five ticks over `span`.
double TickStep(double span) {
  double raw = span / 5;
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

std::string Number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", std::abs(v) < 1e-9 ? 0.0 : v);
  return buffer;
}

void RenderPanel(const Chart& chart, int x0, int y0, std::ostringstream& svg) {
  const double plot_w = kPanelWidth - kLeft - kRight;
  const double plot_h = kPanelHeight - kTop - kBottom;
  double x_span = chart.x_max > chart.x_min ? chart.x_max - chart.x_min : 1;
  double y_span = chart.y_max > chart.y_min ? chart.y_max - chart.y_min : 1;
  auto px = [&](double x) { return x0 + kLeft + (x - chart.x_min) / x_span * plot_w; };
  auto py = [&](double y) { return y0 + kTop + plot_h - (y - chart.y_min) / y_span * plot_h; };

  svg << "<text x=\"" << x0 + kPanelWidth / 2 << "\" y=\"" << y0 + 22
      << "\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" << Escape(chart.title)
      << "</text>\n";
  double step = TickStep(x_span);
  for (double x = std::ceil(chart.x_min / step) * step; x <= chart.x_max + 1e-9; x += step) {
    svg << "<line x1=\"" << px(x) << "\" y1=\"" << py(chart.y_min) << "\" x2=\"" << px(x)
        << "\" y2=\"" << py(chart.y_max) << "\" stroke=\"#e0e0e0\"/>\n";
    svg << "<text x=\"" << px(x) << "\" y=\"" << py(chart.y_min) + 16
        << "\" text-anchor=\"middle\" font-size=\"11\">" << Number(x) << "</text>\n";
  }
  step = TickStep(y_span);
  for (double y = std::ceil(chart.y_min / step) * step; y <= chart.y_max + 1e-9; y += step) {
    svg << "<line x1=\"" << px(chart.x_min) << "\" y1=\"" << py(y) << "\" x2=\"" << px(chart.x_max)
        << "\" y2=\"" << py(y) << "\" stroke=\"#e0e0e0\"/>\n";
    svg << "<text x=\"" << px(chart.x_min) - 6 << "\" y=\"" << py(y) + 4
        << "\" text-anchor=\"end\" font-size=\"11\">" << Number(y) << "</text>\n";
  }
  svg << "<rect x=\"" << px(chart.x_min) << "\" y=\"" << py(chart.y_max) << "\" width=\"" << plot_w
      << "\" height=\"" << plot_h << "\" fill=\"none\" stroke=\"#444\"/>\n";
  svg << "<text x=\"" << x0 + kLeft + plot_w / 2 << "\" y=\"" << y0 + kPanelHeight - 10
      << "\" text-anchor=\"middle\" font-size=\"12\">" << Escape(chart.x_label) << "</text>\n";
  svg << "<text transform=\"translate(" << x0 + 16 << "," << y0 + kTop + plot_h / 2
      << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" << Escape(chart.y_label)
      << "</text>\n";

  for (size_t s = 0; s < chart.series.size(); ++s) {
    const auto& series = chart.series[s];
    const char* color = kColors[s % (sizeof kColors / sizeof kColors[0])];
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.8\"";
    if (series.dashed) svg << " stroke-dasharray=\"6,4\"";
    svg << " points=\"";
    for (const auto& [x, y] : series.points) {
      double cy = std::min(std::max(y, chart.y_min), chart.y_max);
      svg << px(x) << "," << py(cy) << " ";
    }
    svg << "\"/>\n";
    double ly = y0 + kTop + 8 + 18 * static_cast<double>(s);
    double lx = x0 + kLeft + plot_w + 12;
    svg << "<line x1=\"" << lx << "\" y1=\"" << ly << "\" x2=\"" << lx + 22 << "\" y2=\"" << ly
        << "\" stroke=\"" << color << "\" stroke-width=\"2.5\""
        << (series.dashed ? " stroke-dasharray=\"6,4\"" : "") << "/>\n";
    svg << "<text x=\"" << lx + 28 << "\" y=\"" << ly + 4 << "\" font-size=\"12\">"
        << Escape(series.name) << "</text>\n";
  }
}

}  // namespace

std::string RenderSvg(const std::vector<Chart>& panels, int columns) {
  if (columns < 1) columns = 1;
  int rows = (static_cast<int>(panels.size()) + columns - 1) / columns;
  int width = kPanelWidth * std::min<int>(columns, std::max<int>(1, int(panels.size())));
  int height = kPanelHeight * std::max(rows, 1);
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"Helvetica, Arial, sans-serif\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (size_t i = 0; i < panels.size(); ++i) {
    int col = static_cast<int>(i) % columns;
    int row = static_cast<int>(i) / columns;
    RenderPanel(panels[i], col * kPanelWidth, row * kPanelHeight, svg);
  }
  svg << "</svg>\n";
  return svg.str();
}

bool WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return false;
  out << text;
  return static_cast<bool>(out);
}

}  // namespace allot::sim
