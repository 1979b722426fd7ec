#include "epalm/core/java_tool.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace epalm::eval {

namespace {

std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto candidate = (std::filesystem::path(dir.empty() ? "." : dir) / name).string();
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

std::string find_java() {
  const char* env_java = std::getenv("JAVA");
  const std::string java = env_java != nullptr && *env_java ? env_java : on_path("java");
  return !java.empty() && access(java.c_str(), X_OK) == 0 ? java : "";
}

std::string jar_from(const std::string& explicit_jar, const char* jar_variable) {
  if (!explicit_jar.empty()) return explicit_jar;
  const char* env_jar = std::getenv(jar_variable);
  return env_jar != nullptr ? env_jar : "";
}

}  // namespace epalm::eval
