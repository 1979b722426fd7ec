// TimeSformer in `epalm model`: facebook/timesformer-* checkpoints and presets.
#include <torch/torch.h>

#include <sstream>

#include "epalm/core/error.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/experiments/model_families.h"
#include "epalm/experiments/model_families/timesformer_family.h"

namespace epalm::experiments {

models::TimesformerConfig timesformer_config_of(const ModelSource& source) {
  return source.is_directory() ? models::TimesformerConfig::from_json_file(source.config_path())
                               : models::TimesformerConfig::preset(source.preset);
}

models::TimesformerModel load_timesformer(const ModelSource& source, c10::ScalarType dtype, c10::Device device,
                                          std::uint64_t seed) {
  return source.is_directory() ? models::TimesformerModel::from_pretrained(source.directory, dtype, device)
                               : models::TimesformerModel::random(timesformer_config_of(source), dtype, device, seed);
}

namespace {

ModelSummary describe(const ModelSource& source) {
  const auto c = timesformer_config_of(source);
  ModelSummary s;
  s.description = "TimeSformer video encoder";
  auto n = [](std::int64_t v) { return std::to_string(v); };
  std::ostringstream eps;
  eps << c.layer_norm_eps;
  s.architecture = {
      {"layers", n(c.num_layers)},
      {"hidden", n(c.hidden_size)},
      {"heads", n(c.num_heads) + " x " + n(c.head_dim())},
      {"mlp", n(c.intermediate_size)},
      {"frames", n(c.num_frames)},
      {"image", n(c.image_size) + " x " + n(c.image_size) + " x " + n(c.num_channels) + " channels"},
      {"patch", n(c.patch_size) + " x " + n(c.patch_size) + " (" + n(c.patches_per_side()) + " x " +
                    n(c.patches_per_side()) + " patches per frame)"},
      {"tokens", n(1 + c.num_patches() * c.num_frames) + " ([CLS] + patches x frames)"},
      {"attention", c.attention_type},
      {"layer norm", "pre-LN, eps " + eps.str()},
      {"qkv bias", c.qkv_bias ? "yes" : "no"},
      {"activation", c.activation},
  };
  s.parameters = models::timesformer_parameter_count(c);
  return s;
}

NamedTensors run(const ModelSource& source, const InputFile& inputs, const RunSettings& settings) {
  const auto pixels = inputs.floats("pixel_values", 5);
  const auto config = timesformer_config_of(source);
  if (pixels.size(0) == 0 || pixels.size(1) == 0) throw Error(inputs.path(), "pixel_values is empty");
  if (pixels.size(2) != config.num_channels || pixels.size(3) < config.patch_size ||
      pixels.size(4) < config.patch_size) {
    throw Error(inputs.path(), "pixel_values has shape " + c10::str(pixels.sizes()) + ", expected [batch, frames, " +
                                   std::to_string(config.num_channels) + ", height, width] with height and width >= " +
                                   std::to_string(config.patch_size) + " (the model's " +
                                   std::to_string(config.num_frames) + " frames of " +
                                   std::to_string(config.image_size) + " x " + std::to_string(config.image_size) + ")");
  }
  auto model = load_timesformer(source, settings.dtype, settings.device, settings.seed);
  model.set_attention_kernel(settings.attention);
  torch::NoGradGuard no_grad;
  return encoder_outputs(inputs, [&] { return model.forward(pixels, /*output_hidden_states=*/true); });
}

}  // namespace

ModelFamily timesformer_family() {
  ModelFamily f;
  f.model_type = "timesformer";
  f.name = "TimeSformer";
  f.presets = models::TimesformerConfig::preset_names();
  f.inputs = "pixel_values [B, T, 3, H, W] (preprocessed frames)";
  f.describe = describe;
  f.tensor_shapes = [](const ModelSource& source) { return models::timesformer_tensor_shapes(timesformer_config_of(source)); };
  f.hidden_size = [](const ModelSource& source) { return timesformer_config_of(source).hidden_size; };
  f.run = run;
  return f;
}

}  // namespace epalm::experiments
