// Drawing the world's shapes on an RGB canvas.
#include <algorithm>
#include <cmath>

#include "world_model.h"

namespace epalm::experiments::toy {

Canvas::Canvas(int w, int h, Rgb fill) : width(w), height(h), rgb(static_cast<std::size_t>(w) * h * 3) {
  for (std::size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = fill.r;
    rgb[i + 1] = fill.g;
    rgb[i + 2] = fill.b;
  }
}

bool inside_shape(int shape, double dx, double dy, double radius) {
  switch (shape) {
    case 0: return dx * dx + dy * dy <= radius * radius;                               // circle
    case 1: return std::abs(dx) <= 0.85 * radius && std::abs(dy) <= 0.85 * radius;     // square (about a circle's area)
    case 2:                                                                             // triangle, apex up
      return dy <= 0.8 * radius && dy >= -radius && std::abs(dx) <= (dy + radius) / 1.8;
    default: return std::abs(dx) + std::abs(dy) <= radius;                              // diamond
  }
}

void draw_shape(Canvas& canvas, int shape, Rgb color, double cx, double cy, double radius) {
  const int x0 = std::max(0, static_cast<int>(std::floor(cx - radius - 1)));
  const int x1 = std::min(canvas.width - 1, static_cast<int>(std::ceil(cx + radius + 1)));
  const int y0 = std::max(0, static_cast<int>(std::floor(cy - radius - 1)));
  const int y1 = std::min(canvas.height - 1, static_cast<int>(std::ceil(cy + radius + 1)));
  for (int y = y0; y <= y1; ++y) {
    for (int x = x0; x <= x1; ++x) {
      if (!inside_shape(shape, x + 0.5 - cx, y + 0.5 - cy, radius)) continue;
      auto* p = &canvas.rgb[(static_cast<std::size_t>(y) * canvas.width + x) * 3];
      p[0] = color.r;
      p[1] = color.g;
      p[2] = color.b;
    }
  }
}

}  // namespace epalm::experiments::toy
