#include "bench/peer_checkpoints.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "epalm/core/models/opt.h"
#include "epalm/core/models/vit.h"
#include "epalm/core/safetensors/checkpoint.h"

namespace epalm::experiments {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string vit_config_json(const models::VitConfig& c, const std::string& torch_dtype) {
  nlohmann::ordered_json j;
  j["architectures"] = {"ViTModel"};
  j["model_type"] = "vit";
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["intermediate_size"] = c.intermediate_size;
  j["hidden_act"] = c.hidden_act;
  j["image_size"] = c.image_size;
  j["patch_size"] = c.patch_size;
  j["num_channels"] = c.num_channels;
  j["layer_norm_eps"] = c.layer_norm_eps;
  j["qkv_bias"] = c.qkv_bias;
  j["hidden_dropout_prob"] = 0.0;
  j["attention_probs_dropout_prob"] = 0.0;
  j["torch_dtype"] = torch_dtype;
  return j.dump(2);
}

}  // namespace

std::string torch_dtype_name(c10::ScalarType dtype) {
  return dtype == c10::kFloat ? "float32" : dtype == c10::kHalf ? "float16" : "bfloat16";
}

void write_opt_checkpoint(const models::OptModel& model, const std::string& directory) {
  std::filesystem::create_directories(directory);
  std::ofstream(directory + "/config.json") << model.config().to_json(torch_dtype_name(model.dtype()));
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, t] : model.weights()) tensors.emplace_back("model." + name, t);
  safetensors::write_safetensors(directory + "/model.safetensors", tensors, {{"format", "pt"}});
}

std::map<std::string, at::Tensor> vit_random_weights(const models::VitConfig& c, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, shape] : models::vit_tensor_shapes(c)) {  // sorted by name: reproducible
    auto t = torch::randn(shape, generator, torch::kFloat) * 0.02;
    const bool norm_scale = ends_with(name, ".weight") && name.find("layernorm") != std::string::npos;
    weights[name] = norm_scale ? t + 1.0 : t;
  }
  return weights;
}

void write_vit_checkpoint(const models::VitConfig& config, const std::map<std::string, at::Tensor>& weights,
                          c10::ScalarType dtype, const std::string& directory) {
  std::filesystem::create_directories(directory);
  std::ofstream(directory + "/config.json") << vit_config_json(config, torch_dtype_name(dtype));
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, t] : weights) tensors.emplace_back(name, t.to(dtype).contiguous());
  safetensors::write_safetensors(directory + "/model.safetensors", tensors, {{"format", "pt"}});
}

}  // namespace epalm::experiments
