// Reading a tokenizer from Hugging Face files, with HF's precedence between them
// (PreTrainedTokenizerBase._from_pretrained, transformers 4.57).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "text/byte_unicode.h"
#include "epalm/core/error.h"
#include "epalm/core/text/tokenizer.h"
#include "text/tokenizer_impl.h"

namespace epalm::text {

namespace {

using nlohmann::json;
using detail::DeclaredToken;
using detail::Merge;
using detail::Vocab;
namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  if (!fs::exists(path)) throw Error(path, "file not found");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open file");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

json read_json(const std::string& path) {
  try {
    return json::parse(read_text(path));
  } catch (const json::exception& e) {
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
}

json read_json_object(const std::string& path) {
  json j = read_json(path);
  if (!j.is_object()) throw Error(path, "expected a JSON object, got " + std::string(j.type_name()));
  return j;
}

Vocab read_vocab(const std::string& path) {
  const json j = read_json_object(path);
  if (j.empty()) throw Error(path, "the vocabulary is empty");
  Vocab vocab;
  vocab.reserve(j.size());
  for (const auto& [token, id] : j.items()) {
    if (!id.is_number_integer()) throw Error(path, "token \"" + token + "\": id must be an integer, got " + id.dump());
    vocab.emplace(token, id.get<TokenId>());
  }
  return vocab;
}

std::vector<std::string> split_whitespace(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

// GPT2Tokenizer reads `read().split("\n")[1:-1]` with Python's universal newlines:
// the first line (the "#version" header) and whatever follows the last newline
// are not merges.
std::vector<Merge> read_merges(const std::string& path) {
  std::string text = read_text(path);
  if (auto bad = detail::find_invalid_utf8(text); bad != std::string::npos) {
    throw Error(path, "not UTF-8 (byte " + std::to_string(bad) + ")");
  }
  std::vector<std::string> lines;
  std::string line;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      lines.push_back(std::move(line));
      line.clear();
    } else {
      line += c;
    }
  }
  lines.push_back(std::move(line));
  std::vector<Merge> merges;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    const auto fields = split_whitespace(lines[i]);
    if (fields.empty()) continue;  // a blank line holds no pair, in HF too
    if (fields.size() != 2) {
      throw Error(path + ":" + std::to_string(i + 1),
                  "expected two symbols separated by a space, got \"" + lines[i] + "\"");
    }
    merges.push_back(Merge{fields[0], fields[1], i + 1});
  }
  return merges;
}

bool flag(const json& object, const char* key, bool fallback, const std::string& where) {
  if (!object.contains(key) || object[key].is_null()) return fallback;
  if (!object[key].is_boolean()) throw Error(where, std::string("\"") + key + "\" must be true or false");
  return object[key].get<bool>();
}

// A special token is written as "</s>" or as an AddedToken object {"content": "</s>", ...}.
std::optional<std::string> token_content(const json& value, const std::string& key, const std::string& path) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  throw Error(path, "\"" + key + "\" must be a string or an object with a \"content\" string");
}

// Reads the special-token names a tokenizer_config.json or special_tokens_map.json sets.
void read_special_tokens(const json& j, const std::string& path, TokenizerConfig& config) {
  const std::pair<const char*, std::optional<std::string>*> named[] = {
      {"bos_token", &config.bos_token},
      {"eos_token", &config.eos_token},
      {"unk_token", &config.unk_token},
      {"pad_token", &config.pad_token}};
  for (const auto& [key, field] : named) {
    if (j.contains(key)) *field = token_content(j[key], key, path);
  }
  if (!j.contains("additional_special_tokens") || j["additional_special_tokens"].is_null()) return;
  if (!j["additional_special_tokens"].is_array()) throw Error(path, "\"additional_special_tokens\" must be a list");
  for (const auto& item : j["additional_special_tokens"]) {
    auto content = token_content(item, "additional_special_tokens", path);
    auto& list = config.additional_special_tokens;
    if (content && std::find(list.begin(), list.end(), *content) == list.end()) list.push_back(*content);
  }
}

DeclaredToken declared_token(const json& value, TokenId id, const std::string& path) {
  if (!value.is_object() || !value.contains("content") || !value["content"].is_string()) {
    throw Error(path, "added token " + std::to_string(id) + " must be an object with a \"content\" string");
  }
  DeclaredToken d;
  d.token.content = value["content"].get<std::string>();
  d.token.id = id;
  d.token.special = flag(value, "special", false, path);
  d.token.lstrip = flag(value, "lstrip", false, path);
  d.token.rstrip = flag(value, "rstrip", false, path);
  d.single_word = flag(value, "single_word", false, path);
  d.source = path;
  return d;
}

TokenId parse_id(const std::string& text, const std::string& path) {
  std::size_t used = 0;
  long long id = -1;
  try {
    id = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || id < 0) throw Error(path, "added token key \"" + text + "\" is not a token id");
  return id;
}

// tokenizer_config.json in the current format: added_tokens_decoder {"2": {...}}.
std::vector<DeclaredToken> read_added_tokens_decoder(const json& decoder, const std::string& path) {
  if (!decoder.is_object()) throw Error(path, "\"added_tokens_decoder\" must be an object of id -> token");
  std::vector<DeclaredToken> tokens;
  for (const auto& [key, value] : decoder.items()) tokens.push_back(declared_token(value, parse_id(key, path), path));
  return tokens;
}

