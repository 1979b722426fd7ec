#include "resume_check.h"

#include <map>
#include <set>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/core/train/trainer.h"

namespace epalm::cli {

namespace {

// Settings a resumed run may change: its length (the schedule stretches to
// the new end), where it writes and records, and how it runs on the machine
// (paths of the same data and weights; the decoder's weights are
// fingerprinted in the checkpoint).
const std::set<std::string>& free_on_resume() {
  static const std::set<std::string> keys = {
      "epochs",      "max-steps",     "checkpoint-every", "output-dir",     "results",         "resume",
      "resume-with-changes", "loader-threads", "device",   "precision",      "plan",            "memory-budget",
      "shard-threshold", "feature-cache", "num-beams",     "max-new-tokens", "val-split",       "test-split",
      "experiment",  "data-root",     "model-dir",        "decoder",        "encoder",         "collective-timeout",
      "validate-every", "test-at-end"};
  return keys;
}

std::map<std::string, std::string> parse(const std::string& config) {
  std::map<std::string, std::string> values;
  std::istringstream in(config);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find(" = ");
    if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return values;
}

}  // namespace

std::string check_resume(const std::string& checkpoint, const std::string& current_config, bool allow_changes) {
  const auto before = parse(train::read_checkpoint_config(checkpoint));
  const auto now = parse(current_config);
  std::string changes;
  for (const auto& [key, value] : now) {
    const auto it = before.find(key);
    // A key the checkpoint does not know came with a newer epalm: nothing to compare.
    if (free_on_resume().count(key) || it == before.end() || it->second == value) continue;
    changes += (changes.empty() ? "" : "; ") + key + ": " + it->second + " -> " + value;
  }
  if (!changes.empty() && !allow_changes) {
    throw UsageError("--output-dir", checkpoint + " was trained with other settings (" + changes +
                                         "); give --resume-with-changes to continue it with these (recorded with "
                                         "the run), --resume false to start over, or another --output-dir");
  }
  return changes;
}

}  // namespace epalm::cli
