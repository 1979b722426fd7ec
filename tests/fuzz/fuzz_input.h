// What the file-reading parsers' fuzz targets share: the parsers read paths,
// so each input is written to files in one private folder per process, and
// an input is split into several files at "\n----\n" lines.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace epalm::fuzz {

inline const std::string& folder() {
  static const std::string path = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "epalm-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    return pattern;
  }();
  return path;
}

// Writes `content` to <folder>/<relative> (creating its folders); returns the path.
inline std::string write(const std::string& relative, const std::string& content) {
  const auto path = std::filesystem::path(folder()) / relative;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return path.string();
}

inline std::vector<std::string> split(const std::uint8_t* data, std::size_t size, std::size_t parts) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  static const std::string separator = "\n----\n";
  std::vector<std::string> out;
  std::size_t at = 0;
  while (out.size() + 1 < parts) {
    const auto next = input.find(separator, at);
    if (next == std::string::npos) break;
    out.push_back(input.substr(at, next - at));
    at = next + separator.size();
  }
  out.push_back(input.substr(at));
  out.resize(parts);
  return out;
}

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace epalm::fuzz
