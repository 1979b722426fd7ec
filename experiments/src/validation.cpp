#include "epalm/experiments/validation.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/error.h"
#include "epalm/core/train/trainer.h"
#include "epalm/experiments/epalm_models.h"
#include "frozen_features.h"
#include "validator.h"

namespace epalm::experiments {

namespace fs = std::filesystem;

std::int64_t parse_validate_every(const std::string& text, const std::string& option) {
  if (text == "never") return -1;
  if (text == "epoch") return 0;
  try {
    std::size_t used = 0;
    const auto steps = std::stoll(text, &used);
    if (used == text.size() && steps > 0) return steps;
  } catch (const std::exception&) {
  }
  throw UsageError(option, "must be never, epoch or a positive number of optimizer steps, not '" + text + "'");
}

std::string validate_every_text(std::int64_t every_steps) {
  return every_steps < 0 ? "never" : every_steps == 0 ? "epoch" : std::to_string(every_steps);
}

std::string best_checkpoint_path(const std::string& output_dir) {
  return (fs::path(output_dir) / "best.safetensors").string();
}

std::string validation_history_path(const std::string& output_dir) {
  return (fs::path(output_dir) / "validation.json").string();
}

namespace {

// Every rank's text on every rank, over the run's communicator: lengths
// first, then the bytes padded to the longest.
std::vector<std::string> all_gather_text(parallel::Communicator& comm, const std::string& text, const c10::Device& device) {
  if (comm.size() == 1) return {text};
  auto length = torch::tensor({static_cast<std::int64_t>(text.size())}, torch::kLong).to(device);
  auto lengths = torch::empty({comm.size()}, length.options());
  comm.all_gather(length, lengths)->wait();
  const auto longest = std::max<std::int64_t>(1, lengths.max().item<std::int64_t>());
  auto bytes = torch::zeros({longest}, torch::kUInt8);
  std::copy(text.begin(), text.end(), bytes.data_ptr<std::uint8_t>());
  bytes = bytes.to(device);
  auto all = torch::empty({comm.size() * longest}, bytes.options());
  comm.all_gather(bytes, all)->wait();
  all = all.cpu();
  const auto sizes = lengths.cpu();
  std::vector<std::string> out;
  for (int r = 0; r < comm.size(); ++r) {
    const auto* begin = all.data_ptr<std::uint8_t>() + r * longest;
    out.emplace_back(begin, begin + sizes[r].item<std::int64_t>());
  }
  return out;
}

data::Dataset read_split(const TrainingRunSettings& s, const std::string& split) {
  auto spec = s.data;
  spec.split = split;
  spec.fraction = 1.0;
  return data::read_dataset(spec);
}

}  // namespace

Validator::Validator(const TrainingRunSettings& s, EpalmModels& loaded, models::EpalmModel& model,
                     parallel::Communicator& comm)
    : s_(s), loaded_(loaded), model_(model), comm_(comm) {
  const auto& v = s.validation;
  const bool sharded = loaded.plan.decoder.communicator != nullptr || loaded.plan.encoder.communicator != nullptr;
  if (sharded && comm.size() > 1 && (v.enabled() || v.test_at_end)) {
    throw UsageError("--validate-every",
                     "validation generates with each rank's own number of decoding steps, but sharded layers need "
                     "every rank in every forward: use --plan replicate, or --validate-every never and epalm eval");
  }
  if (v.enabled()) {
    if (v.split.empty()) throw UsageError("--val-split", "validation needs a split");
    val_ = read_split(s, v.split);
    metric_ = v.select_by.empty() ? official_metric(val_) : v.select_by;
    const bool captions = val_.kind == data::TaskKind::kCaptioning;
    const bool known = captions ? (metric_.rfind("BLEU-", 0) == 0 || metric_ == "ROUGE_L" || metric_ == "CIDEr" ||
                                   metric_ == "METEOR" || metric_ == "SPICE")
                                : (metric_ == official_metric(val_) || metric_.rfind("vqa_accuracy/", 0) == 0);
    if (!known) {
      throw UsageError("--select-by", "'" + metric_ + "' is not a score of this task's split (" +
                                          (captions ? "BLEU-1..4, ROUGE_L, CIDEr, METEOR, SPICE"
                                                    : official_metric(val_) + (official_metric(val_) == "vqa_accuracy"
                                                                                    ? ", vqa_accuracy/<answer type>"
                                                                                    : "")) +
                                          ")");
    }
  }
  if (v.test_at_end) {
    if (v.test_split.empty()) throw UsageError("--test-split", "--test-at-end needs a split");
    test_ = read_split(s, v.test_split);
  }
  media_ = media_settings(s, /*train=*/false);
  features_ = open_feature_cache(s, media_, *loaded.encoder, /*augmented=*/false,
                                 loaded.plan.encoder.communicator != nullptr, comm.size());
}

void Validator::start(bool resumed) {
  const auto path = validation_history_path(s_.output_dir);
  if (!resumed) {
    if (comm_.rank() == 0) {
      fs::remove(path);
      fs::remove(best_checkpoint_path(s_.output_dir));
    }
    return;
  }
  if (!fs::exists(path)) return;
  nlohmann::json j;
  try {
    std::ifstream in(path);
    j = nlohmann::json::parse(in);
    if (s_.validation.enabled() && j.at("select_by").get<std::string>() != metric_) {
      throw UsageError("--select-by", "the run being resumed selects its best checkpoint by '" +
                                          j.at("select_by").get<std::string>() + "', not '" + metric_ + "'");
    }
    for (const auto& r : j.at("records")) {
      history_.push_back({r.at("step").get<std::int64_t>(), r.at("scores").get<std::map<std::string, double>>()});
    }
    if (j.contains("best_step")) {
      const auto step = j.at("best_step").get<std::int64_t>();
      for (const auto& r : history_) {
        if (r.step == step) best_ = r;
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, std::string("not a validation history: ") + e.what());
  }
}

bool Validator::due(std::int64_t step, std::int64_t total_steps, std::int64_t steps_per_epoch) const {
  const auto every = s_.validation.every_steps;
  if (every < 0) return false;
  if (std::any_of(history_.begin(), history_.end(), [&](const ValidationRecord& r) { return r.step == step; })) {
    return false;  // a resumed run validated this step before it stopped
  }
  if (step == total_steps) return true;
  const auto period = every > 0 ? every : std::max<std::int64_t>(1, steps_per_epoch);
  return step % period == 0;
}

ValidationRecord Validator::validate(std::int64_t step, const train::Trainer& trainer, bool& is_best) {
  const auto predictions = (fs::path(s_.output_dir) / ("predictions-val-step" + std::to_string(step) + ".json")).string();
  const auto outcome =
      evaluate_split({model_, *loaded_.encoder, loaded_.tokenizer}, s_, val_, s_.validation.generation, media_, predictions, comm_.rank(), comm_.size(),
                     [this](const std::string& text) { return all_gather_text(comm_, text, s_.device); }, features_.get());
  ValidationRecord record{step, outcome.scores};
  is_best = false;
  if (comm_.rank() == 0) {
    const auto it = record.scores.find(metric_);
    if (it == record.scores.end()) {
      std::string known;
      for (const auto& [name, value] : record.scores) known += (known.empty() ? "" : ", ") + name;
      throw UsageError("--select-by", "the validation scores have no '" + metric_ + "' (they are: " + known + ")");
    }
    is_best = !best_ || it->second > best_->scores.at(metric_);
    if (is_best) {
      trainer.save_checkpoint(best_checkpoint_path(s_.output_dir), s_.config_text);
      best_ = record;
    }
  }
  history_.push_back(record);
  if (comm_.rank() == 0) save_history();
  return record;
}

EvaluationOutcome Validator::test() {
  comm_.barrier();  // rank 0 has written the best checkpoint
  const auto best = best_checkpoint_path(s_.output_dir);
  if (s_.validation.enabled() && fs::exists(best)) train::load_trainables(best, model_);
  const auto predictions = (fs::path(s_.output_dir) / "predictions-test.json").string();
  return evaluate_split({model_, *loaded_.encoder, loaded_.tokenizer}, s_, test_, s_.validation.generation, media_, predictions, comm_.rank(), comm_.size(),
                        [this](const std::string& text) { return all_gather_text(comm_, text, s_.device); },
                        features_.get());
}

void Validator::save_history() const {
  nlohmann::json j;
  j["select_by"] = metric_;
  j["records"] = nlohmann::json::array();
  for (const auto& r : history_) j["records"].push_back({{"step", r.step}, {"scores", r.scores}});
  if (best_) j["best_step"] = best_->step;
  const auto path = validation_history_path(s_.output_dir);
  const auto temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << j.dump(1) << "\n";
    if (!out) throw Error(temporary, "cannot write the validation history");
  }
  fs::rename(temporary, path);  // atomic: a kill leaves the old history or the new
}

}  // namespace epalm::experiments
