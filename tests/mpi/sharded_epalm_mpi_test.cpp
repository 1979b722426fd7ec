// The real eP-ALM trained with sharded frozen weights under mpirun equals one
// process at the same global batch. The frozen OPT decoder and ViT encoder
// are the train fixtures' Hugging Face checkpoints (real safetensors); the
// run-time planner (plan_frozen_weights, --plan shard) shards every decoder
// layer and ViT block, each rank reading 1/N of them. The trainables are the
// connectors, the soft prompt and adapters inside every decoder layer (so
// the sharded layers' backward hands trainables their gradients). Compared
// every step: the loss, every trainable's gradient and the trainables, bit
// for bit against data parallel with the whole models and, against one
// process at the same global batch, within the bound fp32 summation in
// another order allows (tests/support/tolerance.h). Afterwards the frozen weights gathered again equal the
// checkpoint bit for bit and the sharded models' fingerprints equal the whole
// ones'; the all-gathers per step are what the plan predicts; each rank holds
// ~1/N of the layers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/models/epalm_model.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/vit.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/parallel/sharded_unit.h"
#include "epalm/core/train/trainer.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/frozen_plan.h"
#include "epalm/experiments/training_run.h"
#include "mpi_test_world.h"
#include "tolerance.h"

namespace epalm::distributed {
namespace {

constexpr std::int64_t kSamples = 6, kTokens = 7;
constexpr int kSteps = 3;

std::string fixture(const std::string& name) { return std::string(EPALM_TRAIN_FIXTURES) + "/" + name; }

experiments::TrainingRunSettings run_settings() {
  experiments::TrainingRunSettings s;
  s.decoder = fixture("opt");
  s.encoder = fixture("vit");
  s.plan = parallel::PlanMode::kShard;
  s.shard_threshold = 1;  // the fixtures' matrices are tiny: shard every 2-D tensor
  s.batch_size = kSamples;
  auto& e = s.epalm;
  e.levels = 2;
  e.start_layer = 1;
  e.end_layer = 4;
  e.prompt_length = 3;
  e.adapters.on_attention = e.adapters.on_ffn = true;
  e.adapters.reduction = 4;
  e.adapters.layer_norm = true;
  return s;
}

// The global batch, rows [begin, end) of it: pixels through the given
// encoder, random text with padding at the end of some rows.
class Batches : public train::BatchSource {
 public:
  Batches(const models::Encoder& encoder, int levels, std::int64_t vocab, std::int64_t begin, std::int64_t end)
      : encoder_(encoder), levels_(levels), vocab_(vocab), begin_(begin), end_(end) {}
  train::Batch batch_at(std::int64_t position) override {
    torch::manual_seed(100 + position);
    const auto pixels = torch::randn({kSamples, 3, 224, 224});
    const auto ids = torch::randint(4, vocab_, {kSamples, kTokens}, torch::kLong);
    auto mask = torch::ones({kSamples, kTokens}, torch::kLong);
    for (std::int64_t i = 0; i < kSamples; ++i) mask[i].slice(0, kTokens - i % 3).zero_();
    train::Batch b;
    b.features = models::EpalmModel::select_features(encoder_, pixels.slice(0, begin_, end_), levels_);
    b.input_ids = ids.slice(0, begin_, end_);
    b.attention_mask = mask.slice(0, begin_, end_);
    b.labels = ids.masked_fill(mask == 0, -100).slice(0, begin_, end_);
    return b;
  }

