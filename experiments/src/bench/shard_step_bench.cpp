#include "epalm/experiments/bench/shard_step_bench.h"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "epalm/experiments/bench/bench.h"
#include "epalm/core/parallel/communicator.h"
#include "epalm/core/parallel/gradient_bucket.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/parallel/sharded_layer.h"
#include "epalm/core/parallel/sharded_unit.h"
#include "epalm/distributed/world.h"

namespace epalm::experiments {

namespace {

using Clock = std::chrono::steady_clock;

// Every collective passed to the real communicator except all-gathers, which
// are skipped: the step's compute without the weights' communication.
class NoGatherCommunicator final : public parallel::Communicator {
 public:
  explicit NoGatherCommunicator(parallel::Communicator& real) : real_(real) {}
  int rank() const override { return real_.rank(); }
  int size() const override { return real_.size(); }
  std::string backend() const override { return real_.backend() + " (no all-gathers)"; }
  [[noreturn]] void abort(const std::string& why) override {
    real_.abort(why);
    std::abort();  // not reached: the real abort ends the job
  }

 protected:
  // Every slot gets this rank's shard: a local copy, no communication, and
  // weights of the right magnitude (no denormals from uninitialised memory).
  std::unique_ptr<parallel::Work> do_all_gather(const at::Tensor& shard, const at::Tensor& full) override {
    full.view({size(), -1}).copy_(shard.view({1, -1}).expand({size(), shard.numel()}));
    return parallel::finished_work();
  }
  std::unique_ptr<parallel::Work> do_reduce_scatter(const at::Tensor& full, const at::Tensor& shard, parallel::ReduceOp op) override {
    return real_.reduce_scatter(full, shard, op);
  }
  std::unique_ptr<parallel::Work> do_all_reduce(const at::Tensor& tensor, parallel::ReduceOp op) override {
    return real_.all_reduce(tensor, op);
  }
  std::unique_ptr<parallel::Work> do_broadcast(const at::Tensor& tensor, int root) override {
    return real_.broadcast(tensor, root);
  }
  void do_barrier() override { real_.barrier(); }

