// What `epalm train` checks before it continues the checkpoint in its output
// directory: the settings that shape the run (data, model, objective,
// optimization, seed, batch) must be those the checkpoint was trained with,
// or the run would silently mix two configurations under one record. How
// long to train, where to write, which device, and how to plan memory may
// change freely.
#pragma once

#include <string>

namespace epalm::cli {

// The settings that differ between the checkpoint's stored configuration and
// `current_config` (training_config_text), as "key: old -> new; ..."; ""
// when none. Throws UsageError naming every differing key unless
// `allow_changes` (--resume-with-changes), in which case the caller records
// the returned text with the run.
std::string check_resume(const std::string& checkpoint, const std::string& current_config, bool allow_changes);

}  // namespace epalm::cli