 private:
  const models::Encoder& encoder_;
  int levels_;
  std::int64_t vocab_, begin_, end_;
};

std::vector<std::string> sorted_unit_names(const parallel::ShardedUnit& unit) {
  std::vector<std::string> names;
  for (const auto& m : unit.layout().members()) names.push_back(m.name);
  return names;
}

TEST(ShardedEpalm, RanksEqualOneProcessAtTheSameGlobalBatch) {
  const World& world = *testing::mpi_test_world;
  auto comm = make_communicator(world, c10::kCPU);
  const int size = comm->size(), rank = comm->rank();
  const auto s = run_settings();

  // The plan, as `epalm train --plan shard` makes it.
  const auto plan = experiments::plan_frozen_weights(s, *comm, /*training=*/true);
  ASSERT_EQ(plan.decoder.communicator, comm.get());
  // The whole models (the single process) and the sharded ones (this rank).
  const auto whole_decoder = models::OptModel::from_pretrained(s.decoder);
  const auto whole_encoder = models::VitModel::from_pretrained(s.encoder);
  const auto decoder = models::OptModel::from_pretrained(s.decoder, torch::kFloat, c10::kCPU, plan.decoder);
  const auto encoder = models::VitModel::from_pretrained(s.encoder, torch::kFloat, c10::kCPU, plan.encoder);
  const auto layers = decoder.config().num_layers, blocks = encoder.config().num_layers;
  for (std::int64_t i = 0; i < layers; ++i) ASSERT_NE(decoder.sharded_layer(i), nullptr) << "decoder layer " << i;
  for (std::int64_t i = 0; i < blocks; ++i) ASSERT_NE(encoder.sharded_layer(i), nullptr) << "encoder block " << i;
  // No rank holds a sharded matrix whole; the fingerprints are the whole models'.
  for (const auto& [name, t] : decoder.weights()) {
    EXPECT_FALSE(name.rfind("decoder.layers.", 0) == 0 && t.dim() == 2) << name << " is held whole";
  }
  EXPECT_EQ(decoder.fingerprint(), whole_decoder.fingerprint());
  EXPECT_EQ(encoder.fingerprint(), whole_encoder.fingerprint());

  // Resident frozen bytes: the whole small tensors plus 1/N of the layers, as planned.
  std::int64_t small_bytes = 0, planned_shard_bytes = 0, padding_bound = 0;
  for (const auto& u : plan.memory.units) {
    small_bytes += u.unit.small_elements * 4;
    if (u.policy == parallel::ShardPolicy::kShard) planned_shard_bytes += u.resident_bytes - u.unit.small_elements * 4;
  }
  const auto d = decoder.frozen_footprint(), e = encoder.frozen_footprint();
  EXPECT_EQ(d.sharded_layers, layers);
  EXPECT_EQ(e.sharded_layers, blocks);
  EXPECT_EQ(d.replicated_bytes + e.replicated_bytes, small_bytes);
  for (std::int64_t i = 0; i < layers + blocks; ++i) {
    const auto* u = i < layers ? decoder.sharded_layer(i) : encoder.sharded_layer(i - layers);
    // Members start at 64-element boundaries, the tail pads to N.
    padding_bound += (static_cast<std::int64_t>(u->layout().members().size()) * 64 + size) * 4 / size;
    EXPECT_EQ(u->shard().numel() * size, u->layout().padded_numel());
  }
  EXPECT_GE(d.shard_bytes + e.shard_bytes, planned_shard_bytes);
  EXPECT_LE(d.shard_bytes + e.shard_bytes, planned_shard_bytes + padding_bound);
  EXPECT_EQ(plan.memory.frozen_resident_bytes, small_bytes + planned_shard_bytes);
  std::cout << "rank " << rank << " of " << size << ": frozen resident " << d.replicated_bytes + e.replicated_bytes
            << " whole + " << d.shard_bytes + e.shard_bytes << " shard bytes (plan " << plan.memory.frozen_resident_bytes
            << ", whole model " << plan.memory.frozen_total_bytes << ")\n";

  // Same seed: the same initial trainables.
  models::EpalmModel reference(s.epalm, whole_decoder, whole_encoder.hidden_size(), blocks, 5);
  models::EpalmModel sharded(s.epalm, decoder, encoder.hidden_size(), blocks, 5);
  // AdamW's eps dominates sqrt(v) here, so an update is proportional to its
  // gradient: fp32 rounding from the other summation order is not amplified
  // into sign-sized steps for near-zero gradients (the bound on the
  // trainables, testing::adamw_step_bound, needs eps >= 1), and the steps still move.
  train::OptimizerSettings optimizer;
  optimizer.lr = optimizer.prompt_lr = 0.5;
  optimizer.eps = 1.0;
  train::ScheduleSettings schedule;
  schedule.total_steps = kSteps;
  schedule.warmup_steps = 0;
  train::Trainer reference_trainer(reference, optimizer, schedule, {});
  train::Trainer sharded_trainer(sharded, optimizer, schedule, {}, comm.get());
  // Data parallel with the whole models: what sharding alone must not change.
  models::EpalmModel replicated(s.epalm, whole_decoder, whole_encoder.hidden_size(), blocks, 5);
  train::Trainer replicated_trainer(replicated, optimizer, schedule, {}, comm.get());
  const auto vocab = decoder.config().vocab_size;
  Batches global(whole_encoder, s.epalm.levels, vocab, 0, kSamples);
  Batches local(encoder, s.epalm.levels, vocab, kSamples * rank / size, kSamples * (rank + 1) / size);
  Batches local_whole(whole_encoder, s.epalm.levels, vocab, kSamples * rank / size, kSamples * (rank + 1) / size);

  std::int64_t gathered_bytes = 0;  // one gather of every sharded unit, whole
  for (std::int64_t i = 0; i < layers + blocks; ++i) {
    const auto* u = i < layers ? decoder.sharded_layer(i) : encoder.sharded_layer(i - layers);
    gathered_bytes += u->layout().padded_numel() * 4 * (i < layers ? 2 : 1);
  }
  // The one process's gradients are sums over the global batch's rows; the
  // ranks sum their rows, then all_reduce the partial sums: the same terms in
  // another order, each term through fewer rows per product
  // (testing::batch_split_bound). Terms: every position a trainable acts on
  // (prompt, text, the injected token) in every sample, plus the normalizer's
  // division and the rank partials' sum. sum|terms| is taken per sample (each
  // sample's own gradient, `probe` below): the finest split of the terms this
  // test sees. Each term's chain: the ViT's to the features, then the loss's.
  const std::int64_t positions = s.epalm.prompt_length + kTokens + 1;
  const double gradient_terms = static_cast<double>(kSamples * positions + 2);
  const auto& vc = whole_encoder.config();
  const double term_depth =
      models::vit_depth(vc, vc.grid_size() * vc.grid_size() + 1, -1, true) +
      models::epalm_loss_depth(decoder.config(), kSamples * kTokens, positions, whole_encoder.hidden_size(),
                               decoder.config().hidden_size / s.epalm.adapters.reduction, true);
  // The loss: kSamples * kTokens non-negative cross-entropies (so sum|terms|
  // is the total itself), times the loss weight, summed in double across ranks,
  // divided by the normalizer.
  const double loss_factor = testing::two_orders(static_cast<double>(kSamples * kTokens + 3));
  // Per-sample gradients at the sharded run's trainables.
  models::EpalmModel probe(s.epalm, whole_decoder, whole_encoder.hidden_size(), blocks, 5);
  const auto ref_params = reference.named_parameters(), got_params = sharded.named_parameters();
  const auto rep_params = replicated.named_parameters(), probe_params = probe.named_parameters();
  ASSERT_EQ(ref_params.size(), got_params.size());
  ASSERT_EQ(probe_params.size(), got_params.size());
  // Per trainable, over the steps so far: the largest gradient bound and |gradient| (see the update bound).
  std::vector<torch::Tensor> largest_bound(got_params.size()), largest_gradient(got_params.size());
  int warm_buffers = 0;  // gather buffers after the first step: later steps reuse them
  for (int step = 0; step < kSteps; ++step) {
    if (step == 1) warm_buffers = decoder.frozen_footprint().gather_buffers + encoder.frozen_footprint().gather_buffers;
    // The one process starts every step from the sharded run's trainables: a
    // step compares the batch split's summation order alone, not the rounding
    // earlier steps carried into the trainables (which a gradient then
    // amplifies by the model's curvature, which no rounding bound knows).
    std::vector<torch::Tensor> before;
    {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < got_params.size(); ++i) {
        ref_params[i].second.copy_(got_params[i].second);
        probe_params[i].second.copy_(got_params[i].second);
        before.push_back(got_params[i].second.detach().clone());
      }
    }
    // sum over samples of |that sample's gradient| (of the step's loss: divided by the global normalizer).
    std::vector<torch::Tensor> magnitude;
    for (const auto& [name, p] : probe_params) magnitude.push_back(torch::zeros_like(p));
    {
      const auto batch = global.batch_at(step);
      double normalizer = 0;
      for (std::int64_t k = 0; k < kSamples; ++k) {
        for (const auto& [name, p] : probe_params) p.mutable_grad() = at::Tensor();
        const auto terms =
            probe.loss_terms(batch.features.slice(0, k, k + 1), batch.input_ids.slice(0, k, k + 1),
                             batch.attention_mask.slice(0, k, k + 1), batch.labels.slice(0, k, k + 1), models::LossSettings{});
        terms.total.backward();
        normalizer += terms.normalizer;
        for (size_t i = 0; i < probe_params.size(); ++i) {
          const auto& g = probe_params[i].second.grad();
          if (g.defined()) magnitude[i] += g.abs();
        }
      }
      for (auto& m : magnitude) m /= normalizer;
    }
    const auto expected = reference_trainer.step(global);
    const auto replicated_result = replicated_trainer.step(local_whole);
    comm->reset_tallies();
    const auto got = sharded_trainer.step(local);
    EXPECT_TRUE(testing::within(got.loss, expected.loss, loss_factor * std::abs(expected.loss),
                                "loss at step " + std::to_string(step)));
    // Every decoder layer twice (forward, backward re-gather), every ViT block once.
    EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).calls, plan.memory.all_gathers_per_micro_batch) << "step " << step;
    EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).calls, 2 * layers + blocks) << "step " << step;
    EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).bytes, gathered_bytes) << "step " << step;
    // Received per rank: (N-1)/N of each gather; the plan counts it without alignment padding.
    const auto received = gathered_bytes * (size - 1) / size;
    EXPECT_GE(received, plan.memory.all_gather_bytes_per_micro_batch) << "step " << step;
    EXPECT_LE(received, plan.memory.all_gather_bytes_per_micro_batch + 2 * padding_bound * (size - 1))
        << "step " << step;
    EXPECT_EQ(comm->tally(parallel::Collective::kReduceScatter).calls, 0) << "step " << step;
    EXPECT_EQ(got.loss, replicated_result.loss) << "step " << step;
    int adapters_with_gradient = 0, moved = 0;
    double worst_gradient = 0, worst_value = 0;  // the largest |difference| / bound
    std::string worst_name;
    for (size_t i = 0; i < ref_params.size(); ++i) {
      const auto& [name, p] = ref_params[i];
      const auto& q = got_params[i].second;
      const auto what = name + " at step " + std::to_string(step);
      ASSERT_EQ(got_params[i].first, name);
      ASSERT_TRUE(p.grad().defined()) << name;
      ASSERT_TRUE(q.grad().defined()) << name << " has no gradient through the sharded layers";
      // Sharding changes nothing: bit for bit the replicated data-parallel run.
      EXPECT_TRUE(torch::equal(q.grad(), rep_params[i].second.grad())) << name << " step " << step;
      EXPECT_TRUE(torch::equal(q, rep_params[i].second)) << name << " step " << step;
      // Against one process: only the batch split's summation order differs.
      const auto bound = testing::batch_split_bound(magnitude[i], gradient_terms, term_depth);
      EXPECT_TRUE(testing::within(q.grad(), p.grad(), bound, "gradient of " + what));
      const double ratio = testing::worst_element(q.grad(), p.grad(), bound).ratio;
      if (ratio > worst_gradient) worst_gradient = ratio, worst_name = name;
      // The update from the same trainables (eps = 1, see the optimizer above).
      largest_bound[i] = step == 0 ? bound : torch::maximum(largest_bound[i], bound);
      largest_gradient[i] = step == 0 ? p.grad().abs() : torch::maximum(largest_gradient[i], p.grad().abs());
      const auto value_bound = testing::adamw_step_bound(optimizer.lr, largest_bound[i], largest_gradient[i], p);
      EXPECT_TRUE(testing::within(q, p, value_bound, "value of " + what));
      worst_value = std::max(worst_value, testing::worst_element(q, p, value_bound).ratio);
      // The step moved the trainables by more than the bound: the comparison is not vacuous.
      moved += (q.detach() - before[i]).abs().gt(value_bound).any().item<bool>();
      if (name.find("adapters") != std::string::npos && p.grad().norm().item<double>() > 0) ++adapters_with_gradient;
    }
    EXPECT_GT(adapters_with_gradient, 0);
    EXPECT_GT(moved, 0) << "step " << step;
    if (rank == 0) {
      std::cout << "step " << step << ": loss " << got.loss << " (one process " << expected.loss
                << "); vs one process, the largest difference / bound: gradients " << worst_gradient
                << " (" << worst_name << "), trainables " << worst_value << "\n";
    }
  }

  // The models gather into the buffers they kept: none allocated after the first step.
  const auto buffers = decoder.frozen_footprint().gather_buffers + encoder.frozen_footprint().gather_buffers;
  EXPECT_GT(warm_buffers, 0);
  EXPECT_EQ(buffers, warm_buffers);
  if (rank == 0) std::cout << "gather buffers kept: " << buffers << "\n";

  // The frozen weights are untouched: gathered again, they are the checkpoint's bytes.
  const safetensors::Checkpoint decoder_checkpoint(s.decoder), encoder_checkpoint(s.encoder);
  for (std::int64_t i = 0; i < layers + blocks; ++i) {
    const auto* u = i < layers ? decoder.sharded_layer(i) : encoder.sharded_layer(i - layers);
    const auto& checkpoint = i < layers ? decoder_checkpoint : encoder_checkpoint;
    auto buffer = u->make_buffer();
    u->gather_into(*comm, buffer)->wait();
    const auto views = u->views(buffer);
    for (const auto& name : sorted_unit_names(*u)) {
      EXPECT_TRUE(torch::equal(views.at(name), checkpoint.load(name))) << name;
    }
  }
}

