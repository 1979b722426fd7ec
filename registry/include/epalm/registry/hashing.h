// SHA-256 (OpenSSL) of text and files, and the canonical form of a resolved
// configuration whose hash identifies a run's settings.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace epalm::registry {

std::string sha256_hex(std::string_view data);
// Throws epalm::Error naming the file when it cannot be read. `bytes` gets its size.
std::string sha256_file(const std::string& path, std::int64_t* bytes = nullptr);

// Keys that say where things go, not what is computed: left out of the hash.
bool is_non_semantic_key(const std::string& key);

// Normalises a value: numbers to their shortest round-trip form ("1e-4" and
// "0.0001" agree), booleans to true/false; other text unchanged.
std::string canonical_value(const std::string& value);

// The configuration as canonical JSON: sorted keys, canonical values,
// non-semantic keys dropped.
std::string canonical_config_json(const std::map<std::string, std::string>& config);
// SHA-256 of canonical_config_json.
std::string config_hash(const std::map<std::string, std::string>& config);

}  // namespace epalm::registry
