// Validation during training, as the reference trains: the model generates
// for the validation split with the run's decoding settings every epoch (or
// every N optimizer steps), is scored with the task's official metric, and
// the best checkpoint by that metric is kept beside the run's own; when the
// run ends the best checkpoint is evaluated on the test split. The history
// lives in the output directory (validation.json), so a resumed run keeps
// its best and never validates a step twice.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "epalm/core/models/generation.h"

namespace epalm::experiments {

struct ValidationSettings {
  // -1: never; 0: at the end of every epoch; N > 0: every N optimizer steps.
  // A run that validates at all also validates after its last step.
  std::int64_t every_steps = -1;
  std::string split;      // the validation split
  std::string select_by;  // the score that picks the best checkpoint; empty: the task's official metric
  bool test_at_end = false;  // the best checkpoint (the last without validation) on test_split at the end
  std::string test_split;
  models::GenerationSettings generation;  // the run's decoding settings

  bool enabled() const { return every_steps >= 0; }
};

// One validation: the optimizer step after which it ran and its scores.
struct ValidationRecord {
  std::int64_t step = 0;
  std::map<std::string, double> scores;
};

// Parses --validate-every: "never", "epoch" or a positive number of steps.
std::int64_t parse_validate_every(const std::string& text, const std::string& option);
// Its text form, the inverse of parse_validate_every.
std::string validate_every_text(std::int64_t every_steps);

// Files in a run's output directory.
std::string best_checkpoint_path(const std::string& output_dir);
std::string validation_history_path(const std::string& output_dir);

}  // namespace epalm::experiments