 private:
  parallel::Communicator& real_;
};

std::string name(int layer, const char* tensor) { return "layers." + std::to_string(layer) + "." + tensor; }

torch::Tensor block(const std::map<std::string, torch::Tensor>& w, int layer, const torch::Tensor& h) {
  const auto x = torch::layer_norm(h, {h.size(-1)}, w.at(name(layer, "norm.weight")), w.at(name(layer, "norm.bias")));
  const auto a = torch::relu(torch::linear(x, w.at(name(layer, "fc1.weight")), w.at(name(layer, "fc1.bias"))));
  return h + torch::linear(a, w.at(name(layer, "fc2.weight")), w.at(name(layer, "fc2.bias")));
}

// Times `step` per mode as the slowest rank sees it, with the collectives it issued.
template <typename Step>
StepRow time_mode(const char* mode, parallel::Communicator& comm, const distributed::World& world, const StepSettings& s,
                  const Step& step) {
  for (int i = 0; i < s.warmup; ++i) step();
  comm.reset_tallies();
  std::vector<double> times;
  for (int i = 0; i < s.repetitions; ++i) {
    world.barrier();
    const auto start = Clock::now();
    step();
    synchronize(s.device);
    times.push_back(world.all_reduce_max(std::chrono::duration<double>(Clock::now() - start).count()));
  }
  StepRow row;
  row.mode = mode;
  row.step_s = median(times);
  row.all_gathers = comm.tally(parallel::Collective::kAllGather).calls / s.repetitions;
  row.gathered_bytes = comm.tally(parallel::Collective::kAllGather).bytes / s.repetitions;
  row.all_reduces = comm.tally(parallel::Collective::kAllReduce).calls / s.repetitions;
  return row;
}

// The real OPT decoder: replicated, every layer sharded, and sharded with the
// all-gathers skipped; backward reaches every layer through a 10-token soft prompt.
std::vector<StepRow> measure_decoder_step(parallel::Communicator& comm, const distributed::World& world, const StepSettings& s) {
  const auto config = models::OptConfig::preset(s.decoder);
  const auto dir = std::filesystem::temp_directory_path() / ("epalm-bench-decoder-" + std::to_string(getppid()));
  if (world.rank() == 0) {
    std::filesystem::create_directories(dir);
    const auto weights = models::OptModel::random(config, torch::kFloat, c10::kCPU, 0).weights();
    safetensors::write_safetensors((dir / "model.safetensors").string(),
                                   std::vector<std::pair<std::string, torch::Tensor>>(weights.begin(), weights.end()));
    std::ofstream((dir / "config.json").string()) << config.to_json();
  }
  world.barrier();
  std::vector<StepRow> rows;
  {
    NoGatherCommunicator no_gather(comm);
    models::LayerSharding sharding;
    sharding.layers.assign(static_cast<size_t>(config.num_layers), true);
    sharding.communicator = &comm;
    const auto whole = models::OptModel::from_pretrained(dir.string(), torch::kFloat, s.device);
    const auto sharded = models::OptModel::from_pretrained(dir.string(), torch::kFloat, s.device, sharding);
    sharding.communicator = &no_gather;
    const auto sharded_no_gather = models::OptModel::from_pretrained(dir.string(), torch::kFloat, s.device, sharding);
    torch::manual_seed(1);
    const auto ids = torch::randint(4, config.vocab_size, {1, s.tokens}, torch::kLong);
    auto prompt = (torch::randn({1, 10, config.word_embed_proj_dim}) * 0.02).to(s.device).requires_grad_();
    parallel::GradientBucket bucket({prompt});
    auto step = [&](const models::OptModel& model) {
      bucket.zero();
      models::OptForwardOptions o;
      o.prefix_embeds = prompt;
      o.compute_logits = false;
      model.forward(ids, o).last_hidden_state.pow(2).mean().backward();
      bucket.reduce(comm, 1.0);
    };
    auto resident = [](const models::OptModel& m) {
      const auto f = m.frozen_footprint();
      return f.replicated_bytes + f.shard_bytes;
    };
    rows.push_back(time_mode("replicate", comm, world, s, [&] { step(whole); }));
    rows.back().frozen_bytes = resident(whole);
    rows.push_back(time_mode("shard", comm, world, s, [&] { step(sharded); }));
    rows.back().frozen_bytes = resident(sharded);
    rows.push_back(time_mode("shard, all-gathers skipped", comm, world, s, [&] { step(sharded_no_gather); }));
    rows.back().frozen_bytes = resident(sharded_no_gather);
  }
  world.barrier();
  std::error_code ignored;
  if (world.rank() == 0) std::filesystem::remove_all(dir, ignored);
  return rows;
}

}  // namespace

std::vector<StepRow> measure_shard_step(parallel::Communicator& comm, const distributed::World& world, const StepSettings& s) {
  if (!s.decoder.empty()) return measure_decoder_step(comm, world, s);
  // The frozen layers as a checkpoint file rank 0 writes where every rank of
  // this node finds it (named after mpirun, the ranks' parent).
  const auto dir = std::filesystem::temp_directory_path() / ("epalm-bench-step-" + std::to_string(getppid()));
  const auto path = (dir / "model.safetensors").string();
  const std::int64_t d = s.width;
  if (world.rank() == 0) {
    torch::manual_seed(0);
    std::vector<std::pair<std::string, torch::Tensor>> weights;
    for (int i = 0; i < s.layers; ++i) {
      weights.emplace_back(name(i, "norm.weight"), torch::ones({d}));
      weights.emplace_back(name(i, "norm.bias"), torch::zeros({d}));
      weights.emplace_back(name(i, "fc1.weight"), torch::randn({4 * d, d}) / std::sqrt(static_cast<double>(d)));
      weights.emplace_back(name(i, "fc1.bias"), torch::zeros({4 * d}));
      weights.emplace_back(name(i, "fc2.weight"), torch::randn({d, 4 * d}) / std::sqrt(4.0 * static_cast<double>(d)));
      weights.emplace_back(name(i, "fc2.bias"), torch::zeros({d}));
    }
    std::filesystem::create_directories(dir);
    safetensors::write_safetensors(path, weights);
  }
  world.barrier();

  std::vector<StepRow> rows;
  {
    safetensors::Checkpoint checkpoint(path);
    std::map<std::string, torch::Tensor> full;
    std::vector<std::unique_ptr<parallel::ShardedUnit>> units;
    std::vector<parallel::LayerFunction> functions;
    for (int i = 0; i < s.layers; ++i) {
      for (const char* t : {"norm.weight", "norm.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}) {
        full[name(i, t)] = checkpoint.load(name(i, t), torch::kFloat, s.device);
      }
      units.push_back(std::make_unique<parallel::ShardedUnit>(
          checkpoint, std::vector<std::string>{name(i, "fc1.weight"), name(i, "fc2.weight"), name(i, "norm.weight"),
                                               name(i, "norm.bias"), name(i, "fc1.bias"), name(i, "fc2.bias")},
          comm.rank(), comm.size(), torch::kFloat, s.device));
      functions.push_back([i](const std::map<std::string, torch::Tensor>& w, const torch::Tensor& h) { return block(w, i, h); });
    }
    // The trainable input: the micro-batch's embeddings (as a soft prompt would be).
    auto input = torch::randn({1, s.tokens, d}, torch::device(s.device)).requires_grad_();
    parallel::GradientBucket bucket({input});
    NoGatherCommunicator no_gather(comm);

    auto step = [&](parallel::Communicator* sharded_with) {
      bucket.zero();
      auto h = input;
      for (int i = 0; i < s.layers; ++i) {
        h = sharded_with ? parallel::apply_sharded_layer(*units[i], *sharded_with, functions[i], h) : block(full, i, h);
      }
      h.pow(2).mean().backward();
      bucket.reduce(comm, 1.0);
    };
    for (auto [mode, with] : {std::pair<const char*, parallel::Communicator*>{"replicate", nullptr}, {"shard", &comm},
                              {"shard, all-gathers skipped", &no_gather}}) {
      rows.push_back(time_mode(mode, comm, world, s, [&, with = with] { step(with); }));
      std::int64_t bytes = 0;
      if (with == nullptr) {
        for (const auto& [n, t] : full) bytes += t.numel() * static_cast<std::int64_t>(t.element_size());
      } else {
        for (const auto& u : units) bytes += u->shard().numel() * static_cast<std::int64_t>(u->shard().element_size());
      }
      rows.back().frozen_bytes = bytes;
    }
  }
  world.barrier();
  std::error_code ignored;
  if (world.rank() == 0) std::filesystem::remove_all(dir, ignored);
  return rows;
}

}  // namespace epalm::experiments
