#include "epalm/core/eval/prediction_files.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "epalm/core/error.h"

namespace epalm::eval {

namespace {

bool is_integer_id(const std::string& id) {
  if (id.empty() || id.size() > 18) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
    if (i == 0 && id[i] == '0' && id.size() > 1) return false;  // "007" stays a string
  }
  return true;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw Error(path, "cannot write the prediction file");
    // Non-UTF-8 text would make dump() throw; replace it instead of losing the file.
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    if (!out.flush()) throw Error(path, "cannot write the prediction file");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(path, "cannot write the prediction file: " + ec.message());
}

nlohmann::json read_array(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot open the prediction file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_array()) throw Error(path, "expected a JSON array of predictions");
  return j;
}

}  // namespace

void write_vqa_predictions(const std::string& path, const std::vector<VqaPrediction>& predictions) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& p : predictions) j.push_back({{"question_id", p.question_id}, {"answer", p.answer}});
  write_json(path, j);
}

void write_caption_predictions(const std::string& path, const std::vector<CaptionPrediction>& predictions) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& p : predictions) {
    nlohmann::json record;
    if (is_integer_id(p.image_id)) record["image_id"] = std::stoll(p.image_id);
    else record["image_id"] = p.image_id;
    record["caption"] = p.caption;
    j.push_back(std::move(record));
  }
  write_json(path, j);
}

std::vector<VqaPrediction> read_vqa_predictions(const std::string& path) {
  const auto j = read_array(path);
  std::vector<VqaPrediction> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& r = j[i];
    if (!r.is_object() || !r.contains("question_id") || !r["question_id"].is_number_integer() ||
        !r.contains("answer") || !r["answer"].is_string()) {
      throw Error(path + " [" + std::to_string(i) + "]",
                  "expected {\"question_id\": integer, \"answer\": string}, got " + r.dump());
    }
    out.push_back({r["question_id"].get<std::int64_t>(), r["answer"].get<std::string>()});
  }
  return out;
}

std::vector<CaptionPrediction> read_caption_predictions(const std::string& path) {
  const auto j = read_array(path);
  std::vector<CaptionPrediction> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& r = j[i];
    const bool id_ok = r.is_object() && r.contains("image_id") &&
                       (r["image_id"].is_number_integer() || r["image_id"].is_string());
    if (!id_ok || !r.contains("caption") || !r["caption"].is_string()) {
      throw Error(path + " [" + std::to_string(i) + "]",
                  "expected {\"image_id\": integer or string, \"caption\": string}, got " + r.dump());
    }
    const auto& id = r["image_id"];
    out.push_back({id.is_string() ? id.get<std::string>() : std::to_string(id.get<std::int64_t>()),
                   r["caption"].get<std::string>()});
  }
  return out;
}

}  // namespace epalm::eval