// The legacy files: added_tokens.json {"<tok>": id}, and tokenizer.json's "added_tokens".
void read_legacy_added_tokens(const std::string& directory, const TokenizerConfig& config,
                              std::vector<DeclaredToken>& tokens) {
  const std::string added_path = directory + "/added_tokens.json";
  if (fs::exists(added_path)) {
    const auto special_names = detail::special_token_names(config);
    const json added = read_json_object(added_path);
    for (const auto& [content, id] : added.items()) {
      if (!id.is_number_integer() || id.get<TokenId>() < 0) {
        throw Error(added_path, "token \"" + content + "\": id must be a non-negative integer");
      }
      DeclaredToken d;
      d.token.content = content;
      d.token.id = id.get<TokenId>();
      d.token.special = std::find(special_names.begin(), special_names.end(), content) != special_names.end();
      d.source = added_path;
      tokens.push_back(d);
    }
  }
  const std::string fast_path = directory + "/tokenizer.json";
  if (fs::exists(fast_path)) {
    const json j = read_json_object(fast_path);
    if (!j.contains("added_tokens")) return;
    if (!j["added_tokens"].is_array()) throw Error(fast_path, "\"added_tokens\" must be a list");
    for (const auto& item : j["added_tokens"]) {
      if (!item.is_object() || !item.contains("id") || !item["id"].is_number_integer()) {
        throw Error(fast_path, "each of \"added_tokens\" needs an integer \"id\"");
      }
      tokens.push_back(declared_token(item, item["id"].get<TokenId>(), fast_path));
    }
  }
}

void read_settings(const json& j, const std::string& path, TokenizerConfig& config) {
  config.add_bos_token = flag(j, "add_bos_token", config.add_bos_token, path);
  config.add_prefix_space = flag(j, "add_prefix_space", config.add_prefix_space, path);
  config.clean_up_tokenization_spaces =
      flag(j, "clean_up_tokenization_spaces", config.clean_up_tokenization_spaces, path);
  // Decoding always replaces invalid UTF-8; "strict" and "ignore" would differ.
  if (j.contains("errors") && j["errors"] != "replace") {
    throw Error(path, "\"errors\": only \"replace\" is supported, got " + j["errors"].dump());
  }
}

std::shared_ptr<const Tokenizer::Impl> load(const std::string& vocab_path, const std::string& merges_path,
                                             TokenizerConfig config, const std::vector<DeclaredToken>& declared) {
  Vocab vocab = read_vocab(vocab_path);
  detail::BpeModel model(std::move(vocab), read_merges(merges_path), vocab_path, merges_path);
  return detail::build_tokenizer(std::move(model), std::move(config), declared, vocab_path);
}

}  // namespace

TokenizerConfig TokenizerConfig::opt() {
  TokenizerConfig c;
  c.bos_token = c.eos_token = c.unk_token = "</s>";
  c.pad_token = "<pad>";
  c.add_bos_token = true;
  return c;
}

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Tokenizer Tokenizer::from_files(const std::string& vocab_json, const std::string& merges_txt,
                                const TokenizerConfig& config) {
  return Tokenizer(load(vocab_json, merges_txt, config, {}));
}

Tokenizer Tokenizer::from_directory(const std::string& directory, const TokenizerOverrides& overrides) {
  if (!fs::is_directory(directory)) throw Error(directory, "not a tokenizer directory (no such directory)");
  TokenizerConfig config;  // GPT2Tokenizer's defaults, as HF starts from
  std::vector<DeclaredToken> declared;
  const std::string config_path = directory + "/tokenizer_config.json";
  const std::string special_path = directory + "/special_tokens_map.json";
  json tokenizer_config = json::object();
  if (fs::exists(config_path)) {
    tokenizer_config = read_json_object(config_path);
    read_settings(tokenizer_config, config_path, config);
    read_special_tokens(tokenizer_config, config_path, config);
  }
  if (tokenizer_config.contains("added_tokens_decoder")) {
    // Current format: the config is complete; the legacy files are not read.
    declared = read_added_tokens_decoder(tokenizer_config["added_tokens_decoder"], config_path);
  } else {
    if (fs::exists(special_path)) read_special_tokens(read_json_object(special_path), special_path, config);
    read_legacy_added_tokens(directory, config, declared);
  }
  if (overrides.add_bos_token) config.add_bos_token = *overrides.add_bos_token;
  if (overrides.add_prefix_space) config.add_prefix_space = *overrides.add_prefix_space;
  if (overrides.clean_up_tokenization_spaces) {
    config.clean_up_tokenization_spaces = *overrides.clean_up_tokenization_spaces;
  }
  for (const auto& token : overrides.additional_special_tokens) {
    auto& list = config.additional_special_tokens;
    if (std::find(list.begin(), list.end(), token) == list.end()) list.push_back(token);
  }
  return Tokenizer(load(directory + "/vocab.json", directory + "/merges.txt", std::move(config), declared));
}

}  // namespace epalm::text
