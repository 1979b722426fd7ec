#include "epalm/registry/sweep.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/registry/hashing.h"

namespace epalm::registry {

using json = nlohmann::ordered_json;

namespace {

// A JSON scalar as setting text: "0.01", "true", "opt-2.7b".
std::string scalar_text(const json& value, const std::string& where, const std::string& what) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number()) return value.dump();
  throw UsageError(where, what + " must be a string, number or boolean, not " + value.dump());
}

Config config_of(const json& object, const std::string& where, const std::string& what) {
  if (!object.is_object()) throw UsageError(where, what + " must be an object of settings");
  Config config;
  for (const auto& [key, value] : object.items()) config[key] = scalar_text(value, where, what + "." + key);
  return config;
}

std::string line_column(const std::string& text, size_t byte) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

bool matches(const Config& cell, const Config& match) {
  for (const auto& [key, value] : match) {
    const auto it = cell.find(key);
    if (it == cell.end() || canonical_value(it->second) != canonical_value(value)) return false;
  }
  return true;
}

std::string describe(const Config& config) {
  std::string out;
  for (const auto& [k, v] : config) out += (out.empty() ? "" : ", ") + k + "=" + v;
  return "{" + out + "}";
}

}  // namespace

SweepSpec parse_sweep_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(path, "cannot read the sweep file");
  std::stringstream s;
  s << in.rdbuf();
  auto spec = parse_sweep_json(s.str(), path);
  spec.source = path;
  return spec;
}

SweepSpec parse_sweep_json(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw UsageError(where + ":" + line_column(text, e.byte == 0 ? 0 : e.byte - 1),
                     std::string("malformed sweep file (JSON): ") + e.what());
  } catch (const json::exception& e) {  // e.g. a number too large for any JSON number type
    throw UsageError(where, std::string("malformed sweep file (JSON): ") + e.what());
  }
  if (!j.is_object()) throw UsageError(where, "a sweep file is a JSON object");
  static const std::set<std::string> known = {"name",     "experiment",    "set",     "variants", "axes",       "seeds",
                                              "overrides", "max-retries", "lease-seconds", "command", "launcher",
                                              "output-dir", "spool"};
  for (const auto& [key, value] : j.items()) {
    if (!known.count(key)) {
      std::string fields;
      for (const auto& k : known) fields += (fields.empty() ? "" : ", ") + k;
      throw UsageError(where, "unknown field '" + key + "' (fields: " + fields + ")");
    }
  }
  SweepSpec spec;
  spec.source = where;
  auto text_of = [&](const char* key) -> std::string {
    if (!j.contains(key)) throw UsageError(where, std::string("the sweep file has no '") + key + "'");
    if (!j[key].is_string() || j[key].get<std::string>().empty()) {
      throw UsageError(where, std::string("'") + key + "' must be a non-empty string");
    }
    return j[key].get<std::string>();
  };
  spec.name = text_of("name");
  spec.experiment = text_of("experiment");
  try {
    find_experiment(spec.experiment);
  } catch (const UsageError& e) {
    throw UsageError(where, e.reason());
  }
  if (j.contains("set")) spec.set = config_of(j["set"], where, "set");
  if (j.contains("variants")) {
    if (!j["variants"].is_array() || j["variants"].empty()) {
      throw UsageError(where, "'variants' must be a non-empty list of objects of settings");
    }
    int n = 0;
    for (const auto& v : j["variants"]) {
      const auto what = "variant " + std::to_string(++n);
      if (!v.is_object()) throw UsageError(where, what + " must be an object of settings");
      spec.variants.push_back(config_of(v, where, what));
    }
  }
  if (j.contains("axes")) {
    if (!j["axes"].is_object()) throw UsageError(where, "'axes' must be an object: setting -> list of values");
    for (const auto& [key, values] : j["axes"].items()) {
      if (!values.is_array() || values.empty()) {
        throw UsageError(where, "axis '" + key + "' must be a non-empty list of values");
      }
      std::vector<std::string> texts;
      for (const auto& v : values) texts.push_back(scalar_text(v, where, "axis '" + key + "'"));
      spec.axes.emplace_back(key, texts);
    }
  }
  if (j.contains("seeds")) {
    if (!j["seeds"].is_array()) throw UsageError(where, "'seeds' must be a list of integers");
    for (const auto& s : j["seeds"]) {
      if (!s.is_number_integer()) throw UsageError(where, "'seeds' must be a list of integers, not " + s.dump());
      spec.seeds.push_back(s.get<std::int64_t>());
    }
  }
  if (j.contains("overrides")) {
    if (!j["overrides"].is_array()) throw UsageError(where, "'overrides' must be a list of {match, set} objects");
    int n = 0;
    for (const auto& o : j["overrides"]) {
      ++n;
      const auto what = "override " + std::to_string(n);
      if (!o.is_object() || !o.contains("match") || !o.contains("set") || o.size() != 2) {
        throw UsageError(where, what + " must be an object with exactly 'match' and 'set'");
      }
      spec.overrides.push_back({config_of(o["match"], where, what + " match"), config_of(o["set"], where, what + " set")});
    }
  }
  if (j.contains("max-retries")) {
    if (!j["max-retries"].is_number_integer() || j["max-retries"].get<int>() < 0) {
      throw UsageError(where, "'max-retries' must be an integer >= 0");
    }
    spec.max_retries = j["max-retries"].get<int>();
  }
  if (j.contains("lease-seconds")) {
    if (!j["lease-seconds"].is_number() || j["lease-seconds"].get<double>() <= 0) {
      throw UsageError(where, "'lease-seconds' must be a number > 0");
    }
    spec.lease_seconds = j["lease-seconds"].get<double>();
  }
  for (const auto* key : {"command", "launcher"}) {
    if (!j.contains(key)) continue;
    auto& target = std::string(key) == "command" ? spec.command : spec.launcher;
    if (!j[key].is_array()) throw UsageError(where, std::string("'") + key + "' must be a list of strings");
    for (const auto& a : j[key]) {
      if (!a.is_string()) throw UsageError(where, std::string("'") + key + "' must be a list of strings");
      target.push_back(a.get<std::string>());
    }
  }
  if (j.contains("command") && spec.command.empty()) throw UsageError(where, "'command' is empty");
  if (spec.command.empty()) spec.command = {"{epalm}", "train", "--config", "{config}"};
  if (j.contains("output-dir")) {
    if (!j["output-dir"].is_string()) throw UsageError(where, "'output-dir' must be a string");
    spec.output_dir = j["output-dir"].get<std::string>();
  }
  if (j.contains("spool")) {
    if (!j["spool"].is_boolean()) throw UsageError(where, "'spool' must be true or false");
    spec.spool = j["spool"].get<bool>();
  }
  spec.spec_json = j.dump();
  spec.spec_hash = sha256_hex(spec.spec_json);
  return spec;
}

