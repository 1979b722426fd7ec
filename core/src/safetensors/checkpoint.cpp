#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"

namespace epalm::safetensors {

namespace fs = std::filesystem;

namespace {

// weight_map of a model.safetensors.index.json: tensor -> shard file name.
// Other keys ("metadata": total_size, ...) carry nothing we need.
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) throw Error(index_path, "cannot open the checkpoint index");
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(index_path, std::string("checkpoint index is not valid JSON: ") + e.what());
  }
  auto found = root.is_object() ? root.find("weight_map") : root.end();
  if (found == root.end() || !found->is_object()) {
    throw Error(index_path, "checkpoint index has no \"weight_map\" object");
  }
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, shard] : found->items()) {
    if (!shard.is_string()) throw Error(index_path, "weight_map['" + name + "'] is not a file name");
    const auto file = shard.get<std::string>();
    // Shards sit beside the index; anything else would read outside the checkpoint.
    if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos) {
      throw Error(index_path, "weight_map['" + name + "'] is '" + file + "', not a file beside the index");
    }
    weight_map[name] = file;
  }
  return weight_map;
}

}  // namespace

Checkpoint::Checkpoint(const std::string& path) : path_(path) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    const auto single = fs::path(path) / kSingleFile;
    const auto index = fs::path(path) / kIndexFile;
    if (fs::exists(single, error)) {
      path_ = single.string();
    } else if (fs::exists(index, error)) {
      path_ = index.string();
    } else {
      throw Error(path, std::string("checkpoint directory holds neither ") + kSingleFile + " nor " + kIndexFile);
    }
  }
  if (fs::path(path_).extension() == ".json") {
    open_sharded(path_);
    return;
  }
  files_.emplace_back(path_);
  for (const auto& info : files_[0].header().tensors) shard_of_[info.name] = 0;
}

void Checkpoint::open_sharded(const std::string& index_path) {
  const auto weight_map = read_weight_map(index_path);
  const auto index_name = fs::path(index_path).filename().string();
  const auto dir = fs::path(index_path).parent_path();

  // Open each shard once.
  std::map<std::string, std::size_t> shard_number;
  for (const auto& [name, file] : weight_map) {
    if (shard_number.count(file)) continue;
    const auto shard_path = (dir / file).string();
    std::error_code error;
    if (!fs::exists(shard_path, error)) {
      throw Error(shard_path, "missing shard: " + index_name + " maps tensor '" + name + "' to it");
    }
    shard_number[file] = files_.size();
    files_.emplace_back(shard_path);
  }

  // What the shards hold must be exactly what the index says they hold.
  for (std::size_t i = 0; i < files_.size(); ++i) {
    for (const auto& info : files_[i].header().tensors) {
      auto [owner, added] = shard_of_.emplace(info.name, i);
      if (!added) {
        throw Error(files_[i].path(), "tensor '" + info.name + "' is also in shard " + files_[owner->second].path());
      }
      auto listed = weight_map.find(info.name);
      if (listed == weight_map.end()) {
        throw Error(files_[i].path(), "holds tensor '" + info.name + "', which " + index_name + " does not list");
      }
    }
  }
  for (const auto& [name, file] : weight_map) {
    const auto& shard = files_[shard_number.at(file)];
    if (!shard.contains(name)) {
      throw Error(shard.path(), "has no tensor '" + name + "', which " + index_name + " maps to it");
    }
  }
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> names;
  for (const auto& [name, shard] : shard_of_) names.push_back(name);
  return names;
}

models::TensorShapes Checkpoint::shapes() const {
  models::TensorShapes shapes;
  for (const auto& [name, shard] : shard_of_) shapes[name] = files_[shard].info(name).shape;
  return shapes;
}

const SafetensorsFile& Checkpoint::file_of(const std::string& name) const {
  auto found = shard_of_.find(name);
  if (found == shard_of_.end()) throw Error(path_, "no tensor '" + name + "' in the checkpoint");
  return files_[found->second];
}

at::Tensor Checkpoint::load(const std::string& name, c10::ScalarType dtype, c10::Device device) const {
  return file_of(name).load(name, dtype, device);
}

at::Tensor Checkpoint::load(const std::string& name) const { return file_of(name).load(name); }

at::Tensor Checkpoint::load_rows(const std::string& name, std::int64_t begin, std::int64_t end, c10::ScalarType dtype,
                                 c10::Device device) const {
  return file_of(name).load_rows(name, begin, end, dtype, device);
}

at::Tensor Checkpoint::load_bytes(const std::string& name, std::uint64_t begin, std::uint64_t end) const {
  return file_of(name).load_bytes(name, begin, end);
}

}  // namespace epalm::safetensors
