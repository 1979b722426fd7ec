// Progress on a terminal: one line on stderr, overwritten in place; nothing
// when stderr is not a terminal (logs and CI stay quiet).
#pragma once

#include <string>

namespace epalm {

// Lines on stderr, each overwriting the last, when enabled (a terminal).
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  ~Progress();
  void say(const std::string& line);
  void clear();

 private:
  bool enabled_;
  bool shown_ = false;
};

}  // namespace epalm
