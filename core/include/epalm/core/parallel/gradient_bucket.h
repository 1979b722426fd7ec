// Data parallelism for the trainables: their gradients live in one contiguous
// fp32 buffer (each parameter's .grad() is a view of it), reduced across ranks
// by one all_reduce per optimizer step. The local loss weight (e.g. the
// number of target tokens) rides in the same all_reduce, so gradients of
// per-token *summed* losses come out divided by the global token count: N
// ranks equal one rank at the same global batch.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace epalm::parallel {

class Communicator;

class GradientBucket {
 public:
  // `parameters`: leaf fp32 tensors that require grad, all on one device.
  // Throws epalm::Error naming the first that is not.
  explicit GradientBucket(std::vector<at::Tensor> parameters);

  // Gradient elements (the buffer holds one more: the loss weight).
  std::int64_t numel() const { return numel_; }
  const at::Tensor& buffer() const { return buffer_; }
  // Zeroes every gradient in place (use instead of the optimizer's
  // zero_grad, which would detach the gradients from the buffer).
  void zero();
  // Sums gradients and `local_weight` over the ranks in one all_reduce, then
  // divides the gradients by the summed weight, which it returns. A gradient
  // that was replaced (set to none, reassigned) is copied back into the buffer.
  // With local_weight = 1 on every rank this averages over the ranks.
  double reduce(Communicator& communicator, double local_weight);

 private:
  void attach();

  std::vector<at::Tensor> parameters_;
  std::vector<at::Tensor> views_;
  at::Tensor buffer_;
  std::int64_t numel_ = 0;
};

}  // namespace epalm::parallel
