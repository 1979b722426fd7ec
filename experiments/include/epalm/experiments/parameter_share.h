// How many parameters a run trains, and what share of all its parameters
// that is, from its settings alone: the models named as presets (opt-2.7b,
// vit-base-patch16-224, ...) or as checkpoint directories (their config.json),
// no weights read.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace epalm::experiments {

struct ParameterShare {
  std::int64_t trainable = 0;
  std::int64_t decoder = 0;  // frozen
  std::int64_t encoder = 0;  // frozen
  std::int64_t total() const { return trainable + decoder + encoder; }
  double percent() const { return total() > 0 ? 100.0 * static_cast<double>(trainable) / static_cast<double>(total()) : 0; }
};

// `settings`: training settings by name (decoder, encoder, model-dir, levels,
// shared-connector, prompt-length, prompt-mlp, adapters, adapter-reduction);
// absent ones take their defaults. Throws UsageError naming an unknown model.
ParameterShare parameter_share(const std::map<std::string, std::string>& settings);

}  // namespace epalm::experiments
