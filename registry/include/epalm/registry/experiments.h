// Registered experiments: a name, a description, tags and a base training
// configuration (the keys `epalm train` accepts), plus, for an ablation, the
// axis it varies. The paper's variants and ablation axes are pre-registered.
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "epalm/registry/training_settings.h"

namespace epalm::registry {

using Config = std::map<std::string, std::string>;

// Settings applied to the cells whose values match `match` (every key equal).
struct ConditionalOverride {
  Config match;
  Config set;
};

struct RegisteredExperiment {
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  Config base;
  // For an ablation: the values it compares, and settings some of them need
  // (e.g. a smaller LM's injected layers). `epalm sweep` uses them when a
  // sweep file names the experiment and gives no axes of its own.
  std::map<std::string, std::vector<std::string>> axes;
  std::vector<ConditionalOverride> overrides;
  // Tasks the trained model is evaluated on besides its own (OOD / zero-shot transfer).
  std::vector<std::string> transfer_tasks;
};

const std::vector<RegisteredExperiment>& registered_experiments();
// Throws UsageError naming the known experiments.
const RegisteredExperiment& find_experiment(const std::string& name);

// Checks every key is a training setting and every value one `epalm train`
// accepts (training_settings.h: type, range, choices). Throws UsageError
// naming `where`, the key and the reason.
void check_training_config(const Config& config, const std::string& where);

// The base configuration as an INI file loadable with `--config`.
void write_config_ini(const Config& config, std::ostream& out, const std::string& header = "");

}  // namespace epalm::registry
