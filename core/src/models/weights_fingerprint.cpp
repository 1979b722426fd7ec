#include "models/weights_fingerprint.h"

#include <torch/torch.h>

#include <cstdint>
#include <cstdio>

namespace epalm::models {

std::string weights_fingerprint(const std::map<std::string, at::Tensor>& weights) {
  std::vector<std::string> names;
  for (const auto& [name, t] : weights) names.push_back(name);
  return weights_fingerprint(names, [&](const std::string& name) { return weights.at(name); });
}

std::string weights_fingerprint(const std::vector<std::string>& names,
                                const std::function<at::Tensor(const std::string&)>& tensor) {
  // FNV-1a over every weight's name, shape, sum, sum of squares and leading values.
  std::uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](const void* data, size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  };
  torch::NoGradGuard no_grad;
  for (const auto& name : names) {
    const auto t = tensor(name);
    if (!t.defined()) continue;
    mix(name.data(), name.size());
    for (auto d : t.sizes()) mix(&d, sizeof d);
    auto flat = t.detach().reshape({-1}).to(torch::kCPU, torch::kDouble);
    const double stats[2] = {flat.sum().item<double>(), flat.square().sum().item<double>()};
    mix(stats, sizeof stats);
    auto head = flat.slice(0, 0, 64).contiguous();
    mix(head.data_ptr<double>(), sizeof(double) * head.numel());
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace epalm::models
