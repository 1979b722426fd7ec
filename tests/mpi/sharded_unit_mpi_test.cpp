// Sharded frozen weights under mpirun: every rank reads only its byte ranges
// of a real safetensors checkpoint, holds 1/N of the unit, and the gathered
// unit equals the checkpoint's tensors bit for bit; resident memory measured
// from /proc (anonymous and file-backed pages) is ~1/N of the unit, not all of it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <malloc.h>
#include <unistd.h>

#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/parallel/sharded_unit.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/world.h"
#include "mpi_test_world.h"

namespace epalm::distributed {
namespace {

// A checkpoint every rank can read: rank 0 writes it into a directory named
// after the job (the ranks share mpirun as parent), removed when done.
class SharedCheckpoint {
 public:
  SharedCheckpoint(const World& world, const std::string& name,
                   const std::vector<std::pair<std::string, torch::Tensor>>& tensors)
      : world_(world),
        dir_(std::filesystem::temp_directory_path() /
             ("epalm-sharded-" + std::to_string(getppid()) + "-" + name)) {
    path_ = (dir_ / "model.safetensors").string();
    if (world.rank() == 0) {
      std::filesystem::create_directories(dir_);
      safetensors::write_safetensors(path_, tensors);
    }
    world.barrier();
  }
  ~SharedCheckpoint() {
    world_.barrier();
    std::error_code ignored;
    if (world_.rank() == 0) std::filesystem::remove_all(dir_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  const World& world_;
  std::filesystem::path dir_;
  std::string path_;
};

// Resident KiB from /proc/self/status, after handing freed heap memory back
// (the allocator would otherwise keep earlier temporaries resident).
std::int64_t status_kib(const std::string& field) {
  malloc_trim(0);
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

TEST(ShardedUnit, GathersTheCheckpointsTensorsBitForBitFromOneNthEach) {
  const World& world = *testing::mpi_test_world;
  auto comm = make_communicator(world, c10::kCPU);
  torch::manual_seed(11);
  // A layer's shapes (odd sizes, so shards split tensors mid-row) plus a bf16 one.
  const std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"layers.0.q.weight", torch::randn({37, 29})},
      {"layers.0.fc1.weight", torch::randn({61, 29})},
      {"layers.0.fc2.weight", torch::randn({29, 61})},
      {"layers.0.v.weight", torch::randn({29, 29}).to(torch::kBFloat16)},
  };
  const SharedCheckpoint file(world, "bits", tensors);
  safetensors::Checkpoint checkpoint(file.path());
  std::vector<std::string> names;
  for (const auto& [n, t] : tensors) names.push_back(n);
  parallel::ShardedUnit unit(checkpoint, names, comm->rank(), comm->size(), torch::kFloat, c10::kCPU);

  // This rank read only its share: the shard's payload, never the whole unit.
  std::int64_t stored_bytes = 0;
  for (const auto& [n, t] : tensors) stored_bytes += t.numel() * static_cast<std::int64_t>(t.element_size());
  EXPECT_EQ(unit.shard().numel(), unit.layout().padded_numel() / comm->size());
  EXPECT_LE(unit.bytes_read(), stored_bytes / comm->size() + 4 * 64 * 4) << "one shard plus padding at most";
  std::int64_t everyone = unit.bytes_read();
  {
    auto all = torch::tensor({unit.bytes_read()}, torch::kLong);
    comm->all_reduce(all, parallel::ReduceOp::kSum)->wait();
    everyone = all.item<std::int64_t>();
  }
  EXPECT_EQ(everyone, stored_bytes) << "the ranks together read every byte exactly once";

  comm->reset_tallies();
  auto buffer = unit.make_buffer();
  unit.gather_into(*comm, buffer)->wait();
  const auto views = unit.views(buffer);
  for (const auto& [n, t] : tensors) {
    EXPECT_TRUE(torch::equal(views.at(n), t.to(torch::kFloat))) << n;
  }
  EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).calls, 1);
  EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).bytes, unit.layout().padded_numel() * 4);
}

