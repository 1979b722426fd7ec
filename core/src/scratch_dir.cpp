#include "epalm/core/scratch_dir.h"

#include <cstdlib>
#include <filesystem>

#include "epalm/core/error.h"

namespace epalm {

namespace fs = std::filesystem;

ScratchDir::ScratchDir(const std::string& parent, const std::string& prefix) {
  const auto base = parent.empty() ? fs::temp_directory_path() : fs::path(parent);
  std::error_code ec;
  fs::create_directories(base, ec);
  std::string pattern = (base / (prefix + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw Error(base.string(), "cannot create a temporary directory");
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

}  // namespace epalm
