// A read-only memory map of a whole regular file (private to core).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace epalm::safetensors {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws epalm::Error(path, why)
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }  // null for an empty file
  std::size_t size() const { return size_; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace epalm::safetensors
