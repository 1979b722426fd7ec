#include "epalm/core/parallel/gradient_bucket.h"

#include <torch/torch.h>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/error.h"

namespace epalm::parallel {

GradientBucket::GradientBucket(std::vector<at::Tensor> parameters) : parameters_(std::move(parameters)) {
  if (parameters_.empty()) throw Error("gradient bucket", "no parameters");
  const auto device = parameters_.front().device();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto& p = parameters_[i];
    const auto where = "gradient bucket: parameter " + std::to_string(i);
    if (!p.defined()) throw Error(where, "is undefined");
    if (p.scalar_type() != at::kFloat) {
      throw Error(where, std::string("is ") + c10::toString(p.scalar_type()) + "; trainables are reduced in fp32");
    }
    if (!p.is_leaf() || !p.requires_grad()) throw Error(where, "is not a leaf that requires grad");
    if (p.device() != device) throw Error(where, "is on " + p.device().str() + ", the first on " + device.str());
    numel_ += p.numel();
  }
  buffer_ = torch::zeros({numel_ + 1}, torch::TensorOptions().dtype(torch::kFloat).device(device));
  std::int64_t offset = 0;
  for (const auto& p : parameters_) {
    views_.push_back(buffer_.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
  attach();
}

void GradientBucket::attach() {
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto& grad = parameters_[i].mutable_grad();
    if (grad.defined() && grad.data_ptr() == views_[i].data_ptr()) continue;
    // Autograd accumulates in place into a defined gradient, so the views
    // stay the gradients; one that was replaced is copied back.
    if (grad.defined()) views_[i].copy_(grad);
    else views_[i].zero_();
    grad = views_[i];
  }
}

void GradientBucket::zero() {
  buffer_.zero_();
  attach();
}

double GradientBucket::reduce(Communicator& communicator, double local_weight) {
  attach();
  buffer_[numel_].fill_(local_weight);
  communicator.all_reduce(buffer_, ReduceOp::kSum)->wait();
  const double global = buffer_[numel_].item<double>();
  if (!(global > 0)) {
    throw Error("gradient bucket", "the loss weights summed over the ranks to " + std::to_string(global) +
                                       "; they must be positive");
  }
  buffer_.narrow(0, 0, numel_).div_(global);
  return global;
}

}  // namespace epalm::parallel
