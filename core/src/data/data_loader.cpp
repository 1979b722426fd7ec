// DataLoader: a thread pool decodes samples; batches are futures the consumer
// waits on in order. Worker threads run LibTorch ops single-threaded
// (ParallelGuard) in inference mode: the parallelism is across samples.
#include "epalm/core/data/data_loader.h"

#include <c10/util/ParallelGuard.h>
#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "epalm/core/augment/augmentations.h"
#include "epalm/core/error.h"

namespace epalm::data {

class DataLoader::Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this] {
        c10::ParallelGuard single_threaded(true);
        c10::InferenceMode inference;
        while (true) {
          std::function<void()> task;
          {
            std::unique_lock<std::mutex> lock(mutex_);
            ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
            if (stopping_) return;
            task = std::move(tasks_.front());
            tasks_.pop_front();
          }
          task();
        }
      });
    }
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      tasks_.clear();
    }
    ready_.notify_all();
    for (auto& w : workers_) w.join();
  }
  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// One batch in flight: its samples' inputs fill in as the workers finish.
struct DataLoader::Pending {
  std::vector<std::size_t> indices;
  std::vector<bool> padding;
  std::vector<at::Tensor> inputs;
  std::mutex mutex;
  std::condition_variable done;
  std::size_t remaining = 0;
  std::exception_ptr error;
};

namespace {

std::uint64_t order_seed(std::uint64_t seed, std::int64_t epoch) {
  return augment::sample_seed(seed ^ 0x6f72646572ULL, epoch, ~0ULL);  // apart from every sample's generator
}

}  // namespace

DataLoader::DataLoader(const Dataset& dataset, media::MediaSettings media, LoaderSettings settings)
    : dataset_(dataset), media_(std::move(media)), settings_(settings) {
  media_.validate();
  if (media_.modality != dataset_.modality) {
    throw UsageError("media settings", std::string("are for ") + modality_name(media_.modality) + " but " + dataset_.name +
                                           " holds " + modality_name(dataset_.modality));
  }
  if (settings_.batch_size < 1) throw UsageError("batch size", "must be positive");
  if (settings_.world_size < 1 || settings_.rank < 0 || settings_.rank >= settings_.world_size) {
    throw UsageError("rank", "rank " + std::to_string(settings_.rank) + " is not in a world of " +
                                 std::to_string(settings_.world_size));
  }
  if (settings_.threads < 1) throw UsageError("loader threads", "must be positive");
  if (settings_.prefetch < 0) throw UsageError("prefetch", "must be >= 0");
  if (samples_per_rank() < 1 || batches_per_epoch() < 1) {
    throw UsageError("batch size", dataset_.name + " has " + std::to_string(dataset_.samples.size()) +
                                       " samples: no full batch of " + std::to_string(settings_.batch_size) + " on each of " +
                                       std::to_string(settings_.world_size) + " ranks");
  }
  pool_ = std::make_unique<Pool>(settings_.threads);
}

DataLoader::~DataLoader() {
  pool_.reset();  // stops the workers; batches still queued are dropped
}

std::int64_t DataLoader::samples_per_rank() const {
  const auto n = static_cast<std::int64_t>(dataset_.samples.size());
  const auto w = static_cast<std::int64_t>(settings_.world_size);
  return settings_.drop_last ? n / w : (n + w - 1) / w;
}

std::int64_t DataLoader::batches_per_epoch() const {
  const auto per_rank = samples_per_rank();
  const auto b = settings_.batch_size;
  return settings_.drop_last ? per_rank / b : (per_rank + b - 1) / b;
}

std::int64_t DataLoader::global_samples(std::int64_t index) const {
  const auto n = static_cast<std::int64_t>(dataset_.samples.size());
  const auto world = static_cast<std::int64_t>(settings_.world_size);
  const auto first = index * settings_.batch_size;
  const auto last = std::min(samples_per_rank(), first + settings_.batch_size);
  // Batch positions k in [first, last) of every rank are global positions
  // [first * world, last * world) (DistributedSampler's interleaving); those past n pad.
  return std::max<std::int64_t>(0, std::min(last * world, n) - first * world);
}

std::vector<std::size_t> DataLoader::epoch_order(std::int64_t epoch) const {
  const auto n = dataset_.samples.size();
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  if (settings_.shuffle) {
    augment::Random random(order_seed(settings_.seed, epoch));
    for (std::size_t i = n; i > 1; --i) {  // Fisher-Yates with our portable generator
      const auto j = static_cast<std::size_t>(random.integer(0, static_cast<std::int64_t>(i) - 1));
      std::swap(order[i - 1], order[j]);
    }
  }
  return order;
}

