#include "epalm/registry/provenance.h"

#include <sqlite3.h>
#include <unistd.h>

#include <boost/version.hpp>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "epalm/build_config.h"

#ifndef EPALM_SOURCE_DIR
#define EPALM_SOURCE_DIR ""
#endif

extern char** environ;

namespace epalm::registry {

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A command's stdout, or "" when it fails (git or nvidia-smi absent).
std::string capture(const std::string& command, bool* ok = nullptr) {
  std::string out;
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) {
    if (ok) *ok = false;
    return out;
  }
  std::array<char, 4096> buffer{};
  size_t got = 0;
  while ((got = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), got);
  const int status = pclose(pipe);
  if (ok) *ok = status == 0;
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

bool recorded_variable(const std::string& name) {
  static const char* prefixes[] = {"CUDA_VISIBLE_DEVICES", "NCCL_", "OMP_NUM_THREADS", "SLURM_JOB_ID",
                                   "SLURM_ARRAY_", "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE",
                                   "PMI_SIZE", "EPALM_"};
  for (const char* p : prefixes) {
    if (name.rfind(p, 0) == 0) return true;
  }
  return false;
}

bool secret(const std::string& name) {
  for (const char* word : {"SECRET", "KEY", "TOKEN", "PASSWORD"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    const bool plain = !arg.empty() && arg.find_first_not_of(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == std::string::npos;
    out += (out.empty() ? "" : " ") + (plain ? arg : quote(arg));
  }
  return out;
}

Provenance collect_provenance(const std::vector<std::string>& argv, int world_size, const std::string& source_dir) {
  Provenance p;
  p.world_size = world_size;
  p.command_line = shell_join(argv);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  p.host = host;

  const std::string dir = source_dir.empty() ? EPALM_SOURCE_DIR : source_dir;
  if (!dir.empty() && std::filesystem::exists(std::filesystem::path(dir) / ".git")) {
    const std::string git = "git -C " + quote(dir) + " ";
    bool ok = false;
    p.git_commit = trim(capture(git + "rev-parse HEAD", &ok));
    if (!ok) p.git_commit.clear();
    if (!p.git_commit.empty()) {
      p.git_dirty = !trim(capture(git + "status --porcelain --untracked-files=no")).empty();
      if (p.git_dirty) p.git_diff = capture(git + "diff HEAD");
      p.extra["git_branch"] = trim(capture(git + "rev-parse --abbrev-ref HEAD"));
      p.extra["source_dir"] = dir;
    }
  }
  bool have_gpus = false;
  const auto gpus = trim(capture("nvidia-smi --query-gpu=index,name,uuid,memory.total,driver_version "
                                 "--format=csv,noheader", &have_gpus));
  if (have_gpus && !gpus.empty()) p.extra["gpus"] = gpus;

  p.extra["version_epalm"] = EPALM_VERSION;
  p.extra["version_libtorch"] = EPALM_TORCH_VERSION;
  p.extra["version_cuda_toolkit"] = EPALM_CUDA_TOOLKIT_VERSION;
  p.extra["version_sqlite"] = sqlite3_libversion();
  p.extra["version_boost"] = std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
                             "." + std::to_string(BOOST_VERSION % 100);
  p.extra["build_type"] = EPALM_BUILD_TYPE;
  p.extra["compiler"] = EPALM_CXX_COMPILER;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry = *e;
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    const auto name = entry.substr(0, eq);
    if (recorded_variable(name)) p.extra["env_" + name] = secret(name) ? "***" : entry.substr(eq + 1);
  }
  return p;
}

}  // namespace epalm::registry
