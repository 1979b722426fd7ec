// Generation's work cuts (core/src/models/generation.cpp): the prompt runs once per
// sample, not once per beam, and a sample that is done leaves the decoder's
// batch. Neither may change a token: each sample of a batch must come out as
// it does when generated alone. Token-for-token agreement with transformers
// is tests/parity (GenerationParity, EpalmGeneration).
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "epalm/core/models/generation.h"

namespace epalm {
namespace {

constexpr std::int64_t kVocab = 12;
constexpr std::int64_t kEos = 2;
constexpr std::int64_t kPad = 1;

// Logits that depend on a row's sample and its whole history only, like a
// decoder without a cache: pseudo-random per history, with the end token
// certain once sample 0 has generated one token and sample 1 three, and never
// for sample 2. Counts the rows of every call.
class ScriptedDecoder : public models::StepDecoder {
 public:
  ScriptedDecoder(std::int64_t first_sample, std::int64_t prompt_length)
      : first_sample_(first_sample), prompt_length_(prompt_length) {}

  at::Tensor step(const at::Tensor& new_tokens, const at::Tensor& mask) override {
    if (!ids_.defined()) samples_ = torch::arange(new_tokens.size(0)) + first_sample_;
    ids_ = ids_.defined() ? torch::cat({ids_, new_tokens}, 1) : new_tokens;
    EXPECT_EQ(mask.size(0), ids_.size(0));
    EXPECT_EQ(mask.size(1), ids_.size(1));
    rows.push_back(ids_.size(0));
    auto logits = torch::empty({ids_.size(0), kVocab});
    for (std::int64_t r = 0; r < ids_.size(0); ++r) {
      const auto sample = samples_[r].item<std::int64_t>();
      std::uint64_t hash = 1469598103934665603ull ^ static_cast<std::uint64_t>(sample);
      for (std::int64_t t = 0; t < ids_.size(1); ++t) {
        hash = (hash ^ static_cast<std::uint64_t>(ids_[r][t].item<std::int64_t>() + 7 * mask[r][t].item<std::int64_t>())) *
               1099511628211ull;
      }
      auto generator = at::make_generator<at::CPUGeneratorImpl>(hash);
      auto row = torch::randn({kVocab}, generator) * 3;
      const auto generated = ids_.size(1) - prompt_length_;
      const bool ends = (sample == 0 && generated >= 1) || (sample == 1 && generated >= 3);
      row[kEos] = ends ? 20.0 : -20.0;
      logits[r] = row;
    }
    return logits;
  }

  void reorder(const at::Tensor& r) override {
    ids_ = ids_.index_select(0, r);
    samples_ = samples_.index_select(0, r);
  }

  std::vector<std::int64_t> rows;

 private:
  std::int64_t first_sample_, prompt_length_;
  at::Tensor ids_, samples_;
};

const auto kIds = torch::tensor({{1, 2, 5}, {2, 7, 8}, {2, 4, 9}});
const auto kMask = torch::tensor({{0, 1, 1}, {1, 1, 1}, {1, 1, 1}});

// Sample i of the batch equals sample i generated alone (padded to the
// batch's length, as finished rows are).
void expect_batch_equals_each_alone(const at::Tensor& batch, const models::GenerationSettings& settings) {
  for (std::int64_t i = 0; i < kIds.size(0); ++i) {
    ScriptedDecoder alone(i, kIds.size(1));
    const auto own = generate(alone, kIds.slice(0, i, i + 1), kMask.slice(0, i, i + 1), settings)[0];
    ASSERT_LE(own.size(0), batch.size(1));
    EXPECT_TRUE(torch::equal(batch[i].slice(0, 0, own.size(0)), own)) << "sample " << i << "\n" << batch << "\n" << own;
    EXPECT_TRUE((batch[i].slice(0, own.size(0)) == kPad).all().item<bool>()) << batch;
  }
}

models::GenerationSettings settings_of(int beams, int max_new_tokens) {
  models::GenerationSettings settings;
  settings.num_beams = beams;
  settings.max_new_tokens = max_new_tokens;
  settings.eos_token_ids = {kEos};
  settings.pad_token_id = kPad;
  return settings;
}

TEST(Generation, BeamSearchRunsThePromptOncePerSampleAndDropsSamplesThatAreDone) {
  const auto settings = settings_of(3, 8);
  ScriptedDecoder decoder(0, kIds.size(1));
  const auto out = generate(decoder, kIds, kMask, settings);
  ASSERT_GE(decoder.rows.size(), 3u);
  EXPECT_EQ(decoder.rows.front(), 3);  // the prompt: one row per sample
  EXPECT_EQ(decoder.rows[1], 9);       // then every beam of all three
  // Samples 0 and 1 finish early, one after the other (the second drop
  // indexes a cache that already lost a sample): sample 2's beams alone.
  EXPECT_NE(std::find(decoder.rows.begin(), decoder.rows.end(), 6), decoder.rows.end());
  EXPECT_EQ(decoder.rows.back(), 3);
  EXPECT_EQ(out.size(1), kIds.size(1) + settings.max_new_tokens);  // sample 2 never ends
  expect_batch_equals_each_alone(out, settings);
}

TEST(Generation, GreedyDropsFinishedRows) {
  const auto settings = settings_of(1, 6);
  ScriptedDecoder decoder(0, kIds.size(1));
  const auto out = generate(decoder, kIds, kMask, settings);
  ASSERT_GE(decoder.rows.size(), 3u);
  EXPECT_EQ(decoder.rows.front(), 3);
  EXPECT_NE(std::find(decoder.rows.begin(), decoder.rows.end(), 2), decoder.rows.end());
  EXPECT_EQ(decoder.rows.back(), 1);
  EXPECT_EQ(out[0][kIds.size(1) + 1].item<std::int64_t>(), kEos);  // sample 0 ends after one token
  EXPECT_EQ(out[1][kIds.size(1) + 3].item<std::int64_t>(), kEos);  // sample 1 after three
  expect_batch_equals_each_alone(out, settings);
}

}  // namespace
}  // namespace epalm
