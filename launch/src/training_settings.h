// The settings of an eP-ALM run, shared by `epalm train`, `generate` and
// `eval`: every key a config file, a registered experiment or a sweep cell
// may set, and their translation into a TrainingRunSettings. A trained
// checkpoint keeps the resolved settings as config text, which generate and
// eval read back with the same description.
#pragma once

#include <boost/program_options.hpp>

#include <chrono>
#include <map>
#include <string>

#include "epalm/experiments/training_run.h"
#include "epalm/registry/training_settings.h"

namespace epalm::cli {

namespace po = boost::program_options;

// The run's settings (registry/training_settings.h defines them) and
// --experiment, whose registered base configuration they layer over.
void add_training_settings(po::options_description& settings);
using registry::add_collective_settings;
using registry::add_plan_settings;

// Sets the plan fields of `s` from `options`; UsageError names a bad option.
void apply_plan_settings(const po::variables_map& options, experiments::TrainingRunSettings& s);

// --collective-timeout's value.
std::chrono::milliseconds collective_timeout(const po::variables_map& options);

// Values as given; device and precision resolved for `local_rank`.
experiments::TrainingRunSettings training_settings_from(const po::variables_map& options, int local_rank);

// The eP-ALM settings of `options`: perception, levels, connectors, injected
// layers, prompt, adapters and the reference flags.
models::EpalmConfig epalm_config_from(const po::variables_map& options);

// The training settings a registered experiment starts from: its base
// configuration over the defaults (UsageError for an unknown name).
po::variables_map experiment_settings(const std::string& name);

// The training settings' resolved values by name (a run's parameters in the
// results store).
std::map<std::string, std::string> training_config_values(const po::variables_map& options);

// The training settings' resolved values as config text (one "key = value"
// line each), what checkpoints keep.
std::string training_config_text(const po::variables_map& options);

// A checkpoint's stored configuration parsed against add_training_settings
// (defaults for keys it lacks). Throws epalm::Error naming the checkpoint.
po::variables_map checkpoint_settings(const std::string& checkpoint);

}  // namespace epalm::cli
