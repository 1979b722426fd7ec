#include "epalm/core/models/encoder.h"

#include <torch/torch.h>

#include "epalm/core/error.h"

namespace epalm::models {

namespace {

void check_levels(int levels, std::int64_t blocks) {
  if (levels < 1 || levels > blocks) {
    throw UsageError("encoder", "asked for the [CLS] token of " + std::to_string(levels) + " blocks of " +
                                    std::to_string(blocks));
  }
}

}  // namespace

at::Tensor cls_of_hidden_states(const EncoderOutput& out, int levels, std::int64_t blocks) {
  check_levels(levels, blocks);
  std::vector<at::Tensor> cls;
  for (auto block = blocks - levels; block < blocks; ++block) {
    cls.push_back(out.hidden_states[static_cast<std::size_t>(block + 1)].select(1, 0));
  }
  return torch::stack(cls, 1);
}

at::Tensor Encoder::last_blocks_cls(const at::Tensor& inputs, int levels) const {
  check_levels(levels, num_layers());
  return cls_of_hidden_states(forward(inputs, /*output_hidden_states=*/true), levels, num_layers());
}

}  // namespace epalm::models
