#include "epalm/analysis/plot.h"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include "epalm/core/error.h"

namespace epalm::analysis {

namespace {

constexpr double kLeft = 84, kRight = 24, kTop = 48, kBottom = 64;

std::string tick_text(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", std::fabs(v) < 1e-12 ? 0.0 : v);
  return buffer;
}

// 1-2-5 steps giving about `target` ticks over [lo, hi].
std::vector<double> linear_ticks(double lo, double hi, int target = 6) {
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (raw <= step) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(t);
  return ticks;
}

// Decades (and 2, 5 within them when the range is narrow), in log10 units.
std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  const bool narrow = hi - lo < 2;
  for (double d = std::floor(lo); d <= std::ceil(hi); d += 1) {
    for (double m : narrow ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
      const double t = d + std::log10(m);
      if (t >= lo - 1e-9 && t <= hi + 1e-9) ticks.push_back(t);
    }
  }
  return ticks;
}

void text_at(cairo_t* cr, const std::string& text, double x, double y, double align_x, double align_y) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  cairo_move_to(cr, x - e.width * align_x - e.x_bearing, y - e.height * align_y - e.y_bearing);
  cairo_show_text(cr, text.c_str());
}

void draw(const PlotSpec& spec, const PlotFrame& f, cairo_t* cr) {
  const auto& palette = plot_palette();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  // Grid and ticks.
  cairo_set_font_size(cr, 11);
  cairo_set_line_width(cr, 1);
  const auto xt = f.log_x ? log_ticks(f.x_min, f.x_max) : linear_ticks(f.x_min, f.x_max);
  for (double t : xt) {
    const double x = f.left + (t - f.x_min) / (f.x_max - f.x_min) * (f.right - f.left);
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, x, f.top);
    cairo_line_to(cr, x, f.bottom);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, x, f.bottom);
    cairo_line_to(cr, x, f.bottom + 5);
    cairo_stroke(cr);
    text_at(cr, tick_text(f.log_x ? std::pow(10.0, t) : t), x, f.bottom + 9, 0.5, 0);
  }
  for (double t : linear_ticks(f.y_min, f.y_max)) {
    const double y = f.py(t);
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, f.left, y);
    cairo_line_to(cr, f.right, y);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, f.left - 5, y);
    cairo_line_to(cr, f.left, y);
    cairo_stroke(cr);
    text_at(cr, tick_text(t), f.left - 8, y, 1, 0.5);
  }
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_rectangle(cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
  cairo_stroke(cr);
  // Labels and title.
  cairo_set_font_size(cr, 13);
  text_at(cr, spec.x_label + (spec.log_x ? " (log scale)" : ""), (f.left + f.right) / 2, f.bottom + 34, 0.5, 0);
  cairo_save(cr);
  cairo_translate(cr, 18, (f.top + f.bottom) / 2);
  cairo_rotate(cr, -M_PI / 2);
  text_at(cr, spec.y_label, 0, 0, 0.5, 0.5);
  cairo_restore(cr);
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size(cr, 15);
  text_at(cr, spec.title, spec.width / 2.0, 16, 0.5, 0);
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  // Data, clipped to the frame: bands, lines, markers.
  cairo_save(cr);
  cairo_rectangle(cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
  cairo_clip(cr);
  for (size_t s = 0; s < spec.series.size(); ++s) {
    const auto& series = spec.series[s];
    const auto& c = palette[s % palette.size()];
    if (!series.low.empty()) {
      cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.2);
      for (size_t i = 0; i < series.x.size(); ++i) {
        const double x = f.px(series.x[i]), y = f.py(series.high[i]);
        i == 0 ? cairo_move_to(cr, x, y) : cairo_line_to(cr, x, y);
      }
      for (size_t i = series.x.size(); i-- > 0;) cairo_line_to(cr, f.px(series.x[i]), f.py(series.low[i]));
      cairo_close_path(cr);
      cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    if (series.line && series.x.size() > 1) {
      cairo_set_line_width(cr, 2.5);
      for (size_t i = 0; i < series.x.size(); ++i) {
        i == 0 ? cairo_move_to(cr, f.px(series.x[i]), f.py(series.y[i])) : cairo_line_to(cr, f.px(series.x[i]), f.py(series.y[i]));
      }
      cairo_stroke(cr);
    }
    for (size_t i = 0; i < series.x.size(); ++i) {
      cairo_arc(cr, f.px(series.x[i]), f.py(series.y[i]), 4.5, 0, 2 * M_PI);
      cairo_fill(cr);
    }
  }
  cairo_restore(cr);
  // Legend, top right inside the frame.
  if (spec.series.size() > 1 || !spec.series[0].label.empty()) {
    cairo_set_font_size(cr, 11);
    double widest = 0;
    for (const auto& s : spec.series) {
      cairo_text_extents_t e;
      cairo_text_extents(cr, s.label.c_str(), &e);
      widest = std::max(widest, e.x_advance);
    }
    const double row = 17, w = widest + 40, h = row * static_cast<double>(spec.series.size()) + 8;
    const double x0 = f.right - w - 8, y0 = f.top + 8;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, x0, y0, w, h);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (size_t s = 0; s < spec.series.size(); ++s) {
      const auto& c = palette[s % palette.size()];
      const double y = y0 + 4 + row * (static_cast<double>(s) + 0.5);
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_set_line_width(cr, 2.5);
      cairo_move_to(cr, x0 + 6, y);
      cairo_line_to(cr, x0 + 26, y);
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      text_at(cr, spec.series[s].label, x0 + 32, y, 0, 0.5);
    }
  }
}

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const std::string& where) {
  if (status != CAIRO_STATUS_SUCCESS) throw Error(where, std::string("cairo: ") + cairo_status_to_string(status));
}

}  // namespace

