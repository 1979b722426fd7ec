// A subcommand of `epalm`: its name, its settings (resolvable from config
// files) and what it does. Commands are registered in commands.cpp only once
// they work.
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <string>
#include <vector>

namespace epalm::distributed {
class World;
}

namespace epalm::cli {

namespace po = boost::program_options;

struct Invocation {
  const po::variables_map& options;
  distributed::World& world;
  std::vector<std::string> arguments;  // the command line after the command's name
};

struct Command {
  std::string name;
  std::string summary;
  std::function<void(po::options_description& settings)> add_settings;
  std::function<int(const Invocation& invocation)> run;
  // Settings that may also be given by position, in this order
  // (`epalm model info` sets --action info); they stay settings, resolvable
  // from config files and the environment like any other.
  std::vector<std::string> positional = {};
};

const std::vector<Command>& commands();

// A command's actions (`epalm runs list|show|...`), in the order its help
// lists them.
using Action = std::function<int(const Invocation& invocation)>;
using Actions = std::vector<std::pair<std::string, Action>>;
// Runs the action the `action` setting names, or `fallback` when none is
// given ("": one must be); any other is a usage error that lists them.
int run_action(const Invocation& in, const Actions& actions, const std::string& fallback = "");

// The value of a setting that names a registered experiment to start from
// (`epalm train --experiment E`): run_command layers that experiment's base
// configuration above the defaults and below config files and options. Only
// settings declared with this value get the layer; an option that merely
// names an experiment (`epalm runs list --experiment E`, a filter) is a plain
// po::value and is never read as a configuration.
class ExperimentBaseValue : public po::typed_value<std::string> {
 public:
  ExperimentBaseValue() : po::typed_value<std::string>(nullptr) {}
};
// New'd for options_description, which owns it.
inline ExperimentBaseValue* experiment_base_value() { return new ExperimentBaseValue(); }
// True when `settings` declares `name` with an ExperimentBaseValue.
bool is_experiment_base(const po::options_description& settings, const std::string& name);

Command env_command();
Command demo_command();
Command self_check_command();
Command model_command();
Command bench_command();
Command train_command();
Command generate_command();
Command eval_command();
Command experiments_command();
Command runs_command();
Command results_command();
Command sweep_command();
Command plan_command();
Command toy_command();

// Runs `epalm` with argv: dispatch, layered configuration, logging, and the
// top-level error handler. Returns the process exit code.
int run_main(int argc, char** argv);

}  // namespace epalm::cli
