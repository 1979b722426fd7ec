#include "layers/vocabulary_logits.h"

#include <torch/torch.h>

#include "epalm/core/layers/frozen_linear.h"

namespace epalm::layers {

namespace {

constexpr std::int64_t kColumnBlock = 4096;
constexpr std::int64_t kBlockedFromRows = 128;  // below, one product is as fast (measured 8 to 160 rows)

at::Tensor blocked_product(const at::Tensor& rows, const at::Tensor& weight) {
  auto out = at::empty({rows.size(0), weight.size(0)}, rows.options());
  for (std::int64_t first = 0; first < weight.size(0); first += kColumnBlock) {
    const auto count = std::min(kColumnBlock, weight.size(0) - first);
    auto block = out.narrow(1, first, count);
    at::mm_out(block, rows, weight.narrow(0, first, count).t());
  }
  return out;
}

// Forward in column blocks; backward the hidden rows' gradient in one product
// (its reduction runs over the vocabulary: no slow-down there).
struct BlockedVocabularyProduct : public torch::autograd::Function<BlockedVocabularyProduct> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& rows, const at::Tensor& weight) {
    ctx->saved_data["weight"] = weight;
    return blocked_product(rows, weight);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    return {grad_outputs[0].mm(ctx->saved_data["weight"].toTensor()), at::Tensor()};
  }
};

}  // namespace

at::Tensor vocabulary_logits(const at::Tensor& hidden, const at::Tensor& weight) {
  if (frozen_linear_takes_onednn(hidden, weight, {})) return frozen_linear(hidden, weight, {});
  const auto rows = hidden.numel() / std::max<std::int64_t>(1, hidden.size(-1));
  if (!hidden.device().is_cpu() || weight.requires_grad() || rows < kBlockedFromRows || weight.size(0) <= kColumnBlock) {
    return torch::linear(hidden, weight);
  }
  auto shape = hidden.sizes().vec();
  shape.back() = weight.size(0);
  const auto flat = hidden.reshape({rows, hidden.size(-1)});
  const auto logits = torch::GradMode::is_enabled() && hidden.requires_grad()
                          ? BlockedVocabularyProduct::apply(flat, weight)
                          : blocked_product(flat, weight);
  return hidden.dim() == 2 ? logits : logits.view(shape);
}

}  // namespace epalm::layers
