// Reading annotation JSON with errors that name the file and the record:
// "GQA/train.json: record 12: 'label' must be an object of answer -> score".
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace epalm::data {

// Objects keep the file's key order (label answers, in particular).
using Json = nlohmann::ordered_json;

// Parses a whole file; throws epalm::Error(path, ...) when it is missing or not JSON.
Json load_json(const std::string& path);

// One record of an annotation file: its fields, read with errors naming
// "<file>" and "record <index>".
class Record {
 public:
  Record(const Json& value, const std::string& file, std::size_t index);
  // A record inside another: "record 3: sentences[1]: ...".
  Record(const Json& value, const Record& parent, const char* list, std::size_t index);

  bool has(const char* key) const;
  std::string string(const char* key) const;                     // a JSON string
  std::string id(const char* key) const;                         // a string or an integer, as text
  std::vector<std::string> strings(const char* key) const;       // a string or a list of strings
  // {answer: score} with finite scores >= 0, in the file's order.
  void label(const char* key, std::vector<std::string>& answers, std::vector<double>& scores) const;
  const Json& field(const char* key) const;            // present, any type
  [[noreturn]] void fail(const std::string& reason) const;

 private:
  const Json& value_;
  const std::string& file_;
  std::string label_;
};

// The records of a top-level list (or of `list_key` in a top-level object).
const Json& record_list(const Json& document, const std::string& file, const char* list_key = nullptr);

// Python's str.strip(): ASCII whitespace at both ends.
std::string strip(const std::string& text);

}  // namespace epalm::data
