// Reading and writing safetensors checkpoints with LibTorch: one memory-mapped
// file, a sharded Hugging Face checkpoint (model.safetensors.index.json), and
// the atomic writer for our own checkpoints. Every failure is an epalm::Error
// naming the file. Format and validation: safetensors_format.h.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "epalm/core/safetensors/format.h"
#include "epalm/core/models/state_dict.h"

namespace at {
class Tensor;
}

namespace epalm::safetensors {

// The LibTorch type holding `dtype` element for element, or nothing where
// LibTorch has none (F4, F6_E2M3, F6_E3M2).
std::optional<c10::ScalarType> scalar_type_of(Dtype dtype);
// The safetensors dtype of a LibTorch type, or nothing where the format has none.
std::optional<Dtype> dtype_of(c10::ScalarType type);

class MappedFile;

// One .safetensors file, validated when opened and memory-mapped for as long
// as this object (or a copy of it) lives. Loads copy exactly the bytes asked
// for out of the mapping, so returned tensors never refer to the file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  const Header& header() const { return header_; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  std::vector<std::string> names() const;  // in file (data offset) order
  models::TensorShapes shapes() const;
  bool contains(const std::string& name) const { return header_.find(name) != nullptr; }
  const TensorInfo& info(const std::string& name) const;  // throws for an unknown name

  // The whole tensor, converted to `dtype`, on `device`.
  at::Tensor load(const std::string& name, c10::ScalarType dtype, c10::Device device = c10::kCPU) const;
  // The whole tensor as stored, on the CPU.
  at::Tensor load(const std::string& name) const;
  // Rows [begin, end) along dim 0 (a contiguous byte range), converted and placed
  // like load(); only those rows are read.
  at::Tensor load_rows(const std::string& name, std::int64_t begin, std::int64_t end, c10::ScalarType dtype,
                       c10::Device device = c10::kCPU) const;
  // Bytes [begin, end) of the tensor's data as a 1-D uint8 CPU tensor; works
  // for every dtype, including those LibTorch lacks.
  at::Tensor load_bytes(const std::string& name, std::uint64_t begin, std::uint64_t end) const;

 private:
  std::string path_;
  std::shared_ptr<const MappedFile> mapping_;
  Header header_;
};

// The tensors of a model checkpoint, wherever they live: a .safetensors file,
// a model.safetensors.index.json and its shards, or a directory holding
// either (model.safetensors first, as transformers picks). Tensor names route
// to their shard; the API is SafetensorsFile's. Every shard is opened and
// checked against the index up front.
class Checkpoint {
 public:
  static constexpr const char* kSingleFile = "model.safetensors";
  static constexpr const char* kIndexFile = "model.safetensors.index.json";

  explicit Checkpoint(const std::string& path);

  const std::string& path() const { return path_; }  // the file or index opened
  const std::vector<SafetensorsFile>& files() const { return files_; }
  std::vector<std::string> names() const;  // sorted
  models::TensorShapes shapes() const;
  bool contains(const std::string& name) const { return shard_of_.count(name) != 0; }
  const SafetensorsFile& file_of(const std::string& name) const;  // throws for an unknown name
  const TensorInfo& info(const std::string& name) const { return file_of(name).info(name); }

  at::Tensor load(const std::string& name, c10::ScalarType dtype, c10::Device device = c10::kCPU) const;
  at::Tensor load(const std::string& name) const;
  at::Tensor load_rows(const std::string& name, std::int64_t begin, std::int64_t end, c10::ScalarType dtype,
                       c10::Device device = c10::kCPU) const;
  at::Tensor load_bytes(const std::string& name, std::uint64_t begin, std::uint64_t end) const;

 private:
  void open_sharded(const std::string& index_path);

  std::string path_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::size_t> shard_of_;  // tensor -> index in files_
};

// Writes `tensors` (any device, layout or stride) to `path` as the reference
// writer lays them out: header padded to 8 bytes, data ordered by descending
// dtype alignment then name, so every tensor is aligned. Atomic: a temporary
// file in the same directory is written, fsynced and renamed over `path`.
// Tensors sharing storage are written once per name.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace epalm::safetensors
