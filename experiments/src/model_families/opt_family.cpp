// OPT in `epalm model`: facebook/opt-* checkpoints and presets.
#include <torch/torch.h>

#include "epalm/core/error.h"
#include "epalm/core/models/opt.h"
#include "epalm/experiments/model_families.h"
#include "epalm/experiments/model_families/opt_family.h"

namespace epalm::experiments {

models::OptConfig opt_config_of(const ModelSource& source) {
  return source.is_directory() ? models::OptConfig::from_json_file(source.config_path())
                               : models::OptConfig::preset(source.preset);
}

models::OptModel load_opt(const ModelSource& source, c10::ScalarType dtype, c10::Device device, std::uint64_t seed) {
  return source.is_directory() ? models::OptModel::from_pretrained(source.directory, dtype, device)
                               : models::OptModel::random(opt_config_of(source), dtype, device, seed);
}

namespace {

ModelSummary describe(const ModelSource& source) {
  const auto c = opt_config_of(source);
  ModelSummary s;
  s.description = "OPT decoder";
  auto n = [](std::int64_t v) { return std::to_string(v); };
  s.architecture = {
      {"layers", n(c.num_layers)},
      {"hidden", n(c.hidden_size)},
      {"heads", n(c.num_heads) + " x " + n(c.head_dim())},
      {"ffn", n(c.ffn_dim)},
      {"vocab", n(c.vocab_size)},
      {"max positions", n(c.max_positions)},
      {"layer norm", c.layer_norm_before ? "pre-LN" : "post-LN"},
      {"final layer norm", c.has_final_layer_norm() ? "yes" : "no"},
      {"projections", c.has_projections() ? "project_in/out " + n(c.word_embed_proj_dim) + " <-> " + n(c.hidden_size)
                                          : "none"},
      {"activation", c.activation},
      {"bias", c.enable_bias ? "yes" : "no"},
      {"lm head", "tied to the token embeddings"},
  };
  s.parameters = models::opt_parameter_count(c);
  s.kv_cache_values_per_token = c.kv_cache_bytes_per_token(1);
  return s;
}

NamedTensors run(const ModelSource& source, const InputFile& inputs, const RunSettings& settings) {
  const auto ids = inputs.integers("input_ids", 2);
  at::Tensor mask;
  if (inputs.contains("attention_mask")) {
    mask = inputs.integers("attention_mask", 2);
    if (mask.sizes() != ids.sizes()) {
      throw Error(inputs.path(), "attention_mask has shape " + c10::str(mask.sizes()) + " but input_ids has " +
                                     c10::str(ids.sizes()));
    }
    if (((mask != 0) & (mask != 1)).any().item<bool>()) {
      throw Error(inputs.path(), "attention_mask holds values other than 0 and 1");
    }
  } else {
    mask = torch::ones_like(ids);
  }
  const auto config = opt_config_of(source);
  if (ids.numel() == 0) throw Error(inputs.path(), "input_ids is empty");
  const auto low = ids.min().item<std::int64_t>();
  const auto high = ids.max().item<std::int64_t>();
  if (low < 0 || high >= config.vocab_size) {
    throw Error(inputs.path(), "input_ids holds ids in [" + std::to_string(low) + ", " + std::to_string(high) +
                                   "], outside the vocabulary [0, " + std::to_string(config.vocab_size) + ")");
  }
  const auto model = load_opt(source, settings.dtype, settings.device, settings.seed);
  torch::NoGradGuard no_grad;
  models::OptForwardOptions options;
  options.attention_mask = mask;
  options.output_hidden_states = true;
  options.attention_kernel = settings.attention;
  const auto out = model.forward(ids, options);
  NamedTensors result;
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    result.emplace_back("hidden_state_" + std::to_string(i), out.hidden_states[i].cpu());
  }
  result.emplace_back("last_hidden_state", out.last_hidden_state.cpu());
  result.emplace_back("logits", out.logits.cpu());
  if (settings.generation) {
    auto generation = *settings.generation;
    generation.pad_token_id = config.pad_token_id;
    if (generation.eos_token_ids.empty()) generation.eos_token_ids = {config.eos_token_id};
    auto decoder = models::make_opt_step_decoder(model);
    result.emplace_back("generated", generate(*decoder, ids, mask, generation).cpu());
  }
  return result;
}

}  // namespace

ModelFamily opt_family() {
  ModelFamily f;
  f.model_type = "opt";
  f.name = "OPT";
  f.presets = models::OptConfig::preset_names();
  f.generates = true;
  f.inputs = "input_ids [B, T] (integers) and optional attention_mask [B, T]";
  f.describe = describe;
  f.tensor_shapes = [](const ModelSource& source) { return models::opt_tensor_shapes(opt_config_of(source)); };
  f.hidden_size = [](const ModelSource& source) { return opt_config_of(source).hidden_size; };
  f.run = run;
  return f;
}

}  // namespace epalm::experiments