// Prefetch: forward gathers each layer once, the next one in flight; when
// backward recomputes layer i, the gather of layer i - 1 (the one it reaches
// next) has already been issued. Seen from an adapter-style hook that counts
// the all-gathers issued when it runs with gradients on (the recomputation).
TEST(ShardedEpalm, BackwardPrefetchesTheLayerItReachesNext) {
  const World& world = *testing::mpi_test_world;
  auto comm = make_communicator(world, c10::kCPU);
  const auto s = run_settings();
  const auto plan = experiments::plan_frozen_weights(s, *comm, true);
  const auto decoder = models::OptModel::from_pretrained(s.decoder, torch::kFloat, c10::kCPU, plan.decoder);
  const auto layers = decoder.config().num_layers;
  torch::manual_seed(3);
  const auto ids = torch::randint(4, decoder.config().vocab_size, {2, 5}, torch::kLong);
  auto prompt = torch::randn({2, 3, decoder.config().word_embed_proj_dim}).requires_grad_();
  std::map<int, std::int64_t> issued_at_recompute;
  models::OptForwardOptions o;
  o.prefix_embeds = prompt;
  o.compute_logits = false;
  o.ffn_output_hook = [&](int layer, const at::Tensor& x) {
    if (torch::GradMode::is_enabled()) issued_at_recompute[layer] = comm->tally(parallel::Collective::kAllGather).calls;
    return x;
  };
  comm->reset_tallies();
  const auto hidden = decoder.forward(ids, o).last_hidden_state;
  EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).calls, layers) << "forward: one gather per layer";
  hidden.pow(2).sum().backward();
  ASSERT_TRUE(prompt.grad().defined());
  EXPECT_EQ(comm->tally(parallel::Collective::kAllGather).calls, 2 * layers) << "backward: one more per layer";
  ASSERT_EQ(static_cast<std::int64_t>(issued_at_recompute.size()), layers);
  for (const auto& [layer, issued] : issued_at_recompute) {
    // Layers L-1 .. layer gathered for backward, plus layer - 1 in flight.
    EXPECT_EQ(issued, layers + (layers - layer) + (layer > 0 ? 1 : 0)) << "layer " << layer;
  }
}

