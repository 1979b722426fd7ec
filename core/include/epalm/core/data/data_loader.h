// Batches of model inputs for a dataset split: media decoded and transformed
// on background threads, batches prefetched ahead of the consumer, the order
// a function of (seed, epoch) only, and shards of equal length on every rank.
//
// Sharding follows PyTorch's DistributedSampler: the epoch's order (shuffled
// or not) is padded by repeating its start (or cut, with drop_last) to a
// multiple of world_size, and rank r takes positions r, r + world_size, ...
// so every rank has the same number of samples and batches; repeated samples
// are flagged in MediaBatch::padding so evaluation can count each once.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "epalm/core/data/datasets.h"
#include "epalm/core/media/media_inputs.h"

namespace epalm::data {

struct LoaderSettings {
  std::int64_t batch_size = 8;
  bool shuffle = false;
  std::uint64_t seed = 0;
  int rank = 0;
  int world_size = 1;
  int threads = 4;       // decoding threads
  int prefetch = 2;      // batches decoded ahead by next()
  bool drop_last = false;  // drop the last short batch (and cut the shard rather than pad it)
  bool pin_memory = false;  // page-locked batches (when CUDA is available), for asynchronous copies
};

class DataLoader {
 public:
  struct MediaBatch {
    std::vector<std::size_t> indices;  // into Dataset::samples
    std::vector<bool> padding;         // true: a repeat that pads the shard (skip it when scoring)
    at::Tensor inputs;                 // [B, ...MediaSettings::input_shape()] float32
  };

  // Keeps a reference to `dataset`, which must outlive the loader.
  DataLoader(const Dataset& dataset, media::MediaSettings media, LoaderSettings settings);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  std::int64_t batches_per_epoch() const;  // the same on every rank
  std::int64_t samples_per_rank() const;
  // Distinct samples in batch `index` over every rank (repeats that pad the
  // last shards not counted): what a step really consumed.
  std::int64_t global_samples(std::int64_t index) const;
  // This rank's sample indices for batch `index` of `epoch`, and whether each is padding.
  std::vector<std::size_t> batch_indices(std::int64_t epoch, std::int64_t index, std::vector<bool>* padding = nullptr) const;

  // Batch `index` of `epoch`, decoded now on the loader's threads: a
  // deterministic function of (seed, epoch, index), so training can resume
  // anywhere. Errors name the sample and its file.
  MediaBatch batch(std::int64_t epoch, std::int64_t index);

  // The sequential path: start_epoch(e, first_batch) then next() until it
  // returns nothing; `prefetch` batches are decoded ahead in the background.
  void start_epoch(std::int64_t epoch, std::int64_t first_batch = 0);
  std::optional<MediaBatch> next();

  const Dataset& dataset() const { return dataset_; }
  const media::MediaSettings& media() const { return media_; }
  const LoaderSettings& settings() const { return settings_; }

 private:
  struct Pending;
  class Pool;
  std::shared_ptr<Pending> submit(std::int64_t epoch, std::int64_t index);
  MediaBatch collect(Pending& pending);
  std::vector<std::size_t> epoch_order(std::int64_t epoch) const;

  const Dataset& dataset_;
  media::MediaSettings media_;
  LoaderSettings settings_;
  std::unique_ptr<Pool> pool_;
  std::int64_t epoch_ = 0, next_batch_ = 0, submitted_ = 0;
  std::vector<std::shared_ptr<Pending>> ahead_;
};

}  // namespace epalm::data
