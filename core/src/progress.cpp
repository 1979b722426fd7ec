#include "epalm/core/progress.h"

#include <iostream>

namespace epalm {

Progress::~Progress() { clear(); }

void Progress::say(const std::string& line) {
  if (!enabled_) return;
  std::cerr << "\r\033[K" << line << std::flush;
  shown_ = true;
}

void Progress::clear() {
  if (enabled_ && shown_) std::cerr << "\r\033[K" << std::flush;
  shown_ = false;
}

}  // namespace epalm
