#include "epalm/core/models/state_dict.h"

#include <spdlog/spdlog.h>

#include <set>

#include "epalm/core/error.h"

namespace epalm::models {

namespace {

constexpr std::size_t kListedNames = 20;

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kListedNames; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kListedNames) out += ", ... (" + std::to_string(names.size() - kListedNames) + " more)";
  return out;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string count(std::size_t n, const std::string& what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

std::string unexpected_text(const std::vector<std::string>& unexpected) {
  return "unexpected " + count(unexpected.size(), "tensor") + ": " + name_list(unexpected);
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.compare(0, prefix.size(), prefix) == 0; }

// The model name `name` itself, then its alias group's other names, in order.
std::vector<std::string> names_for(const std::string& name, const KeyMapping& mapping) {
  std::vector<std::string> names{name};
  for (const auto& group : mapping.aliases) {
    bool in_group = false;
    for (const auto& alias : group) in_group = in_group || alias == name;
    if (!in_group) continue;
    for (const auto& alias : group) {
      if (alias != name) names.push_back(alias);
    }
  }
  return names;
}

}  // namespace

StateDictMatch match_state_dict(const TensorShapes& expected, const TensorShapes& checkpoint,
                                const KeyMapping& mapping) {
  StateDictMatch match;
  std::set<std::string> used;
  for (const auto& [name, shape] : expected) {
    // The first of the names (model name, then aliases) the checkpoint holds,
    // bare or under one prefix. A tied copy under another alias counts as used.
    std::string source;
    for (const auto& candidate : names_for(name, mapping)) {
      std::vector<std::string> stored;
      if (checkpoint.count(candidate)) stored.push_back(candidate);
      for (const auto& prefix : mapping.prefixes) {
        if (checkpoint.count(prefix + candidate)) stored.push_back(prefix + candidate);
      }
      used.insert(stored.begin(), stored.end());
      if (stored.size() > 1 && source.empty()) match.ambiguous[name] = stored;
      if (!stored.empty() && source.empty()) source = stored.front();
    }
    if (source.empty()) {
      match.missing.push_back(name);
      continue;
    }
    match.source[name] = source;
    const auto& found = checkpoint.at(source);
    if (found != shape) match.mismatched.push_back({name, source, shape, found});
  }
  for (const auto& [name, shape] : checkpoint) {
    bool ignored = false;
    for (const auto& prefix : mapping.ignore) ignored = ignored || starts_with(name, prefix);
    if (!used.count(name) && !ignored) match.unexpected.push_back(name);
  }
  return match;
}

std::string StateDictMatch::describe() const {
  std::vector<std::string> parts;
  if (!missing.empty()) parts.push_back("missing " + count(missing.size(), "tensor") + ": " + name_list(missing));
  for (std::size_t i = 0; i < mismatched.size() && i < kListedNames; ++i) {
    const auto& m = mismatched[i];
    parts.push_back("shape mismatch: " + m.name + (m.source == m.name ? "" : " (stored as " + m.source + ")") +
                    " expects " + shape_text(m.expected) + ", the checkpoint has " + shape_text(m.found));
  }
  if (mismatched.size() > kListedNames) {
    parts.push_back(std::to_string(mismatched.size() - kListedNames) + " more shape mismatches");
  }
  for (const auto& [name, stored] : ambiguous) {
    parts.push_back(name + " is stored more than once: " + name_list(stored));
  }
  if (!unexpected.empty()) parts.push_back(unexpected_text(unexpected));
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out.empty() ? "every tensor matches" : out;
}

void StateDictMatch::require(const std::string& where, bool allow_unexpected) const {
  if (!complete() || (!allow_unexpected && !unexpected.empty())) throw Error(where, describe());
  // HF logs these and carries on; so do we, loudly.
  if (!unexpected.empty()) spdlog::warn("{}: {}", where, unexpected_text(unexpected));
}

}  // namespace epalm::models
