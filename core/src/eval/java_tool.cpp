#include "epalm/core/eval/java_tool.h"

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

JavaTool find_java_tool(const std::string& metric, const std::string& explicit_jar, const char* jar_variable,
                        const std::string& example_jar) {
  JavaTool tool;
  const char* env_jar = std::getenv(jar_variable);
  tool.jar = !explicit_jar.empty() ? explicit_jar : env_jar != nullptr ? env_jar : "";
  tool.java = find_java();
  const auto skipped = metric + " skipped: ";
  if (tool.java.empty()) {
    tool.skipped_reason = skipped + "no Java (install a JRE, e.g. Debian's default-jre-headless, or set JAVA)";
  } else if (tool.jar.empty()) {
    tool.skipped_reason = skipped + "no " + metric + " jar (set " + jar_variable + " to " + example_jar + ")";
  } else if (!std::filesystem::is_regular_file(tool.jar)) {
    tool.skipped_reason = skipped + tool.jar + " is not a file";
  }
  return tool;
}

}  // namespace epalm::eval
