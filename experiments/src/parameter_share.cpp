#include "epalm/experiments/parameter_share.h"

#include "epalm/core/models/epalm_model.h"
#include "epalm/core/error.h"
#include "epalm/core/models/ast.h"
#include "epalm/core/models/load_encoder.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"
#include "epalm/experiments/frozen_plan.h"

namespace epalm::experiments {

namespace {

std::string value_or(const std::map<std::string, std::string>& s, const std::string& key, const std::string& fallback) {
  const auto it = s.find(key);
  return it == s.end() ? fallback : it->second;
}

bool truthy(const std::string& v) { return v == "true" || v == "1" || v == "yes" || v == "on"; }

// A name that is a checkpoint directory (as a path, or under model-dir), else "".
std::string checkpoint_directory(const std::map<std::string, std::string>& s, const std::string& name) {
  return experiments::checkpoint_directory(name, value_or(s, "model-dir", "models"));
}

struct EncoderShape {
  std::int64_t hidden = 0, parameters = 0;
};

EncoderShape encoder_shape(const std::map<std::string, std::string>& s, const std::string& name) {
  if (const auto dir = checkpoint_directory(s, name); !dir.empty()) {
    return {models::encoder_hidden_size(dir), models::encoder_parameter_count(dir)};
  }
  try {
    const auto c = models::VitConfig::preset(name);
    return {c.hidden_size, models::vit_parameter_count(c)};
  } catch (const UsageError&) {
  }
  try {
    const auto c = models::TimesformerConfig::preset(name);
    return {c.hidden_size, models::timesformer_parameter_count(c)};
  } catch (const UsageError&) {
  }
  try {
    const auto c = models::AstConfig::preset(name);
    return {c.hidden_size, models::ast_parameter_count(c)};
  } catch (const UsageError&) {
  }
  throw UsageError("--encoder", "'" + name + "' is neither a checkpoint directory nor a ViT, TimeSformer or AST preset");
}

}  // namespace

ParameterShare parameter_share(const std::map<std::string, std::string>& s) {
  const auto decoder_name = value_or(s, "decoder", "opt-2.7b");
  const auto decoder_dir = checkpoint_directory(s, decoder_name);
  const auto decoder = decoder_dir.empty() ? models::OptConfig::preset(decoder_name)
                                           : models::OptConfig::from_json_file(decoder_dir + "/config.json");
  const auto encoder = encoder_shape(s, value_or(s, "encoder", "vit-base-patch16-224"));

  models::EpalmConfig e;  // its defaults are the settings' defaults
  e.perception = truthy(value_or(s, "perception", e.perception ? "true" : "false"));
  e.levels = std::stoi(value_or(s, "levels", std::to_string(e.levels)));
  e.shared_connector = truthy(value_or(s, "shared-connector", e.shared_connector ? "true" : "false"));
  e.prompt_length = std::stoi(value_or(s, "prompt-length", std::to_string(e.prompt_length)));
  e.prompt_mlp = truthy(value_or(s, "prompt-mlp", e.prompt_mlp ? "true" : "false"));
  e.adapters = models::adapter_settings(value_or(s, "adapters", "none"),
                                std::stoi(value_or(s, "adapter-reduction", std::to_string(e.adapters.reduction))));

  ParameterShare share;
  share.trainable =
      models::count_trainable(e, encoder.hidden, decoder.hidden_size, decoder.word_embed_proj_dim, decoder.num_layers).total();
  share.decoder = models::opt_parameter_count(decoder);
  share.encoder = encoder.parameters;
  return share;
}

}  // namespace epalm::experiments
