#include "epalm/registry/config.h"

#include <cctype>
#include <cstdint>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>

#include "epalm/core/error.h"

namespace epalm::registry {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

template <typename T>
bool try_text(const boost::any& value, std::string& out) {
  if (const T* typed = boost::any_cast<T>(&value)) {
    std::ostringstream s;
    s << std::boolalpha << *typed;
    out = s.str();
    return true;
  }
  return false;
}

// Keys present in one layer's parsed tokens.
std::map<std::string, bool> keys_of(const po::parsed_options& parsed) {
  std::map<std::string, bool> keys;
  for (const auto& option : parsed.options) {
    if (!option.unregistered) keys[option.string_key] = true;
  }
  return keys;
}

}  // namespace

const ResolvedOption* ResolvedConfig::find(const std::string& key) const {
  for (const auto& option : options_) {
    if (option.key == key) return &option;
  }
  return nullptr;
}

void ResolvedConfig::write_ini(std::ostream& out) const {
  for (const auto& option : options_) {
    if (option.set) {
      out << option.key << " = " << option.value << "  # " << option.source << "\n";
    } else {
      out << "# " << option.key << " =  # unset\n";
    }
  }
}

std::string value_text(const po::variable_value& value) {
  if (value.empty()) return "";
  const boost::any& any = value.value();
  std::string out;
  if (try_text<std::string>(any, out) || try_text<int>(any, out) || try_text<std::int64_t>(any, out) || try_text<std::uint64_t>(any, out) ||
      try_text<unsigned>(any, out) || try_text<double>(any, out) || try_text<float>(any, out) ||
      try_text<bool>(any, out)) {
    return out;
  }
  if (const auto* list = boost::any_cast<std::vector<std::string>>(&any)) return join(*list);
  if (const auto* ints = boost::any_cast<std::vector<int>>(&any)) {
    std::vector<std::string> items;
    for (int v : *ints) items.push_back(std::to_string(v));
    return join(items);
  }
  return "<unprintable>";
}

std::string option_for_environment_variable(const std::string& variable, const po::options_description& settings) {
  static const std::string prefix = "EPALM_";
  if (variable.compare(0, prefix.size(), prefix) != 0) return "";
  std::string name;
  for (char c : variable.substr(prefix.size())) name += c == '_' ? '-' : static_cast<char>(std::tolower(c));
  return settings.find_nothrow(name, /*approx=*/false) ? name : "";
}

namespace {

// Reaches the protected substitutions of a Boost error through a member
// pointer named via a derived class (the language allows it).
struct ErrorAccess : po::error_with_option_name {
  using po::error_with_option_name::error_with_option_name;
  static std::map<std::string, std::string>& substitutions(po::error_with_option_name& e) {
    return e.*(&ErrorAccess::m_substitutions);
  }
};

}  // namespace

std::string po_error_message(const po::error& e) {
  const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
  if (named == nullptr) return e.what();
  auto copy = *named;
  for (auto& [key, value] : ErrorAccess::substitutions(copy)) {
    std::string safe;
    for (const char c : value) safe += c == '%' ? std::string("\xEF\xBC\x85") : std::string(1, c);  // U+FF05
    value = safe;
  }
  return copy.what();
}

namespace {

// Refuses a line whose key is no setting name before Boost.Program_options
// sees it: its error message for a key holding "%original_token%" substitutes
// that placeholder into itself forever (found by tests/fuzz ini_config).
void check_keys(const std::string& text, const std::string& path) {
  std::istringstream lines(text);
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#' || line[first] == ';' || line[first] == '[') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;  // Boost's own error names the malformed line
    auto key = line.substr(first, eq - first);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t' || key.back() == '\r')) key.pop_back();
    for (const char c : key) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        throw UsageError(path, "line " + std::to_string(number) + ": '" + key +
                                   "' is not a setting name (letters, digits, '-', '_' and '.')");
      }
    }
  }
}

}  // namespace

po::parsed_options parse_config_file(const std::string& path, const po::options_description& settings) {
  std::ifstream file(path);
  if (!file) throw Error(path, "cannot open config file");
  std::stringstream text;
  text << file.rdbuf();
  check_keys(text.str(), path);
  std::istringstream in(text.str());
  try {
    return po::parse_config_file(in, settings, /*allow_unregistered=*/false);
  } catch (const po::error& e) {
    throw UsageError(path, po_error_message(e));
  }
}

ResolvedConfig resolve(const po::options_description& settings, const po::parsed_options& command_line,
                       const std::vector<std::string>& config_files, po::variables_map& vm) {
  // Layers from lowest to highest precedence, after the defaults.
  std::vector<std::pair<std::string, po::parsed_options>> layers;
  std::map<std::string, std::string> variable_of;  // option -> the variable that set it
  layers.emplace_back("environment", po::parse_environment(settings, [&](const std::string& variable) {
    auto name = option_for_environment_variable(variable, settings);
    if (!name.empty()) variable_of[name] = variable;
    return name;
  }));
  for (const auto& path : config_files) layers.emplace_back("file " + path, parse_config_file(path, settings));

  auto store = [&vm](const po::parsed_options& parsed, const std::string& where) {
    try {
      po::store(parsed, vm);
    } catch (const po::error& e) {
      throw UsageError(where, po_error_message(e));
    }
  };
  store(command_line, "command line");
  for (size_t i = layers.size(); i-- > 0;) {
    store(layers[i].second, i == 0 ? "environment" : layers[i].first.substr(std::string("file ").size()));
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError("configuration", po_error_message(e));
  }

  const auto cli_keys = keys_of(command_line);
  std::vector<std::map<std::string, bool>> layer_keys;
  for (const auto& layer : layers) layer_keys.push_back(keys_of(layer.second));

  std::vector<ResolvedOption> resolved;
  for (const auto& description : settings.options()) {
    const std::string& key = description->long_name();
    ResolvedOption option{key, "", "default", true};
    if (cli_keys.count(key)) {
      option.source = "command line";
    } else {
      for (size_t i = layers.size(); i-- > 0;) {
        if (layer_keys[i].count(key)) {
          option.source = i == 0 ? "environment " + variable_of[key] : layers[i].first;
          break;
        }
      }
    }
    auto found = vm.find(key);
    if (found == vm.end() || found->second.empty()) {
      option.set = false;
    } else {
      option.value = value_text(found->second);
    }
    resolved.push_back(option);
  }
  return ResolvedConfig(std::move(resolved));
}

}  // namespace epalm::registry
