#include "pretraining/initial_weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace epalm::experiments::pretraining {

std::map<std::string, at::Tensor> initial_weights(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                                                  std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  std::map<std::string, at::Tensor> weights;
  torch::NoGradGuard no_grad;
  for (const auto& [name, shape] : shapes) {
    at::Tensor t;
    if (ends_with(name, ".bias")) {
      t = torch::zeros(shape);
    } else if ((name.find("norm") != std::string::npos) && ends_with(name, ".weight")) {
      t = torch::ones(shape);
    } else {
      t = at::normal(0.0, 0.02, shape, generator);
    }
    weights[name] = t.set_requires_grad(true);
  }
  return weights;
}

}  // namespace epalm::experiments::pretraining