TEST(ShardedUnit, PrefetchingGathererServesEveryUnitInOrder) {
  const World& world = *testing::mpi_test_world;
  auto comm = make_communicator(world, c10::kCPU);
  torch::manual_seed(5);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (int layer = 0; layer < 4; ++layer) {
    tensors.emplace_back("layers." + std::to_string(layer) + ".a", torch::randn({13 + layer, 7}));
    tensors.emplace_back("layers." + std::to_string(layer) + ".b", torch::randn({5, 11}));
  }
  const SharedCheckpoint file(world, "prefetch", tensors);
  safetensors::Checkpoint checkpoint(file.path());
  std::vector<std::unique_ptr<parallel::ShardedUnit>> units;
  std::vector<const parallel::ShardedUnit*> order;
  for (int layer = 0; layer < 4; ++layer) {
    const auto p = "layers." + std::to_string(layer) + ".";
    units.push_back(std::make_unique<parallel::ShardedUnit>(checkpoint, std::vector<std::string>{p + "a", p + "b"}, comm->rank(),
                                                  comm->size(), torch::kFloat, c10::kCPU));
    order.push_back(units.back().get());
  }
  comm->reset_tallies();
  parallel::UnitGatherer gatherer(*comm, order, 2);
  for (int layer = 0; layer < 4; ++layer) {
    const auto views = gatherer.acquire(static_cast<size_t>(layer));
    const auto p = "layers." + std::to_string(layer) + ".";
    EXPECT_TRUE(torch::equal(views.at(p + "a"), tensors[2 * layer].second)) << layer;
    EXPECT_TRUE(torch::equal(views.at(p + "b"), tensors[2 * layer + 1].second)) << layer;
    // The next unit's gather is already out (prefetch), none further.
    const auto expected = std::min(layer + 2, 4);
    EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).calls, expected) << layer;
  }
}

// Resident memory of the frozen weights, measured: 1/N of the unit's bytes
// stay in anonymous memory after loading, and only ~1/N of the file was
// paged in; gathering then adds the one full buffer.
TEST(ShardedUnit, ResidentMemoryIsOneNthPlusTheGatherBuffer) {
  const World& world = *testing::mpi_test_world;
  auto comm = make_communicator(world, c10::kCPU);
  const std::int64_t rows = 3 * 1024, cols = 4096;  // 48 MiB of fp32 in 4 tensors of 12 MiB
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (int i = 0; i < 4; ++i) tensors.emplace_back("big." + std::to_string(i), torch::full({rows / 4, cols}, 1.0f + i));
  const std::int64_t total = 4 * (rows / 4) * cols * 4;
  const SharedCheckpoint file(world, "memory", tensors);
  tensors.clear();
  const double mib = 1024.0 * 1024.0;
  const double share = static_cast<double>(total) / comm->size() / mib;

  const auto anon_before = status_kib("RssAnon");
  const auto file_before = status_kib("RssFile");
  std::unique_ptr<parallel::ShardedUnit> unit;
  double file_delta = 0;
  {
    safetensors::Checkpoint checkpoint(file.path());
    unit = std::make_unique<parallel::ShardedUnit>(checkpoint, std::vector<std::string>{"big.0", "big.1", "big.2", "big.3"},
                                         comm->rank(), comm->size(), torch::kFloat, c10::kCPU);
    file_delta = (status_kib("RssFile") - file_before) / 1024.0;
  }
  const double anon_delta = (status_kib("RssAnon") - anon_before) / 1024.0;
  std::cerr << "rank " << comm->rank() << "/" << comm->size() << ": unit " << total / mib << " MiB, share " << share
            << " MiB; resident after loading +" << anon_delta << " MiB anonymous, +" << file_delta
            << " MiB of the file paged in\n";
  EXPECT_NEAR(anon_delta, share, 0.1 * share + 4) << "the shard, not the unit";
  EXPECT_LT(file_delta, share * 1.1 + 4) << "only this rank's byte ranges were read";

  auto buffer = unit->make_buffer();
  unit->gather_into(*comm, buffer)->wait();
  const double gathered = (status_kib("RssAnon") - anon_before) / 1024.0;
  std::cerr << "rank " << comm->rank() << ": with the gathered buffer +" << gathered << " MiB\n";
  EXPECT_NEAR(gathered, share + total / mib, 0.1 * share + 8) << "the shard plus one full buffer";
  EXPECT_EQ(buffer[0].item<float>(), 1.0f);
  EXPECT_EQ(buffer[total / 4 - 1].item<float>(), 4.0f);
}

}  // namespace
}  // namespace epalm::distributed
