// The settings every results-store command shares: where the database is,
// and how tables print.
#pragma once

#include <boost/program_options.hpp>

#include <string>

#include "epalm/analysis/table.h"
#include "epalm/registry/results_store.h"

namespace epalm::cli {

namespace po = boost::program_options;

inline void add_results_settings(po::options_description& settings) {
  settings.add_options()  //
      ("results", po::value<std::string>()->default_value(registry::default_results_path()),
       "the SQLite results database (EPALM_RESULTS sets it; default $EPALM_HOME/results.sqlite or "
       "~/.cache/epalm/results.sqlite)")  //
      ("format", po::value<std::string>()->default_value("text"), "tables as text, csv, md or json");
}

inline std::string results_path(const po::variables_map& options) { return options["results"].as<std::string>(); }

inline analysis::TableFormat table_format(const po::variables_map& options) {
  return analysis::parse_table_format(options["format"].as<std::string>());
}

// A positional argument the action needs, or a usage error saying which.
inline std::string required(const po::variables_map& options, const std::string& name, const std::string& usage) {
  if (!options.count(name) || options[name].as<std::string>().empty()) {
    throw UsageError(name, "missing; usage: " + usage);
  }
  return options[name].as<std::string>();
}

}  // namespace epalm::cli
