// A fresh temporary directory, removed with its contents when it goes out of
// scope: the benchmarks' throw-away files and stores, the SPICE scorer's
// input and cache.
#pragma once

#include <string>

namespace epalm {

class ScratchDir {
 public:
  // A new directory `<prefix>XXXXXX` under `parent` (created if missing), or
  // under the system's temporary directory when `parent` is empty.
  explicit ScratchDir(const std::string& parent = "", const std::string& prefix = "epalm-");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace epalm