std::vector<std::size_t> DataLoader::batch_indices(std::int64_t epoch, std::int64_t index, std::vector<bool>* padding) const {
  if (epoch < 0) throw Error(dataset_.name, "negative epoch " + std::to_string(epoch));
  if (index < 0 || index >= batches_per_epoch()) {
    throw Error(dataset_.name, "batch " + std::to_string(index) + " is outside the epoch's " +
                                   std::to_string(batches_per_epoch()) + " batches");
  }
  const auto order = epoch_order(epoch);
  const auto n = static_cast<std::int64_t>(order.size());
  const auto world = static_cast<std::int64_t>(settings_.world_size);
  const auto first = index * settings_.batch_size;
  const auto last = std::min(samples_per_rank(), first + settings_.batch_size);
  std::vector<std::size_t> out;
  if (padding) padding->clear();
  for (auto k = first; k < last; ++k) {
    const auto position = k * world + settings_.rank;  // DistributedSampler's interleaving
    out.push_back(order[static_cast<std::size_t>(position % n)]);
    if (padding) padding->push_back(position >= n);
  }
  return out;
}

std::shared_ptr<DataLoader::Pending> DataLoader::submit(std::int64_t epoch, std::int64_t index) {
  auto pending = std::make_shared<Pending>();
  pending->indices = batch_indices(epoch, index, &pending->padding);
  pending->inputs.resize(pending->indices.size());
  pending->remaining = pending->indices.size();
  for (std::size_t slot = 0; slot < pending->indices.size(); ++slot) {
    pool_->submit([this, pending, slot, epoch] {
      const auto sample_index = pending->indices[slot];
      const auto& sample = dataset_.samples[sample_index];
      at::Tensor input;
      std::exception_ptr error;
      try {
        input = media::media_input(sample, media_, augment::sample_seed(settings_.seed, epoch, sample_index));
      } catch (const Error& e) {
        const auto where = e.where() == sample.media ? e.where() : sample.media;
        const auto reason = e.where() == sample.media ? e.reason() : std::string(e.what());
        error = std::make_exception_ptr(Error(where, dataset_.name + " sample " + std::to_string(sample_index) + " ('" +
                                                         sample.id + "'): " + reason));
      } catch (const std::exception& e) {
        error = std::make_exception_ptr(
            Error(sample.media, dataset_.name + " sample " + std::to_string(sample_index) + " ('" + sample.id + "'): " + e.what()));
      }
      std::lock_guard<std::mutex> lock(pending->mutex);
      if (error && !pending->error) pending->error = error;
      pending->inputs[slot] = std::move(input);
      if (--pending->remaining == 0) pending->done.notify_all();
    });
  }
  return pending;
}

DataLoader::MediaBatch DataLoader::collect(Pending& pending) {
  {
    std::unique_lock<std::mutex> lock(pending.mutex);
    pending.done.wait(lock, [&] { return pending.remaining == 0; });
  }
  if (pending.error) std::rethrow_exception(pending.error);
  MediaBatch out;
  out.indices = std::move(pending.indices);
  out.padding = std::move(pending.padding);
  out.inputs = torch::stack(pending.inputs);
  pending.inputs.clear();
  if (settings_.pin_memory && torch::cuda::is_available()) out.inputs = out.inputs.pin_memory();
  return out;
}

DataLoader::MediaBatch DataLoader::batch(std::int64_t epoch, std::int64_t index) {
  auto pending = submit(epoch, index);
  return collect(*pending);
}

void DataLoader::start_epoch(std::int64_t epoch, std::int64_t first_batch) {
  if (first_batch < 0 || first_batch > batches_per_epoch()) {
    throw Error(dataset_.name, "first batch " + std::to_string(first_batch) + " is outside the epoch's " +
                                   std::to_string(batches_per_epoch()) + " batches");
  }
  // Batches of the previous epoch still decoding finish in the background, unused.
  ahead_.clear();
  epoch_ = epoch;
  next_batch_ = submitted_ = first_batch;
}

std::optional<DataLoader::MediaBatch> DataLoader::next() {
  const auto total = batches_per_epoch();
  auto top_up = [&] {
    while (submitted_ < total && static_cast<std::int64_t>(ahead_.size()) < settings_.prefetch + 1) {
      ahead_.push_back(submit(epoch_, submitted_++));
    }
  };
  top_up();
  if (ahead_.empty()) return std::nullopt;
  auto front = ahead_.front();
  ahead_.erase(ahead_.begin());
  top_up();  // keep `prefetch` batches decoding while the caller works on this one
  ++next_batch_;
  return collect(*front);
}

}  // namespace epalm::data
