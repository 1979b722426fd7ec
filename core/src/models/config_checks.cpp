#include "epalm/core/error.h"
#include "layers/pre_ln_block.h"
#include "models/config_json.h"

namespace epalm::models::config_json {

void require_encoder_blocks(std::int64_t hidden_size, std::int64_t num_layers, std::int64_t num_heads,
                            std::int64_t intermediate_size, double layer_norm_eps, const std::string& activation,
                            const std::string& where) {
  require_positive(hidden_size, "hidden_size", where);
  require_positive(num_layers, "num_hidden_layers", where);
  require_positive(num_heads, "num_attention_heads", where);
  require_positive(intermediate_size, "intermediate_size", where);
  require_heads_divide(hidden_size, num_heads, where);
  if (!(layer_norm_eps > 0.0)) throw Error(where, "layer_norm_eps must be positive");
  if (!layers::is_supported_activation(activation)) throw Error(where, "unsupported hidden_act '" + activation + "'");
}

}  // namespace epalm::models::config_json
