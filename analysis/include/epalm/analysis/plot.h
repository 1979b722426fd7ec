// Line and scatter plots drawn with Cairo: axes with 1-2-5 (or decade) ticks,
// labels, a legend and a title; PNG (Cairo's image surface) or SVG (its SVG
// surface). Each series is a line through its points, with markers and an
// optional shaded band (mean ± std over seeds).
#pragma once

#include <string>
#include <vector>

namespace epalm::analysis {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;
  std::vector<double> low, high;  // a band around y (empty: none)
  bool line = true;               // false: markers only
};

struct PlotSpec {
  std::string title, x_label, y_label;
  bool log_x = false;
  std::vector<PlotSeries> series;
  int width = 800, height = 500;
};

// Where the plot's data area lies on the page (for tests that look for marks).
struct PlotFrame {
  double left = 0, top = 0, right = 0, bottom = 0;
  double x_min = 0, x_max = 0, y_min = 0, y_max = 0;
  bool log_x = false;
  double px(double x) const;  // page x of a data x
  double py(double y) const;
};

// The series' colours, in order (RGB 0..1), so a test can look for them.
const std::vector<std::vector<double>>& plot_palette();

// Throws UsageError when there is nothing to draw or log_x meets x <= 0.
PlotFrame plot_frame(const PlotSpec& spec);
// .png or .svg by `path`'s extension; throws epalm::Error naming the file.
void write_plot(const PlotSpec& spec, const std::string& path);
std::string plot_svg(const PlotSpec& spec);  // the SVG document as text (for inline HTML)

}  // namespace epalm::analysis
