// ViT in `epalm model`: google/vit-* and timm vit_* checkpoints, and presets.
#include <torch/torch.h>

#include <sstream>


#include "epalm/core/error.h"
#include "epalm/core/models/vit.h"
#include "epalm/experiments/model_families.h"
#include "epalm/experiments/model_families/vit_family.h"

namespace epalm::experiments {

models::VitConfig vit_config_of(const ModelSource& source) {
  return source.is_directory() ? models::VitConfig::from_json_file(source.config_path())
                               : models::VitConfig::preset(source.preset);
}

models::VitModel load_vit(const ModelSource& source, c10::ScalarType dtype, c10::Device device, std::uint64_t seed) {
  return source.is_directory() ? models::VitModel::from_pretrained(source.directory, dtype, device)
                               : models::VitModel::random(vit_config_of(source), dtype, device, seed);
}

namespace {

std::string eps_text(double eps) {
  std::ostringstream s;
  s << eps;
  return s.str();
}

ModelSummary describe(const ModelSource& source) {
  const auto c = vit_config_of(source);
  ModelSummary s;
  s.description = "ViT image encoder";
  auto n = [](std::int64_t v) { return std::to_string(v); };
  s.architecture = {
      {"layers", n(c.num_layers)},
      {"hidden", n(c.hidden_size)},
      {"heads", n(c.num_heads) + " x " + n(c.head_dim())},
      {"mlp", n(c.intermediate_size)},
      {"image", n(c.image_size) + " x " + n(c.image_size) + " x " + n(c.num_channels) + " channels"},
      {"patch", n(c.patch_size) + " x " + n(c.patch_size) + " (" + n(c.grid_size()) + " x " + n(c.grid_size()) +
                    " patches)"},
      {"tokens", n(c.num_positions()) + " ([CLS] + patches)"},
      {"layer norm", "pre-LN, eps " + eps_text(c.layer_norm_eps)},
      {"qkv bias", c.qkv_bias ? "yes" : "no"},
      {"activation", c.hidden_act},
  };
  s.parameters = models::vit_parameter_count(c);
  return s;
}

NamedTensors run(const ModelSource& source, const InputFile& inputs, const RunSettings& settings) {
  const auto pixels = inputs.floats("pixel_values", 4);
  const auto config = vit_config_of(source);
  if (pixels.size(0) == 0) throw Error(inputs.path(), "pixel_values is empty");
  if (pixels.size(1) != config.num_channels || pixels.size(2) < config.patch_size ||
      pixels.size(3) < config.patch_size) {
    throw Error(inputs.path(), "pixel_values has shape " + c10::str(pixels.sizes()) + ", expected [batch, " +
                                   std::to_string(config.num_channels) + ", height, width] with height and width >= " +
                                   std::to_string(config.patch_size) + " (the model's " +
                                   std::to_string(config.image_size) + " x " + std::to_string(config.image_size) +
                                   " images)");
  }
  const auto model = load_vit(source, settings.dtype, settings.device, settings.seed);
  torch::NoGradGuard no_grad;
  models::VitForwardOptions options;
  options.output_hidden_states = true;
  options.attention_kernel = settings.attention;
  // Other sizes than the model's: position embeddings interpolated bicubically,
  // as transformers' interpolate_pos_encoding=True.
  options.interpolate_pos_encoding = pixels.size(2) != config.image_size || pixels.size(3) != config.image_size;
  return encoder_outputs(inputs, [&] { return model.forward(pixels, options); });
}

}  // namespace

ModelFamily vit_family() {
  ModelFamily f;
  f.model_type = "vit";
  f.name = "ViT";
  f.presets = models::VitConfig::preset_names();
  f.inputs = "pixel_values [B, 3, H, W] (preprocessed; other sizes than the model's interpolate the positions)";
  f.describe = describe;
  f.tensor_shapes = [](const ModelSource& source) { return models::vit_tensor_shapes(vit_config_of(source)); };
  f.hidden_size = [](const ModelSource& source) { return vit_config_of(source).hidden_size; };
  f.run = run;
  return f;
}

}  // namespace epalm::experiments