// --plan auto: nothing sharded without a budget or on one rank; under a
// budget the replicated plan misses, the largest layers first and only as
// many as it takes; the models load exactly the planned layers sharded.
TEST(ShardedEpalm, AutoShardsOnlyAsFarAsTheBudgetNeeds) {
  const World& world = *testing::mpi_test_world;
  auto comm = make_communicator(world, c10::kCPU);
  auto s = run_settings();
  s.plan = parallel::PlanMode::kAuto;
  const auto free = experiments::plan_frozen_weights(s, *comm, true);
  EXPECT_EQ(free.decoder.communicator, nullptr);
  for (const auto& u : free.memory.units) EXPECT_EQ(u.policy, parallel::ShardPolicy::kReplicate) << u.unit.name;

  // A budget the replicated plan meets: still nothing sharded.
  s.memory_budget = free.memory.per_rank_bytes;
  for (const auto& u : experiments::plan_frozen_weights(s, *comm, true).memory.units) {
    EXPECT_EQ(u.policy, parallel::ShardPolicy::kReplicate) << u.unit.name;
  }
  // Just short of it: some layers sharded (with the gather buffers they
  // need), never more communication than sharding everything.
  s.memory_budget = free.memory.per_rank_bytes - 1;
  const auto tight = experiments::plan_frozen_weights(s, *comm, true);
  int sharded = 0;
  for (const auto& u : tight.memory.units) sharded += u.policy == parallel::ShardPolicy::kShard;
  if (comm->size() == 1) {
    EXPECT_EQ(sharded, 0) << "one rank cannot save memory by sharding";
    EXPECT_FALSE(tight.memory.fits);
    return;
  }
  auto everything = s;
  everything.plan = parallel::PlanMode::kShard;
  const auto all = experiments::plan_frozen_weights(everything, *comm, true);
  ASSERT_LT(all.memory.per_rank_bytes, free.memory.per_rank_bytes) << "sharding must save memory here";
  EXPECT_TRUE(tight.memory.fits);
  EXPECT_GE(sharded, 1);
  EXPECT_LE(tight.memory.per_rank_bytes, s.memory_budget);
  EXPECT_LE(tight.memory.all_gather_bytes_per_micro_batch, all.memory.all_gather_bytes_per_micro_batch);
  const auto decoder = models::OptModel::from_pretrained(s.decoder, torch::kFloat, c10::kCPU, tight.decoder);
  const auto encoder = models::VitModel::from_pretrained(s.encoder, torch::kFloat, c10::kCPU, tight.encoder);
  int loaded = 0;
  for (std::int64_t i = 0; i < decoder.config().num_layers; ++i) {
    EXPECT_EQ(decoder.sharded_layer(i) != nullptr, tight.decoder.shards(i)) << "decoder layer " << i;
    loaded += decoder.sharded_layer(i) != nullptr;
  }
  for (std::int64_t i = 0; i < encoder.config().num_layers; ++i) {
    EXPECT_EQ(encoder.sharded_layer(i) != nullptr, tight.encoder.shards(i)) << "encoder block " << i;
    loaded += encoder.sharded_layer(i) != nullptr;
  }
  EXPECT_EQ(loaded, sharded);
}

}  // namespace
}  // namespace epalm::distributed
