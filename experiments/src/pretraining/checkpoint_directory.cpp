#include "pretraining/checkpoint_directory.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"

namespace epalm::experiments::pretraining {

namespace fs = std::filesystem;

CheckpointDirectory::CheckpointDirectory(std::string output) : output_(std::move(output)) {
  if (output_.empty()) throw UsageError("pretraining", "no output directory given");
  while (output_.size() > 1 && output_.back() == '/') output_.pop_back();
  staging_ = output_ + ".partial";
  std::error_code error;
  fs::remove_all(staging_, error);
  if (!fs::create_directories(staging_, error) || error) {
    throw Error(staging_, "cannot create the checkpoint directory: " + error.message());
  }
}

void CheckpointDirectory::write_text(const std::string& name, const std::string& text) const {
  const auto path = (fs::path(staging_) / name).string();
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(path, "cannot write");
}

void CheckpointDirectory::write_weights(const std::vector<std::pair<std::string, at::Tensor>>& tensors) const {
  std::vector<std::pair<std::string, at::Tensor>> saved;
  for (const auto& [name, t] : tensors) saved.emplace_back(name, t.detach().to(torch::kFloat).contiguous());
  safetensors::write_safetensors((fs::path(staging_) / "model.safetensors").string(), saved, {{"format", "pt"}});
}

void CheckpointDirectory::copy_in(const std::string& source) const {
  std::error_code error;
  fs::copy_file(source, fs::path(staging_) / fs::path(source).filename(), fs::copy_options::overwrite_existing, error);
  if (error) throw Error(source, "cannot copy into the checkpoint: " + error.message());
}

void CheckpointDirectory::commit() const {
  std::error_code error;
  fs::remove_all(output_, error);
  if (error) throw Error(output_, "cannot replace the old checkpoint: " + error.message());
  fs::rename(staging_, output_, error);
  if (error) throw Error(output_, "cannot move the finished checkpoint into place: " + error.message());
}

}  // namespace epalm::experiments::pretraining
