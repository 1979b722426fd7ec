#include "epalm/experiments/model_families.h"

#include <torch/torch.h>

#include <filesystem>


#include "epalm/core/error.h"
#include "epalm/core/models/architecture.h"
#include "epalm/core/safetensors/checkpoint.h"

namespace epalm::experiments {

namespace fs = std::filesystem;

const std::vector<ModelFamily>& model_families() {
  // One line per family; each lives in its own <family>_family.cpp.
  static const std::vector<ModelFamily> all = {opt_family(), vit_family(), timesformer_family(), ast_family()};
  return all;
}

namespace {

std::string known_families() {
  std::string out;
  for (const auto& f : model_families()) out += (out.empty() ? "" : ", ") + f.model_type;
  return out;
}

bool names_preset(const std::string& spec, const std::string& preset) {
  if (spec == preset) return true;
  const auto slash = spec.rfind('/');  // "facebook/opt-125m" names opt-125m
  return slash != std::string::npos && spec.find('/') == slash && spec.substr(slash + 1) == preset;
}

}  // namespace

std::string ModelSource::config_path() const { return (fs::path(directory) / "config.json").string(); }

ModelSource resolve_model_source(const std::string& spec) {
  if (spec.empty()) throw UsageError("--model", "give a checkpoint directory or a preset name");
  ModelSource source;
  source.spec = spec;
  std::error_code ec;
  if (fs::is_directory(spec, ec)) {
    source.directory = spec;
    source.model_type = models::architecture_of_config(source.config_path()).model_type;
    family_of(source);  // known?
    return source;
  }
  for (const auto& family : model_families()) {
    for (const auto& preset : family.presets) {
      if (names_preset(spec, preset)) {
        source.preset = preset;
        source.model_type = family.model_type;
        return source;
      }
    }
  }
  if (spec.find('/') != std::string::npos || spec.front() == '.' || spec.front() == '~') {
    throw Error(spec, fs::exists(spec, ec) ? "not a directory: --model wants a checkpoint directory or a preset"
                                           : "no such directory (nor a preset name)");
  }
  std::string presets;
  for (const auto& family : model_families()) {
    for (const auto& p : family.presets) presets += (presets.empty() ? "" : ", ") + p;
  }
  throw UsageError("--model", "'" + spec + "' is neither a checkpoint directory nor a preset (presets: " + presets + ")");
}

const ModelFamily& family_of(const ModelSource& source) {
  for (const auto& family : model_families()) {
    if (family.model_type == source.model_type) return family;
  }
  throw Error(source.is_directory() ? source.config_path() : source.spec,
              "model_type \"" + source.model_type + "\" is not supported (known: " + known_families() + ")");
}

NamedTensors encoder_outputs(const InputFile& inputs, const std::function<models::EncoderOutput()>& forward) {
  models::EncoderOutput out;
  try {
    out = forward();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    const auto& where = e.where();
    const std::string suffix = " forward";
    if (where.size() > suffix.size() && where.compare(where.size() - suffix.size(), suffix.size(), suffix) == 0) {
      throw Error(inputs.path(), where + ": " + e.reason());
    }
    throw;
  }
  NamedTensors result;
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    result.emplace_back("hidden_state_" + std::to_string(i), out.hidden_states[i].cpu());
  }
  result.emplace_back("last_hidden_state", out.last_hidden_state.cpu());
  return result;
}

InputFile::InputFile(const std::string& path)
    : path_(path), file_(std::make_shared<const safetensors::SafetensorsFile>(path)) {}

bool InputFile::contains(const std::string& name) const { return file_->contains(name); }

at::Tensor InputFile::take(const std::string& name, int dims, bool integral) const {
  if (!file_->contains(name)) {
    std::string present;
    for (const auto& n : file_->names()) present += (present.empty() ? "" : ", ") + n;
    throw Error(path_, "no tensor '" + name + "' (the file holds: " + (present.empty() ? "nothing" : present) + ")");
  }
  const auto& info = file_->info(name);
  const auto type = safetensors::scalar_type_of(info.dtype);
  const bool is_integral = type && (c10::isIntegralType(*type, /*includeBool=*/false));
  const bool is_float = type && c10::isFloatingType(*type);
  if (integral ? !is_integral : !is_float) {
    throw Error(path_, "tensor '" + name + "' is " + safetensors::dtype_name(info.dtype) + ", expected " +
                           (integral ? "an integer type (I64, I32, ...)" : "a floating-point type (F32, BF16, F16)"));
  }
  if (static_cast<int>(info.shape.size()) != dims) {
    throw Error(path_, "tensor '" + name + "' has shape " + c10::str(c10::IntArrayRef(info.shape)) + ", expected " +
                           std::to_string(dims) + " dimensions");
  }
  return file_->load(name, integral ? c10::kLong : c10::kFloat);
}

at::Tensor InputFile::integers(const std::string& name, int dims) const { return take(name, dims, true); }
at::Tensor InputFile::floats(const std::string& name, int dims) const { return take(name, dims, false); }

c10::ScalarType parse_dtype(const std::string& name, const std::string& option) {
  if (name == "fp32" || name == "float32") return c10::kFloat;
  if (name == "bf16" || name == "bfloat16") return c10::kBFloat16;
  if (name == "fp16" || name == "float16") return c10::kHalf;
  throw UsageError(option, "unknown dtype '" + name + "' (use fp32, bf16 or fp16)");
}

std::string dtype_label(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "fp32";
    case c10::kBFloat16: return "bf16";
    case c10::kHalf: return "fp16";
    default: return c10::toString(dtype);
  }
}

}  // namespace epalm::experiments
