#include "data/annotation_json.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "epalm/core/error.h"

namespace epalm::data {

Json load_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open the annotation file");
  try {
    return Json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
}

Record::Record(const Json& value, const std::string& file, std::size_t index)
    : value_(value), file_(file), label_("record " + std::to_string(index)) {
  if (!value_.is_object()) fail("must be a JSON object, not " + std::string(value_.type_name()));
}

Record::Record(const Json& value, const Record& parent, const char* list, std::size_t index)
    : value_(value), file_(parent.file_), label_(parent.label_ + ": " + list + "[" + std::to_string(index) + "]") {
  if (!value_.is_object()) fail("must be a JSON object, not " + std::string(value_.type_name()));
}

void Record::fail(const std::string& reason) const {
  throw Error(file_, label_ + ": " + reason);
}

bool Record::has(const char* key) const { return value_.contains(key) && !value_.at(key).is_null(); }

const Json& Record::field(const char* key) const {
  if (!has(key)) fail(std::string("'") + key + "' is missing");
  return value_.at(key);
}

std::string Record::string(const char* key) const {
  const auto& v = field(key);
  if (!v.is_string()) fail(std::string("'") + key + "' must be a string, not " + v.type_name());
  return v.get<std::string>();
}

std::string Record::id(const char* key) const {
  const auto& v = field(key);
  if (v.is_string()) {
    if (v.get<std::string>().empty()) fail(std::string("'") + key + "' is empty");
    return v.get<std::string>();
  }
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  fail(std::string("'") + key + "' must be a string or an integer, not " + v.type_name());
}

std::vector<std::string> Record::strings(const char* key) const {
  const auto& v = field(key);
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) fail(std::string("'") + key + "' must be a string or a list of strings, not " + v.type_name());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) fail(std::string("'") + key + "'[" + std::to_string(i) + "] must be a string");
    out.push_back(v[i].get<std::string>());
  }
  if (out.empty()) fail(std::string("'") + key + "' is an empty list");
  return out;
}

void Record::label(const char* key, std::vector<std::string>& answers, std::vector<double>& scores) const {
  const auto& v = field(key);
  if (!v.is_object()) fail(std::string("'") + key + "' must be an object of answer -> score");
  for (const auto& [answer, score] : v.items()) {
    if (!score.is_number()) fail(std::string("'") + key + "': the score of '" + answer + "' must be a number");
    const double s = score.get<double>();
    if (!std::isfinite(s) || s < 0) fail(std::string("'") + key + "': the score of '" + answer + "' must be >= 0");
    answers.push_back(answer);
    scores.push_back(s);
  }
}

const Json& record_list(const Json& document, const std::string& file, const char* list_key) {
  if (list_key == nullptr) {
    if (!document.is_array()) throw Error(file, "must hold a JSON list of records, not " + std::string(document.type_name()));
    return document;
  }
  if (!document.is_object() || !document.contains(list_key) || !document.at(list_key).is_array()) {
    throw Error(file, std::string("must be an object with a list '") + list_key + "'");
  }
  return document.at(list_key);
}

std::string strip(const std::string& text) {
  const char* space = " \t\n\r\f\v";
  const auto first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

}  // namespace epalm::data
