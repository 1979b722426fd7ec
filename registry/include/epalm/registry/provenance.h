// Where a run came from: the code (git commit and uncommitted diff), the
// machine (host, GPUs), the libraries, the job (world size) and the command line.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace epalm::registry {

struct Provenance {
  std::string git_commit;  // "" when the source tree is unknown
  bool git_dirty = false;
  std::string git_diff;  // `git diff HEAD` of a dirty tree
  std::string host;
  int world_size = 1;
  std::string command_line;
  // gpus, library versions (sqlite, boost, libtorch, epalm), selected
  // environment variables (CUDA_VISIBLE_DEVICES, SLURM_*, OMPI_*, ...).
  std::map<std::string, std::string> extra;
};

// Collects everything above for this process. The git fields describe
// `source_dir` (default: the tree this build was configured from) when it is
// a git checkout; GPUs come from nvidia-smi when it is there.
Provenance collect_provenance(const std::vector<std::string>& argv, int world_size,
                              const std::string& source_dir = "");

// The command line as one shell-quoted string.
std::string shell_join(const std::vector<std::string>& argv);

}  // namespace epalm::registry
