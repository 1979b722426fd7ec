#include "models/random_weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "epalm/core/safetensors/checkpoint.h"

namespace epalm::models {

std::map<std::string, at::Tensor> random_weights(const TensorShapes& shapes, c10::ScalarType dtype,
                                                 c10::Device device, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  torch::NoGradGuard no_grad;
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, shape] : shapes) {
    at::Tensor t;
    if (ends_with(name, ".bias")) {
      t = torch::zeros(shape);
    } else if (name.find("norm") != std::string::npos && ends_with(name, ".weight")) {
      t = torch::ones(shape);
    } else {
      t = at::normal(0.0, 0.02, shape, generator);
    }
    weights[name] = t.to(device, dtype);
  }
  return weights;
}

std::map<std::string, at::Tensor> load_checkpoint_weights(const std::string& directory, const TensorShapes& expected,
                                                          const std::string& prefix, const std::string& ignore,
                                                          c10::ScalarType dtype, c10::Device device) {
  safetensors::Checkpoint checkpoint(directory);
  KeyMapping mapping;
  mapping.prefixes = {prefix};
  mapping.ignore = {ignore};
  const auto match = match_state_dict(expected, checkpoint.shapes(), mapping);
  match.require(checkpoint.path());
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, source] : match.source) weights[name] = checkpoint.load(source, dtype, device);
  return weights;
}

}  // namespace epalm::models