const std::vector<std::vector<double>>& plot_palette() {
  // Colour-blind-safe (Okabe–Ito), saturated enough to find in a PNG.
  static const std::vector<std::vector<double>> colours = {
      {0.0, 0.447, 0.698}, {0.835, 0.369, 0.0}, {0.0, 0.620, 0.451}, {0.800, 0.475, 0.655},
      {0.337, 0.706, 0.914}, {0.902, 0.624, 0.0}, {0.941, 0.894, 0.259}, {0.0, 0.0, 0.0}};
  return colours;
}

double PlotFrame::px(double x) const {
  const double t = log_x ? std::log10(x) : x;
  return left + (t - x_min) / (x_max - x_min) * (right - left);
}

double PlotFrame::py(double y) const { return bottom - (y - y_min) / (y_max - y_min) * (bottom - top); }

PlotFrame plot_frame(const PlotSpec& spec) {
  PlotFrame f;
  f.log_x = spec.log_x;
  f.left = kLeft;
  f.top = kTop;
  f.right = spec.width - kRight;
  f.bottom = spec.height - kBottom;
  if (spec.width < 200 || spec.height < 150) throw UsageError("plot", "at least 200 x 150 pixels");
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : spec.series) {
    if (s.x.size() != s.y.size() || (!s.low.empty() && (s.low.size() != s.x.size() || s.high.size() != s.x.size()))) {
      throw Error("plot", "series '" + s.label + "' has points of different lengths");
    }
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (spec.log_x && !(s.x[i] > 0)) throw UsageError("plot", "a log x axis needs x > 0 (series '" + s.label + "')");
      const double x = spec.log_x ? std::log10(s.x[i]) : s.x[i];
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min({y0, s.y[i], s.low.empty() ? s.y[i] : s.low[i]});
      y1 = std::max({y1, s.y[i], s.high.empty() ? s.y[i] : s.high[i]});
    }
  }
  if (!(x0 <= x1) || !(y0 <= y1)) throw UsageError("plot", "no data to draw");
  auto widen = [](double& lo, double& hi) {
    if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
      const double pad = std::max(1e-9, std::fabs(hi) * 0.1);
      lo -= pad;
      hi += pad;
    }
    const double pad = (hi - lo) * 0.06;
    lo -= pad;
    hi += pad;
  };
  widen(x0, x1);
  widen(y0, y1);
  f.x_min = x0;
  f.x_max = x1;
  f.y_min = y0;
  f.y_max = y1;
  return f;
}

void write_plot(const PlotSpec& spec, const std::string& path) {
  const auto f = plot_frame(spec);
  const auto ext = std::filesystem::path(path).extension().string();
  if (ext == ".svg") {
    const auto text = plot_svg(spec);
    FILE* out = std::fopen(path.c_str(), "wb");
    if (out == nullptr || std::fwrite(text.data(), 1, text.size(), out) != text.size() || std::fclose(out) != 0) {
      throw Error(path, "cannot write the plot");
    }
    return;
  }
  if (ext != ".png") throw UsageError("--output", "'" + path + "': plots are .png or .svg");
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_ARGB32, spec.width, spec.height), cairo_surface_destroy);
  check(cairo_surface_status(surface.get()), path);
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(surface.get()), cairo_destroy);
  draw(spec, f, cr.get());
  check(cairo_status(cr.get()), path);
  check(cairo_surface_write_to_png(surface.get(), path.c_str()), path);
}

std::string plot_svg(const PlotSpec& spec) {
  const auto f = plot_frame(spec);
  std::string text;
  {
    std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
        cairo_svg_surface_create_for_stream(append, &text, spec.width, spec.height), cairo_surface_destroy);
    check(cairo_surface_status(surface.get()), "svg");
    std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(surface.get()), cairo_destroy);
    draw(spec, f, cr.get());
    check(cairo_status(cr.get()), "svg");
    cr.reset();
    cairo_surface_finish(surface.get());
  }
  return text;
}

}  // namespace epalm::analysis
