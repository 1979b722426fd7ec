#include "epalm/experiments/evaluation_run.h"

#include <spdlog/spdlog.h>

#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "epalm/core/eval/caption_metrics.h"
#include "epalm/core/data/data_loader.h"
#include "epalm/core/models/epalm_generation.h"
#include "epalm/core/error.h"
#include "epalm/core/media/media_inputs.h"
#include "epalm/core/eval/meteor.h"
#include "epalm/core/eval/spice.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/eval/prediction_files.h"
#include "epalm/core/eval/qa_accuracy.h"
#include "epalm/core/eval/vqa_accuracy.h"
#include "epalm/distributed/watchdog.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/epalm_models.h"
#include "frozen_features.h"

namespace epalm::experiments {

namespace {

// VQA / GQA / video-QA question ids are integers; other ids count by position.
std::int64_t question_id(const data::Sample& sample, std::size_t index) {
  try {
    std::size_t used = 0;
    const auto id = std::stoll(sample.id, &used);
    if (used == sample.id.size()) return id;
  } catch (const std::exception&) {
  }
  return static_cast<std::int64_t>(index);
}

std::map<std::string, double> qa_scores(const data::Dataset& dataset, const std::vector<std::string>& answers) {
  std::map<std::string, double> scores;
  const bool official = std::all_of(dataset.samples.begin(), dataset.samples.end(),
                                    [](const data::Sample& s) { return !s.official_answers.empty(); });
  if (official) {
    std::vector<eval::VqaPrediction> predictions;
    std::vector<eval::VqaQuestion> questions;
    for (std::size_t i = 0; i < dataset.samples.size(); ++i) {
      const auto& s = dataset.samples[i];
      predictions.push_back({question_id(s, i), answers[i]});
      questions.push_back({question_id(s, i), s.official_answers, s.question_type, s.answer_type});
    }
    const auto accuracy = eval::vqa_accuracy(predictions, questions);
    scores["vqa_accuracy"] = accuracy.overall;
    for (const auto& [type, value] : accuracy.per_answer_type) scores["vqa_accuracy/" + type] = value;
    return scores;
  }
  std::vector<eval::QaPrediction> predictions;
  std::vector<eval::QaLabel> labels;
  for (std::size_t i = 0; i < dataset.samples.size(); ++i) {
    const auto& s = dataset.samples[i];
    predictions.push_back({question_id(s, i), answers[i]});
    eval::QaLabel label{question_id(s, i), {}};
    for (std::size_t a = 0; a < s.answers.size(); ++a) {
      label.scores.emplace_back(s.answers[a], a < s.scores.size() ? s.scores[a] : 1.0);
    }
    labels.push_back(std::move(label));
  }
  scores["accuracy"] = eval::qa_accuracy(predictions, labels);
  return scores;
}

std::map<std::string, double> caption_scores(const data::Dataset& dataset, const std::vector<std::string>& captions,
                                             std::vector<std::string>& notes) {
  std::vector<eval::CaptionExample> examples;
  for (std::size_t i = 0; i < dataset.samples.size(); ++i) {
    examples.push_back({dataset.samples[i].media_id, captions[i], dataset.samples[i].answers});
  }
  const auto s = eval::caption_scores(examples);
  std::map<std::string, double> scores;
  for (int n = 0; n < 4; ++n) scores["BLEU-" + std::to_string(n + 1)] = s.bleu.corpus[n];
  scores["ROUGE_L"] = s.rouge_l.mean;
  scores["CIDEr"] = s.cider_d.mean;
  const auto meteor = eval::find_meteor();
  const auto spice = eval::find_spice();
  if (!meteor.available() && !spice.available()) {
    notes.push_back(meteor.skipped_reason);
    notes.push_back(spice.skipped_reason);
    return scores;
  }
  const auto tokenized = eval::coco_tokenized(examples);
  if (const auto m = eval::meteor(tokenized, meteor)) {
    scores["METEOR"] = m->mean;
  } else {
    notes.push_back(meteor.skipped_reason);
  }
  if (const auto m = eval::spice(tokenized, spice)) {
    scores["SPICE"] = m->mean;
  } else {
    notes.push_back(spice.skipped_reason);
  }
  return scores;
}

}  // namespace

std::string official_metric(const data::Dataset& dataset) {
  if (dataset.kind == data::TaskKind::kCaptioning) return "CIDEr";
  const bool official = !dataset.samples.empty() &&
                        std::all_of(dataset.samples.begin(), dataset.samples.end(),
                                    [](const data::Sample& s) { return !s.official_answers.empty(); });
  return official ? "vqa_accuracy" : "accuracy";
}

EvaluationOutcome evaluate_split(const SplitModels& loaded, const TrainingRunSettings& s, const data::Dataset& dataset,
                                 const models::GenerationSettings& settings, const media::MediaSettings& media,
                                 const std::string& predictions_path, int rank, int world_size,
                                 const TextGather& gather, data::FeatureCache* features,
                                 const std::function<void(std::int64_t, std::int64_t)>& on_batch) {
  torch::NoGradGuard no_grad;
  data::LoaderSettings loading;
  loading.batch_size = s.batch_size;
  loading.threads = s.loader_threads;
  loading.rank = rank;
  loading.world_size = world_size;
  loading.seed = s.seed;  // random test frames ("rand") depend on the run's seed only
  data::DataLoader loader(dataset, media, loading);
  auto generation = settings;
  generation.eos_token_ids = {loaded.tokenizer.eos_id().value_or(2)};
  generation.pad_token_id = loaded.tokenizer.pad_id().value_or(1);
  generation.validate();
  text::TextObjective objective = s.objective;
  objective.task = dataset.kind == data::TaskKind::kCaptioning ? text::TextTask::kCaptioning : text::TextTask::kQuestionAnswering;

  // This rank's predictions as [[sample index, text], ...]; repeats that pad
  // the shard are left out so every sample counts once.
  nlohmann::json mine = nlohmann::json::array();
  const auto answer = [&](const std::vector<std::size_t>& indices, const std::vector<bool>& padding,
                          const at::Tensor& encoded) {
    std::vector<std::string> questions;
    for (auto i : indices) questions.push_back(dataset.samples[i].question);
    const auto texts = models::generate_text(loaded.model, encoded, loaded.tokenizer, objective, questions, generation);
    for (std::size_t j = 0; j < texts.size(); ++j) {
      if (j < padding.size() && padding[j]) continue;
      mine.push_back({indices[j], texts[j]});
    }
  };
  const auto batches = loader.batches_per_epoch();
  if (features != nullptr) {
    for (std::int64_t index = 0; index < batches; ++index) {
      std::vector<bool> padding;
      const auto indices = loader.batch_indices(0, index, &padding);
      answer(indices, padding,
             cached_features(*features, dataset, indices, media, loaded.encoder, s.epalm.levels, s.device));
      if (on_batch) on_batch(index + 1, batches);
    }
  } else {
    loader.start_epoch(0);
    std::int64_t done = 0;
    while (auto batch = loader.next()) {
      answer(batch->indices, batch->padding,
             models::EpalmModel::select_features(loaded.encoder, batch->inputs.to(s.device), s.epalm.levels));
      if (on_batch) on_batch(++done, batches);
    }
  }
  const auto gathered = gather(mine.dump());
  EvaluationOutcome outcome;
  if (rank != 0) return outcome;
  std::vector<std::string> outputs(dataset.samples.size());
  std::vector<bool> seen(dataset.samples.size(), false);
  for (const auto& text : gathered) {
    for (const auto& pair : nlohmann::json::parse(text)) {
      const auto index = pair[0].get<std::size_t>();
      outputs.at(index) = pair[1].get<std::string>();
      seen.at(index) = true;
    }
  }
  const auto missing = std::count(seen.begin(), seen.end(), false);
  if (missing > 0) throw Error("evaluation", std::to_string(missing) + " samples have no prediction from any rank");

  outcome.samples = static_cast<std::int64_t>(dataset.samples.size());
  outcome.predictions = predictions_path;
  if (const auto folder = std::filesystem::path(predictions_path).parent_path(); !folder.empty()) {
    std::filesystem::create_directories(folder);
  }
  if (dataset.kind == data::TaskKind::kQuestionAnswering) {
    std::vector<eval::VqaPrediction> predictions;
    for (std::size_t i = 0; i < outputs.size(); ++i) predictions.push_back({question_id(dataset.samples[i], i), outputs[i]});
    eval::write_vqa_predictions(predictions_path, predictions);
    outcome.scores = qa_scores(dataset, outputs);
  } else {
    std::vector<eval::CaptionPrediction> predictions;
    for (std::size_t i = 0; i < outputs.size(); ++i) predictions.push_back({dataset.samples[i].media_id, outputs[i]});
    eval::write_caption_predictions(predictions_path, predictions);
    outcome.scores = caption_scores(dataset, outputs, outcome.notes);
  }
  return outcome;
}

EvaluationOutcome run_evaluation(const EvaluationSettings& settings, const distributed::World& world,
                                 const std::function<void(std::int64_t, std::int64_t)>& on_batch) {
  auto s = settings.run;
  const auto frame_sampling = media::parse_frame_sampling(settings.frame_sampling);  // before any loading
  s.data.split = settings.split;
  s.data.fraction = 1.0;
  const auto dataset = data::read_dataset(s.data);
  s.objective.task = dataset.kind == data::TaskKind::kCaptioning ? text::TextTask::kCaptioning : text::TextTask::kQuestionAnswering;
  // Ranks answer their own shards with different numbers of decoding steps,
  // so each plans for itself alone (--plan shard: one shard, the whole layer).
  EpalmModels loaded(s, nullptr, /*training=*/false);
  train::load_trainables(settings.checkpoint, loaded.model);
  auto media = media_settings(s, /*train=*/false);
  media.frame_sampling = frame_sampling;
  // A rank that never arrives (stuck or dead) must not hold the others forever.
  const auto gather = [&world, &settings](const std::string& text) {
    distributed::Watchdog watchdog(settings.collective_timeout, [&world](const std::string& why) {
      spdlog::error("rank {} of {}: {}; aborting the job", world.rank(), world.size(), why);
      world.abort(1);
    });
    const auto id = watchdog.begin("gathering the predictions of every rank");
    auto gathered = world.gather_text(text);
    watchdog.end(id);
    return gathered;
  };
  // Each rank plans alone (above), so no encoder is sharded across ranks here.
  const auto features = open_feature_cache(s, media, *loaded.encoder, /*augmented=*/false, /*encoder_sharded=*/false,
                                           world.size());
  return evaluate_split({loaded.model, *loaded.encoder, loaded.tokenizer}, s, dataset, settings.generation, media, settings.predictions, world.rank(), world.size(),
                        gather, features.get(), on_batch);
}

}  // namespace epalm::experiments
