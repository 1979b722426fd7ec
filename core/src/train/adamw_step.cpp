#include "epalm/core/train/adamw_step.h"

#include <torch/torch.h>

#include <vector>

namespace epalm::train {

namespace {

// What the fused kernel takes: every tensor dense and contiguous (it walks raw
// memory: given a transposed gradient it reads it in the wrong order, 0.02 off
// after one step in a PyTorch check), the moments shaped as their parameter,
// no AMSGrad (not exposed by the trainer).
bool fusable(torch::optim::AdamW& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    if (static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad()) return false;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (!p.is_contiguous() || !p.grad().is_contiguous() || p.is_sparse() || p.grad().is_sparse()) return false;
      const auto it = optimizer.state().find(p.unsafeGetTensorImpl());
      if (it == optimizer.state().end()) continue;
      const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
      if (!s.exp_avg().is_contiguous() || !s.exp_avg_sq().is_contiguous()) return false;
    }
  }
  return true;
}

}  // namespace

void adamw_step(torch::optim::AdamW& optimizer) {
  if (!fusable(optimizer)) {
    optimizer.step();
    return;
  }
  torch::NoGradGuard no_grad;
  auto& state = optimizer.state();
  for (auto& group : optimizer.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    std::vector<at::Tensor> params, grads, averages, squares, steps;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = state[p.unsafeGetTensorImpl()];
      if (!slot) {  // as LibTorch's AdamW starts a parameter's state
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
      s.step(s.step() + 1);
      params.push_back(p);
      grads.push_back(p.grad());
      averages.push_back(s.exp_avg());
      squares.push_back(s.exp_avg_sq());
      // The kernel reads the step count (exact in float up to 2^24) from a tensor on the parameter's device.
      steps.push_back(torch::full({}, static_cast<float>(s.step()), p.options().dtype(at::kFloat)));
    }
    if (params.empty()) continue;
    const auto [beta1, beta2] = o.betas();
    at::_fused_adamw_(params, grads, averages, squares, {}, steps, o.lr(), beta1, beta2, o.weight_decay(), o.eps(),
                      /*amsgrad=*/false, /*maximize=*/false);
  }
}

}  // namespace epalm::train
