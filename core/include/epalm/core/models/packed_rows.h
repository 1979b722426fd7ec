// Packed rows: a decoder pass over real tokens only. The rows of many
// sequences lie one after another in one [N, hidden] tensor, without padding,
// so every linear layer sees tokens that exist; attention runs per group: a
// group's query rows attend to its key rows, causally in key order. A group's
// keys may be rows another group computes (a soft prompt computed once and
// read by every sample's text). Training builds these layouts
// (packed_training.h); OptModel::forward_rows runs them.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

#include "epalm/core/models/attention_kernel.h"
#include "epalm/core/models/layer_hooks.h"

namespace epalm::models {

// Which rows attend to which in one layer. Group s has Q_s query rows and
// K_s >= Q_s key rows; its query i stands at key position K_s - Q_s + i and
// attends to the keys at or before it.
struct RowAttention {
  at::Tensor query_rows;    // [S, Q] long: each group's query rows, padded with its first
  at::Tensor key_rows;      // [S, K] long: each group's key rows, padded with its first
  at::Tensor bias;          // [S, 1, Q, K] additive: 0 attends, the dtype's lowest value masks
  at::Tensor output_index;  // [N] long: where row r's output lies among the S * Q outputs
};

struct RowsForwardOptions {
  // Before layer `layer` runs: may rewrite the rows (their number too) and
  // sets the layer's attention. Required.
  std::function<void(int layer, at::Tensor& rows, std::shared_ptr<const RowAttention>& attention)> before_layer;
  SublayerOutputHook attention_output_hook;  // as OptForwardOptions'
  SublayerOutputHook ffn_output_hook;
  std::function<std::vector<at::Tensor>(int layer)> sublayer_hook_parameters;
  AttentionKernel attention_kernel = AttentionKernel::kAuto;
};

}  // namespace epalm::models
