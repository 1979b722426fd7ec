#include "epalm/core/models/architecture.h"

#include <filesystem>

#include "config_json.h"

namespace epalm::models {

const std::vector<ArchitectureInfo>& architectures() {
  static const std::vector<ArchitectureInfo> all = {
      {Architecture::kOpt, "opt", "opt", false},
      {Architecture::kVit, "vit", "vit", true},
      {Architecture::kTimesformer, "timesformer", "timesformer", true},
      {Architecture::kAst, "audio-spectrogram-transformer", "ast", true},
  };
  return all;
}

const ArchitectureInfo& architecture_info(Architecture id) {
  for (const auto& a : architectures()) {
    if (a.id == id) return a;
  }
  throw Error("models", "unknown architecture");
}

std::string known_model_types() {
  std::string out;
  for (const auto& a : architectures()) out += (out.empty() ? "" : ", ") + std::string(a.model_type);
  return out;
}

const ArchitectureInfo& architecture_of_config(const std::string& config_path) {
  const auto j = config_json::load_object(config_path);
  const auto type = j.find("model_type");
  if (type == j.end()) {
    // timm's ViT config.json names its architecture ("vit_base_patch16_224") instead.
    const auto timm = j.find("architecture");
    if (timm != j.end() && timm->is_string() && timm->get<std::string>().rfind("vit_", 0) == 0) {
      return architecture_info(Architecture::kVit);
    }
    throw Error(config_path, "no \"model_type\" (known: " + known_model_types() + ")");
  }
  if (!type->is_string()) throw Error(config_path, "\"model_type\" is not a string");
  for (const auto& a : architectures()) {
    if (type->get<std::string>() == a.model_type) return a;
  }
  throw Error(config_path, "model_type " + type->dump() + " is not supported (known: " + known_model_types() + ")");
}

const ArchitectureInfo& architecture_of_directory(const std::string& directory) {
  if (!std::filesystem::is_directory(directory)) throw Error(directory, "not a checkpoint directory");
  return architecture_of_config((std::filesystem::path(directory) / "config.json").string());
}

}  // namespace epalm::models
