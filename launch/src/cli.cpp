#include <spdlog/spdlog.h>

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "command.h"
#include "epalm/build_config.h"
#include "epalm/core/error.h"
#include "epalm/core/cpu_matmul.h"
#include "epalm/core/host_memory.h"
#include "epalm/core/log.h"
#include "epalm/core/runtime_info.h"
#include "epalm/distributed/world.h"
#include "epalm/registry/config.h"
#include "epalm/registry/experiments.h"
#include "failure.h"

namespace epalm::cli {

namespace {

void print_usage(std::ostream& out) {
  out << "usage: epalm <command> [options]\n\n"
         "eP-ALM: frozen language models augmented with perception, trained and\n"
         "evaluated at cluster scale.\n\nCommands:\n";
  for (const auto& command : commands()) {
    const auto first_line = command.summary.substr(0, command.summary.find('\n'));
    out << "  " << command.name << std::string(10 - std::min<size_t>(9, command.name.size()), ' ') << first_line
        << "\n";
  }
  out << "\nRun 'epalm <command> --help' for a command's options.\n"
         "Settings resolve as: defaults < environment (EPALM_LOG_LEVEL sets --log-level)\n"
         "< --config files (later override earlier) < command-line options.\n";
}

const Command* find_command(const std::string& name) {
  for (const auto& command : commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

// A registered experiment's base configuration as a temporary INI file.
class ExperimentBase {
 public:
  explicit ExperimentBase(const std::string& name) {
    const auto& experiment = registry::find_experiment(name);
    remove_orphans();
    path_ = (std::filesystem::temp_directory_path() /
             ("epalm-experiment-" + name + "-" + std::to_string(::getpid()) + ".ini"))
                .string();
    std::ofstream out(path_);
    registry::write_config_ini(experiment.base, out, "registered experiment " + name);
    if (!out) throw Error(path_, "cannot write the experiment's base configuration");
  }
  ~ExperimentBase() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  // Files of processes killed while they read theirs (the name ends in the pid).
  static void remove_orphans() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec)) {
      const auto name = entry.path().filename().string();
      if (name.rfind("epalm-experiment-", 0) != 0 || entry.path().extension() != ".ini") continue;
      const auto dash = name.rfind('-');
      const int pid = std::atoi(name.substr(dash + 1).c_str());
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
    }
  }

