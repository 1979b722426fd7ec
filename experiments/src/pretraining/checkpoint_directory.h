// Internal: writing a pretrained checkpoint so that it appears whole or not
// at all: files go into "<output>.partial" (a stale one is cleared first),
// and commit() renames it to <output>, replacing an older checkpoint there.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace epalm::experiments::pretraining {

class CheckpointDirectory {
 public:
  explicit CheckpointDirectory(std::string output);
  const std::string& staging() const { return staging_; }
  void write_text(const std::string& name, const std::string& text) const;
  // model.safetensors, tensors by name (detached, contiguous, float32).
  void write_weights(const std::vector<std::pair<std::string, at::Tensor>>& tensors) const;
  // Copies `source` beside the weights under its own file name.
  void copy_in(const std::string& source) const;
  void commit() const;

 private:
  std::string output_, staging_;
};

}  // namespace epalm::experiments::pretraining