std::vector<std::string> sweep_dimensions(const SweepSpec& spec) {
  std::vector<std::string> out;
  auto add = [&](const std::string& key) {
    if (std::find(out.begin(), out.end(), key) == out.end()) out.push_back(key);
  };
  for (const auto& variant : spec.variants) {
    for (const auto& [key, value] : variant) add(key);
  }
  for (const auto& [key, values] : spec.axes) add(key);
  if (!spec.seeds.empty()) add("seed");
  return out;
}

std::vector<SweepCell> expand_sweep(const SweepSpec& spec) {
  const auto& where = spec.source;
  const auto& experiment = find_experiment(spec.experiment);
  auto axes = spec.axes;
  std::vector<ConditionalOverride> registered_overrides;
  if (axes.empty()) {
    // A sweep of an ablation without axes of its own sweeps the registered ones.
    for (const auto& [key, values] : experiment.axes) axes.emplace_back(key, values);
    registered_overrides = experiment.overrides;
  }
  std::set<std::string> axis_keys;
  for (const auto& [key, values] : axes) {
    if (!axis_keys.insert(key).second) throw UsageError(where, "axis '" + key + "' is given twice");
    if (spec.set.count(key)) {
      throw UsageError(where, "conflicting settings: '" + key + "' is both an axis and fixed in 'set'");
    }
  }
  if (!spec.seeds.empty()) {
    if (axis_keys.count("seed")) throw UsageError(where, "conflicting settings: 'seed' is an axis and 'seeds' is given");
    if (spec.set.count("seed")) throw UsageError(where, "conflicting settings: 'seed' is fixed in 'set' and 'seeds' is given");
    axes.emplace_back("seed", std::vector<std::string>());
    for (auto s : spec.seeds) axes.back().second.push_back(std::to_string(s));
    axis_keys.insert("seed");
  }
  for (size_t i = 0; i < spec.variants.size(); ++i) {
    for (const auto& [key, value] : spec.variants[i]) {
      const auto what = "variant " + std::to_string(i + 1);
      if (axis_keys.count(key)) throw UsageError(where, "conflicting settings: " + what + " sets '" + key + "', which is an axis");
      if (spec.set.count(key)) {
        throw UsageError(where, "conflicting settings: " + what + " sets '" + key + "', which is fixed in 'set'");
      }
    }
  }
  for (const auto& variant : spec.variants) {
    for (const auto& [key, value] : variant) axis_keys.insert(key);  // overrides may match on them
  }
  for (size_t i = 0; i < spec.overrides.size(); ++i) {
    const auto what = "override " + std::to_string(i + 1);
    for (const auto& [key, value] : spec.overrides[i].match) {
      if (!axis_keys.count(key)) {
        throw UsageError(where, what + " matches on '" + key + "', which is no axis or variant setting");
      }
    }
    for (const auto& [key, value] : spec.overrides[i].set) {
      if (axis_keys.count(key)) {
        throw UsageError(where, "conflicting settings: " + what + " sets '" + key + "', which is an axis or variant setting");
      }
    }
  }

  // Every variant, then every combination of axes, the last axis varying fastest.
  std::vector<Config> combinations = spec.variants.empty() ? std::vector<Config>{{}} : spec.variants;
  for (const auto& [key, values] : axes) {
    std::vector<Config> next;
    for (const auto& partial : combinations) {
      for (const auto& v : values) {
        auto c = partial;
        c[key] = v;
        next.push_back(std::move(c));
      }
    }
    combinations = std::move(next);
  }

  std::vector<SweepCell> cells;
  std::vector<bool> override_used(spec.overrides.size(), false);
  std::map<std::string, std::int64_t> seen;
  for (const auto& combination : combinations) {
    SweepCell cell;
    cell.index = static_cast<std::int64_t>(cells.size());
    cell.axes = combination;
    cell.config = experiment.base;
    for (const auto& o : registered_overrides) {
      if (matches(combination, o.match)) {
        for (const auto& [k, v] : o.set) cell.config[k] = v;
      }
    }
    for (const auto& [k, v] : spec.set) cell.config[k] = v;
    for (const auto& [k, v] : combination) cell.config[k] = v;
    std::map<std::string, size_t> set_by;  // key -> the override that set it
    for (size_t i = 0; i < spec.overrides.size(); ++i) {
      if (!matches(combination, spec.overrides[i].match)) continue;
      override_used[i] = true;
      for (const auto& [k, v] : spec.overrides[i].set) {
        if (auto it = set_by.find(k); it != set_by.end() &&
                                      canonical_value(spec.overrides[it->second].set.at(k)) != canonical_value(v)) {
          throw UsageError(where, "conflicting overrides for cell " + describe(combination) + ": override " +
                                      std::to_string(it->second + 1) + " sets " + k + "=" +
                                      spec.overrides[it->second].set.at(k) + ", override " + std::to_string(i + 1) +
                                      " sets " + k + "=" + v);
        }
        set_by[k] = i;
        cell.config[k] = v;
      }
    }
    check_training_config(cell.config, where + ": cell " + describe(combination));
    cell.hash = config_hash(cell.config);
    if (auto [it, fresh] = seen.emplace(cell.hash, cell.index); !fresh) {
      throw UsageError(where, "cells " + std::to_string(it->second) + " and " + std::to_string(cell.index) +
                                  " resolve to the same configuration " + describe(combination));
    }
    cells.push_back(std::move(cell));
  }
  for (size_t i = 0; i < spec.overrides.size(); ++i) {
    if (!override_used[i]) {
      throw UsageError(where, "override " + std::to_string(i + 1) + " " + describe(spec.overrides[i].match) +
                                  " matches no cell");
    }
  }
  return cells;
}

}  // namespace epalm::registry
