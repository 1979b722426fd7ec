// The toy world's attributes and their names (docs/toy-world.md lists them).
#include "world_model.h"

namespace epalm::experiments::toy {

// Far apart in RGB, so a decoded pixel's nearest palette colour is its own.
const std::vector<NamedColor>& colors() {
  static const std::vector<NamedColor> all = {{"red", {220, 30, 30}},   {"orange", {250, 140, 20}},
                                              {"yellow", {240, 230, 40}}, {"green", {30, 170, 50}},
                                              {"blue", {40, 80, 240}},    {"purple", {160, 50, 210}}};
  return all;
}

const std::vector<std::string>& shape_names() {
  static const std::vector<std::string> all = {"circle", "square", "triangle", "diamond"};
  return all;
}
const std::vector<std::string>& quadrant_names() {
  static const std::vector<std::string> all = {"top left", "top right", "bottom left", "bottom right"};
  return all;
}
const std::vector<std::string>& size_names() {
  static const std::vector<std::string> all = {"small", "large"};
  return all;
}
const std::vector<std::string>& direction_names() {
  static const std::vector<std::string> all = {"left", "right", "up", "down"};
  return all;
}
const std::vector<std::string>& speed_names() {
  static const std::vector<std::string> all = {"slow", "fast"};
  return all;
}
const std::vector<std::string>& pitch_names() {
  static const std::vector<std::string> all = {"low", "medium", "high"};
  return all;
}
// An octave apart: far apart in the spectrum and on the mel scale.
const std::vector<double>& pitch_hertz() {
  static const std::vector<double> all = {300, 600, 1200};
  return all;
}
const std::vector<std::string>& length_names() {
  static const std::vector<std::string> all = {"short", "long"};
  return all;
}
const std::vector<std::string>& loudness_names() {
  static const std::vector<std::string> all = {"quiet", "loud"};
  return all;
}

}  // namespace epalm::experiments::toy
