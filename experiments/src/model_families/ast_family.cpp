// The Audio Spectrogram Transformer in `epalm model`: MIT/ast-* checkpoints and presets.
#include <torch/torch.h>

#include <sstream>

#include "epalm/experiments/model_families/ast_family.h"
#include "epalm/core/error.h"
#include "epalm/core/models/ast.h"
#include "epalm/experiments/model_families.h"

namespace epalm::experiments {

models::AstConfig ast_config_of(const ModelSource& source) {
  return source.is_directory() ? models::AstConfig::from_json_file(source.config_path())
                               : models::AstConfig::preset(source.preset);
}

models::AstModel load_ast(const ModelSource& source, c10::ScalarType dtype, c10::Device device, std::uint64_t seed) {
  return source.is_directory() ? models::AstModel::from_pretrained(source.directory, dtype, device)
                               : models::AstModel::random(ast_config_of(source), dtype, device, seed);
}

namespace {

ModelSummary describe(const ModelSource& source) {
  const auto c = ast_config_of(source);
  ModelSummary s;
  s.description = "Audio Spectrogram Transformer";
  auto n = [](std::int64_t v) { return std::to_string(v); };
  std::ostringstream eps;
  eps << c.layer_norm_eps;
  s.architecture = {
      {"layers", n(c.num_layers)},
      {"hidden", n(c.hidden_size)},
      {"heads", n(c.num_heads) + " x " + n(c.head_dim())},
      {"mlp", n(c.intermediate_size)},
      {"input", n(c.max_length) + " frames x " + n(c.num_mel_bins) + " mel bins"},
      {"patch", n(c.patch_size) + " x " + n(c.patch_size) + ", strides " + n(c.frequency_stride) + " (frequency) / " +
                    n(c.time_stride) + " (time)"},
      {"patches", n(c.frequency_patches()) + " x " + n(c.time_patches()) + " (frequency x time)"},
      {"tokens", n(c.num_tokens()) + " ([CLS] + distillation + patches)"},
      {"layer norm", "pre-LN, eps " + eps.str()},
      {"qkv bias", c.qkv_bias ? "yes" : "no"},
      {"activation", c.activation},
  };
  s.parameters = models::ast_parameter_count(c);
  return s;
}

NamedTensors run(const ModelSource& source, const InputFile& inputs, const RunSettings& settings) {
  const auto features = inputs.floats("input_values", 3);
  const auto config = ast_config_of(source);
  if (features.size(0) == 0) throw Error(inputs.path(), "input_values is empty");
  if (features.size(1) != config.max_length || features.size(2) != config.num_mel_bins) {
    throw Error(inputs.path(), "input_values has shape " + c10::str(features.sizes()) + ", expected [batch, " +
                                   std::to_string(config.max_length) + " frames, " +
                                   std::to_string(config.num_mel_bins) +
                                   " mel bins] (the model's max_length and num_mel_bins; pad or truncate the "
                                   "filterbank features as ASTFeatureExtractor does)");
  }
  auto model = load_ast(source, settings.dtype, settings.device, settings.seed);
  model.set_attention_kernel(settings.attention);
  torch::NoGradGuard no_grad;
  return encoder_outputs(inputs, [&] { return model.forward(features, /*output_hidden_states=*/true); });
}

}  // namespace

ModelFamily ast_family() {
  ModelFamily f;
  f.model_type = "audio-spectrogram-transformer";
  f.name = "AST";
  f.presets = models::AstConfig::preset_names();
  f.inputs = "input_values [B, frames, mel bins] (Kaldi filterbank features, normalised)";
  f.describe = describe;
  f.tensor_shapes = [](const ModelSource& source) { return models::ast_tensor_shapes(ast_config_of(source)); };
  f.hidden_size = [](const ModelSource& source) { return ast_config_of(source).hidden_size; };
  f.run = run;
  return f;
}

}  // namespace epalm::experiments
