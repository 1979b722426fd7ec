#include "models/cross_entropy_rows.h"

#include <torch/torch.h>

#include "epalm/core/error.h"

namespace epalm::models::detail {

namespace {

struct CrossEntropyRows : public torch::autograd::Function<CrossEntropyRows> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets) {
    const auto t = targets.unsqueeze(1);
    const auto target_logit = logits.gather(1, t);
    const auto max = logits.amax(1, /*keepdim=*/true);
    // As log_softmax: (x - max) - log(sum(exp(x - max))), negated at the target.
    auto buffer = logits.detach();
    buffer.sub_(max).exp_();
    const auto sum = buffer.sum(1, /*keepdim=*/true);
    const auto losses = (sum.log() - (target_logit - max)).squeeze(1);
    if (ctx) {
      // d loss / d logits = softmax - one-hot.
      buffer.div_(sum);
      buffer.scatter_(1, t, buffer.gather(1, t) - 1);
      ctx->saved_data["gradient"] = buffer;
    }
    return losses;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto gradient = ctx->saved_data["gradient"].toTensor();
    ctx->saved_data.erase("gradient");
    gradient.mul_(grad_outputs[0].unsqueeze(1));  // its own buffer: backward runs once
    return {gradient, at::Tensor()};
  }
};

}  // namespace

at::Tensor cross_entropy_rows(const at::Tensor& logits, const at::Tensor& targets) {
  if (logits.dim() != 2 || targets.dim() != 1 || targets.size(0) != logits.size(0) ||
      logits.scalar_type() != at::kFloat) {
    throw Error("cross_entropy_rows", "needs float32 logits [rows, vocab] and targets [rows], got " +
                                          c10::str(logits.sizes(), " ", logits.scalar_type(), " and ", targets.sizes()));
  }
  if (torch::GradMode::is_enabled() && logits.requires_grad()) return CrossEntropyRows::apply(logits, targets);
  torch::NoGradGuard no_grad;
  return CrossEntropyRows::forward(nullptr, logits, targets);
}

}  // namespace epalm::models::detail
