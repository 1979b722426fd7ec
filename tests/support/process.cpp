#include "process.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace epalm::testing {

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, int timeout_seconds,
                          const std::map<std::string, std::string>& environment) {
  TempDir dir;
  std::string command = "env";
  for (const auto& [key, value] : environment) command += " " + quote(key + "=" + value);
  command += " timeout --kill-after=5 " + std::to_string(timeout_seconds);
  for (const auto& arg : argv) command += " " + quote(arg);
  command += " >" + quote(dir.path() + "/out") + " 2>" + quote(dir.path() + "/err") + " </dev/null";
  const int status = std::system(command.c_str());
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(dir.path() + "/out");
  result.err = slurp(dir.path() + "/err");
  return result;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "epalm-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  const std::string path = path_ + "/" + name;
  std::ofstream(path) << content;
  return path;
}

}  // namespace epalm::testing