  std::string path_;
};

void add_common_settings(po::options_description& settings) {
  settings.add_options()  //
      ("log-level", po::value<std::string>()->default_value("info"), "trace, debug, info, warn, error or off")  //
      ("log-ranks", po::value<std::string>()->default_value("0"),
       "ranks that print info lines: 0 (rank 0 only) or all");
}

log::Settings log_settings(const po::variables_map& vm) {
  log::Settings settings;
  settings.level = vm["log-level"].as<std::string>();
  const auto& ranks = vm["log-ranks"].as<std::string>();
  if (ranks == "all") settings.ranks = log::RankFilter::kAll;
  else if (ranks != "0") throw UsageError("--log-ranks", "must be 0 or all, not '" + ranks + "'");
  return settings;
}

int run_command(const Command& command, const std::vector<std::string>& arguments, distributed::World& world) {
  po::options_description settings("Settings (also from --config files)");
  command.add_settings(settings);
  add_common_settings(settings);
  po::options_description general("General");
  general.add_options()                  //
      ("help,h", "show this help")  //
      ("config,c", po::value<std::vector<std::string>>()->composing(),
       "INI config file (Boost.Program_options syntax); repeatable, later files override earlier")  //
      ("print-config", "print the resolved configuration, each value with its source, and exit");
  po::options_description all;
  all.add(settings).add(general);

  po::positional_options_description positional;
  for (const auto& name : command.positional) positional.add(name.c_str(), 1);
  po::parsed_options parsed(&all);
  po::variables_map general_vm;
  try {
    parsed = po::command_line_parser(arguments).options(all).positional(positional).run();
    po::store(parsed, general_vm);
  } catch (const po::error& e) {
    throw UsageError("", registry::po_error_message(e));
  }
  po::variables_map vm;
  if (general_vm.count("help")) {
    if (world.rank() == 0) {
      std::cout << "usage: epalm " << command.name;
      for (const auto& name : command.positional) std::cout << " <" << name << ">";
      std::cout << " [options]\n\n" << command.summary << "\n\n"
                << settings << "\n" << general << "\n";
    }
    return kExitOk;
  }
  std::vector<std::string> files;
  if (general_vm.count("config")) files = general_vm["config"].as<std::vector<std::string>>();
  // A command whose "experiment" setting names a base configuration (not a
  // filter) starts from that registered experiment's base: above the
  // defaults, below config files and options.
  std::unique_ptr<ExperimentBase> base;
  if (is_experiment_base(settings, "experiment")) {
    std::string name;
    if (general_vm.count("experiment") && !general_vm["experiment"].defaulted()) {
      name = general_vm["experiment"].as<std::string>();
    }
    else if (const char* env = std::getenv("EPALM_EXPERIMENT")) name = env;
    if (!name.empty()) {
      base = std::make_unique<ExperimentBase>(name);
      files.insert(files.begin(), base->path());
    }
  }

  auto resolved = registry::resolve(settings, parsed, files, vm);
  base.reset();  // read: gone before the command runs, so a killed command leaves no file behind
  log::configure(log_settings(vm));
  if (vm.count("print-config")) {
    if (world.rank() == 0) {
      std::cout << "# epalm " << command.name << ": resolved configuration\n";
      resolved.write_ini(std::cout);
    }
    return kExitOk;
  }
  return command.run({vm, world, arguments});
}

// Errors print as one line: no stack, no noise. Under several ranks the line
// names the rank, and the whole job ends so no rank waits on a dead one.
int fail(const std::string& command, const std::string& message, int code, const distributed::World* world) {
  std::string prefix = "epalm" + (command.empty() ? "" : " " + command);
  if (world && world->size() > 1) prefix = "[r" + std::to_string(world->rank()) + "] " + prefix;
  std::cerr << prefix << ": error: " << message << "\n";
  if (code == kExitUsage && !command.empty()) std::cerr << "Try 'epalm " << command << " --help'.\n";
  std::cerr.flush();
  if (world && world->size() > 1) world->abort(code);
  return code;
}

}  // namespace

int run_action(const Invocation& in, const Actions& actions, const std::string& fallback) {
  std::string names;
  for (std::size_t i = 0; i < actions.size(); ++i) {
    names += (i == 0 ? "" : i + 1 == actions.size() ? " or " : ", ") + actions[i].first;
  }
  const auto action = in.options.count("action") ? in.options["action"].as<std::string>() : fallback;
  if (action.empty()) throw UsageError("action", "give one: " + names);
  for (const auto& [name, run] : actions) {
    if (name == action) return run(in);
  }
  throw UsageError("action", "unknown action '" + action + "' (" + names + ")");
}

bool is_experiment_base(const po::options_description& settings, const std::string& name) {
  const auto* option = settings.find_nothrow(name, false);
  return option != nullptr && dynamic_cast<const ExperimentBaseValue*>(option->semantic().get()) != nullptr;
}

int run_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string name;
  std::unique_ptr<distributed::World> world;
  try {
    log::configure({log::level_from_environment("info"), log::RankFilter::kRankZero});
    // Before the first large allocation: freed activations stay for the next step.
    keep_freed_host_memory();
    cpu_matmul();  // a misspelt EPALM_CPU_MATMUL is a usage error before any work
    if (args.empty()) {
      print_usage(std::cerr);
      return kExitUsage;
    }
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      print_usage(std::cout);
      return kExitOk;
    }
    if (args[0] == "--version") {
      std::cout << "epalm " << EPALM_VERSION << "\n";
      return kExitOk;
    }
    const Command* command = find_command(args[0]);
    if (command == nullptr) {
      std::string known;
      for (const auto& c : commands()) known += (known.empty() ? "" : ", ") + c.name;
      throw UsageError("", "unknown command '" + args[0] + "' (commands: " + known + ")");
    }
    name = command->name;
    world = std::make_unique<distributed::World>();
    log::set_rank(world->rank(), world->size(), world->topology().host);
    // Ranks on one machine share its cores (a command's own --threads still wins).
    set_compute_threads(shared_compute_threads(world->topology().local_world));
    return run_command(*command, {args.begin() + 1, args.end()}, *world);
  } catch (const std::exception& e) {
    const auto failure = failure_of(e);
    return fail(name, failure.message, failure.exit_code, world.get());
  }
}

}  // namespace epalm::cli
