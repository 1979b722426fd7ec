// Layered configuration: an experiment's defaults < EPALM_* environment
// variables < config files (INI syntax, later files override earlier) < the
// command line. Every resolved value keeps
// the layer it came from, so `--print-config` can say why a value is what it is.
#pragma once

#include <boost/program_options.hpp>

#include <iosfwd>
#include <string>
#include <vector>

namespace epalm::registry {

namespace po = boost::program_options;

struct ResolvedOption {
  std::string key;
  std::string value;   // as text; empty with `set == false`
  std::string source;  // "default", "environment EPALM_X", "file <path>" or "command line"
  bool set = true;
};

class ResolvedConfig {
 public:
  explicit ResolvedConfig(std::vector<ResolvedOption> options) : options_(std::move(options)) {}
  const std::vector<ResolvedOption>& options() const { return options_; }
  const ResolvedOption* find(const std::string& key) const;
  // Writes a config file that reproduces this configuration, one
  // `key = value  # source` line each; unset options are commented out.
  void write_ini(std::ostream& out) const;

 private:
  std::vector<ResolvedOption> options_;
};

// Parses one INI config file against `settings`. Throws epalm::Error naming the
// file when it cannot be read, and UsageError naming it for unknown options or
// malformed lines.
po::parsed_options parse_config_file(const std::string& path, const po::options_description& settings);

// Stores into `vm`, highest precedence first (Boost keeps the first value it
// stores): the command line, then `config_files` from last to first, then the
// environment (EPALM_LOG_LEVEL sets --log-level: "EPALM_" + the option's name in
// upper case with '-' as '_'), then the defaults of `settings`. Returns each
// setting's value and source.
ResolvedConfig resolve(const po::options_description& settings, const po::parsed_options& command_line,
                       const std::vector<std::string>& config_files, po::variables_map& vm);

// The option an environment variable sets ("EPALM_LOG_LEVEL" -> "log-level"),
// or "" when it names none of `settings`.
std::string option_for_environment_variable(const std::string& variable, const po::options_description& settings);

// A stored option's value as text (the types our options use), "" if empty.
std::string value_text(const po::variable_value& value);

// e.what() of a Boost.Program_options error, safe for any input: Boost fills
// its message's %placeholders% with the user's tokens, and a token holding
// its own placeholder ("%original_token%") made it loop forever.
std::string po_error_message(const po::error& e);

}  // namespace epalm::registry
