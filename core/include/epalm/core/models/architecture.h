// Every model architecture epalm knows, in one place, keyed by config.json's
// `model_type` (as Hugging Face keys its auto classes): which one a
// checkpoint directory holds is decided here and nowhere else, whether the
// question comes from the encoder loader, the frozen-weight planner, the
// parameter counts of `experiments show` or `epalm model`.
#pragma once

#include <string>
#include <vector>

namespace epalm::models {

enum class Architecture { kOpt, kVit, kTimesformer, kAst };

struct ArchitectureInfo {
  Architecture id;
  const char* model_type;  // config.json's "model_type"
  const char* name;        // the short name epalm prints (opt, vit, timesformer, ast)
  bool is_encoder;         // a perception encoder (else the language decoder)
};

// In the order epalm lists them.
const std::vector<ArchitectureInfo>& architectures();
const ArchitectureInfo& architecture_info(Architecture id);

// "opt, vit, timesformer, audio-spectrogram-transformer": for messages.
std::string known_model_types();

// The architecture of a config.json: its "model_type"; a timm ViT config
// (no model_type, an "architecture" string "vit_...") is a ViT. Throws Error naming
// the file when it is unreadable, malformed, or names no known type.
const ArchitectureInfo& architecture_of_config(const std::string& config_path);
// Of a checkpoint directory's config.json.
const ArchitectureInfo& architecture_of_directory(const std::string& directory);

}  // namespace epalm::models
