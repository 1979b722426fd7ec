// The model families `epalm model` and `epalm bench` know, keyed by the
// `model_type` of a Hugging Face config.json. A family describes a model
// (architecture, parameters, memory) and runs it on tensors from a file.
// Adding one (ViT, TimeSformer, AST, ...) is a `ModelFamily xxx_family()` in
// its own file and one line in model_families.cpp.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "epalm/core/models/generation.h"
#include "epalm/core/models/attention_kernel.h"
#include "epalm/core/models/encoder.h"
#include "epalm/core/models/state_dict.h"

namespace epalm::safetensors {
class SafetensorsFile;
}

namespace epalm::experiments {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// What --model names: a Hugging Face checkpoint directory (config.json and
// safetensors weights) or a preset architecture, which runs on random weights.
struct ModelSource {
  std::string spec;        // as given
  std::string directory;   // a checkpoint directory, or empty
  std::string preset;      // a preset name, or empty
  std::string model_type;  // config.json's model_type, or the preset's family
  bool is_directory() const { return !directory.empty(); }
  std::string config_path() const;  // directory/config.json
};

// A directory holding config.json -> that; a preset of a known family -> that;
// otherwise UsageError (an unknown name) or Error (a path that is not there).
ModelSource resolve_model_source(const std::string& spec);

struct ModelSummary {
  std::string description;                                        // "OPT decoder"
  std::vector<std::pair<std::string, std::string>> architecture;  // family-specific, in display order
  std::int64_t parameters = 0;
  // Values (keys and values of all layers) a KV cache holds per token of one
  // sequence; 0 for models without a cache (encoders).
  std::int64_t kv_cache_values_per_token = 0;
};

// The tensors of a --inputs file, checked as they are taken: every failure is
// an epalm::Error naming the file and the tensor.
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const;
  // An integer tensor of `dims` dimensions, as int64 on the CPU.
  at::Tensor integers(const std::string& name, int dims) const;
  // A floating-point tensor of `dims` dimensions, as float32 on the CPU.
  at::Tensor floats(const std::string& name, int dims) const;

 private:
  at::Tensor take(const std::string& name, int dims, bool integral) const;
  std::string path_;
  std::shared_ptr<const safetensors::SafetensorsFile> file_;
};

struct RunSettings {
  c10::ScalarType dtype = c10::kFloat;
  c10::Device device = c10::kCPU;
  models::AttentionKernel attention = models::AttentionKernel::kAuto;
  std::optional<models::GenerationSettings> generation;  // decoders only
  std::uint64_t seed = 0;                        // random weights of a preset
};

struct ModelFamily {
  std::string model_type;  // config.json "model_type": "opt", "vit", ...
  std::string name;        // "OPT"
  std::vector<std::string> presets;
  bool generates = false;  // accepts RunSettings::generation
  // What `model run` reads and writes, for its help and errors ("input_ids [B, T]").
  std::string inputs;
  std::function<ModelSummary(const ModelSource&)> describe;
  // Every weight's shape, and the hidden width (`epalm plan`).
  std::function<models::TensorShapes(const ModelSource&)> tensor_shapes;
  std::function<std::int64_t(const ModelSource&)> hidden_size;
  // Every output as a named tensor on the CPU, for `epalm model run`.
  std::function<NamedTensors(const ModelSource&, const InputFile&, const RunSettings&)> run;
};

const std::vector<ModelFamily>& model_families();
const ModelFamily& family_of(const ModelSource& source);

ModelFamily opt_family();
ModelFamily vit_family();
ModelFamily timesformer_family();
ModelFamily ast_family();

// An encoder's outputs as `model run` writes them: hidden_state_<i> (the
// embeddings, then every block's output) and last_hidden_state, on the CPU.
// The forward pass's own input errors ("TimeSformer forward: ...") are
// rethrown naming the inputs file.
NamedTensors encoder_outputs(const InputFile& inputs, const std::function<models::EncoderOutput()>& forward);

// "fp32"/"float32", "bf16"/"bfloat16", "fp16"/"float16"; UsageError naming `option` otherwise.
c10::ScalarType parse_dtype(const std::string& name, const std::string& option = "--dtype");
std::string dtype_label(c10::ScalarType dtype);  // "fp32", "bf16", "fp16"

}  // namespace epalm::experiments
