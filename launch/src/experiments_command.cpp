// `epalm experiments list|show`: the registered experiments.
#include <iostream>

#include "command.h"
#include "epalm/distributed/world.h"
#include "epalm/core/error.h"
#include "epalm/experiments/parameter_share.h"
#include "epalm/registry/experiments.h"
#include "results_settings.h"

namespace epalm::cli {

namespace {

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : sep) + item;
  return out;
}

std::string axes_text(const registry::RegisteredExperiment& e) {
  std::string out;
  for (const auto& [key, values] : e.axes) out += (out.empty() ? "" : "; ") + key + " in " + join(values, ",");
  if (!e.transfer_tasks.empty()) out += (out.empty() ? "" : "; ") + std::string("evaluate on ") + join(e.transfer_tasks, ",");
  return out;
}

int list(const Invocation& in) {
  const auto& o = in.options;
  analysis::Table t({"name", "tags", "axes", "description"});
  for (const auto& e : registry::registered_experiments()) {
    t.add_row({e.name, join(e.tags, ","), axes_text(e), e.description});
  }
  if (in.world.rank() == 0) std::cout << t.render(table_format(o));
  return kExitOk;
}

int show(const Invocation& in) {
  const auto& o = in.options;
  const auto& e = registry::find_experiment(required(o, "name", "epalm experiments show <name>"));
  if (in.world.rank() != 0) return kExitOk;
  std::cout << "# experiment: " << e.name << "\n# " << e.description << "\n# tags: " << join(e.tags, ", ") << "\n";
  if (!e.axes.empty() || !e.transfer_tasks.empty()) std::cout << "# ablation: " << axes_text(e) << "\n";
  for (const auto& ov : e.overrides) {
    std::string match, set;
    for (const auto& [k, v] : ov.match) match += (match.empty() ? "" : ", ") + k + "=" + v;
    for (const auto& [k, v] : ov.set) set += (set.empty() ? "" : ", ") + k + "=" + v;
    std::cout << "# where " << match << ": " << set << "\n";
  }
  try {
    const auto share = experiments::parameter_share(e.base);
    std::cout << "# trainable parameters: " << share.trainable << " of " << share.total() << " (" << share.percent()
              << "%): frozen decoder " << share.decoder << ", frozen encoder " << share.encoder << "\n";
  } catch (const Error& error) {  // models named by a folder that is not there (yet)
    std::cout << "# trainable parameters: counted once its models exist (" << error.what() << ")\n";
  }
  std::cout << "# base configuration (load with --config FILE)\n";
  registry::write_config_ini(e.base, std::cout);
  return kExitOk;
}

int run_experiments(const Invocation& in) { return run_action(in, {{"list", list}, {"show", show}}, "list"); }

}  // namespace

Command experiments_command() {
  return {"experiments",
          "The registered experiments: the paper's variants and ablation axes.\n\n"
          "  epalm experiments list [--format text|csv|md|json]\n"
          "  epalm experiments show <name>     the base configuration as an INI file (--config)",
          [](po::options_description& settings) {
            settings.add_options()                                                     //
                ("action", po::value<std::string>(), "list or show (the first argument)")  //
                ("name", po::value<std::string>(), "show: the experiment (the second argument)")  //
                ("format", po::value<std::string>()->default_value("text"), "list: text, csv, md or json");
          },
          run_experiments, {"action", "name"}};
}

}  // namespace epalm::cli
