#include <torch/torch.h>

#include "epalm/core/text/tokenizer_tensors.h"

namespace epalm::text {

namespace {

at::Tensor stack_rows(const std::vector<std::vector<TokenId>>& rows) {
  const auto length = rows.empty() ? 0 : static_cast<std::int64_t>(rows.front().size());
  auto out = torch::empty({static_cast<std::int64_t>(rows.size()), length}, torch::kInt64);
  auto* data = out.data_ptr<std::int64_t>();
  for (const auto& row : rows) data = std::copy(row.begin(), row.end(), data);
  return out;
}

}  // namespace

TokenTensors to_tensors(const EncodedBatch& batch) {
  return {stack_rows(batch.input_ids), stack_rows(batch.attention_mask)};
}

TokenTensors encode_to_tensors(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                               const BatchOptions& options) {
  return to_tensors(tokenizer.encode_batch(texts, options));
}

}  // namespace epalm::text
