// `epalm generate`: answer a question about, or caption, one image, video or
// audio file with a trained checkpoint. The checkpoint's stored settings say
// which decoder, encoder, task and eP-ALM layout it was trained with.
#include <iostream>

#include "command.h"
#include "epalm/core/models/epalm_generation.h"
#include "epalm/core/error.h"
#include "epalm/core/media/media_inputs.h"
#include "epalm/experiments/epalm_models.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/runtime_info.h"
#include "epalm/distributed/world.h"
#include "training_settings.h"

namespace epalm::cli {

namespace {

int run_generate(const Invocation& in) {
  const auto& o = in.options;
  // One file, one answer: under mpirun rank 0 answers and the others wait for nothing.
  if (in.world.rank() != 0) return 0;
  if (!o.count("checkpoint")) throw UsageError("--checkpoint", "which trained checkpoint answers");
  if (!o.count("media")) throw UsageError("--media", "the image, video or audio file");
  const auto checkpoint = o["checkpoint"].as<std::string>();
  const auto trained = checkpoint_settings(checkpoint);
  auto s = training_settings_from(trained, in.world.topology().local_rank);
  if (!o["device"].defaulted()) s.device = resolve_device(o["device"].as<std::string>(), 0);
  if (!s.device.is_cuda()) s.dtype = c10::kFloat;
  const auto kind = data::task_kind(s.data.task);
  s.objective.task = kind == data::TaskKind::kCaptioning ? text::TextTask::kCaptioning : text::TextTask::kQuestionAnswering;
  const auto question = o.count("question") ? o["question"].as<std::string>() : std::string();
  if (kind == data::TaskKind::kQuestionAnswering && question.empty()) {
    throw UsageError("--question", "the checkpoint answers questions (" + s.data.task + "): ask one");
  }

  apply_plan_settings(o, s);
  experiments::EpalmModels loaded(s, nullptr, /*training=*/false);
  auto& model = loaded.model;
  const auto& encoder = loaded.encoder;
  const auto& tokenizer = loaded.tokenizer;
  train::load_trainables(checkpoint, model);

  data::Sample sample;
  sample.id = sample.media_id = sample.media = o["media"].as<std::string>();
  const auto inputs = media::media_input(sample, experiments::media_settings(s, /*train=*/false), 0).unsqueeze(0);
  const auto features = models::EpalmModel::select_features(*encoder, inputs.to(s.device), s.epalm.levels);
  models::GenerationSettings g;
  g.num_beams = o["num-beams"].defaulted() ? trained["num-beams"].as<int>() : o["num-beams"].as<int>();
  g.max_new_tokens =
      o["max-new-tokens"].defaulted() ? trained["max-new-tokens"].as<int>() : o["max-new-tokens"].as<int>();
  g.eos_token_ids = {tokenizer.eos_id().value_or(2)};
  g.pad_token_id = tokenizer.pad_id().value_or(1);
  g.validate();
  std::cout << models::generate_text(model, features, tokenizer, s.objective, {question}, g).front() << "\n";
  return 0;
}

}  // namespace

Command generate_command() {
  return {"generate",
          "Answer a question about, or caption, one image, video or audio file with a trained checkpoint\n"
          "(its stored settings name the decoder, encoder and task).",
          [](po::options_description& settings) {
            settings.add_options()                                                                        //
                ("checkpoint", po::value<std::string>(), "a checkpoint.safetensors written by epalm train")  //
                ("media", po::value<std::string>(), "the image, video or audio file")                       //
                ("question", po::value<std::string>(), "the question (question-answering checkpoints)")     //
                ("num-beams", po::value<int>()->default_value(3), "beam width (1: greedy; default: the checkpoint's)")  //
                ("max-new-tokens", po::value<int>()->default_value(30), "generated tokens at most (default: the checkpoint's)")  //
                ("device", po::value<std::string>()->default_value("auto"), "cpu, cuda, cuda:N or auto");
            add_plan_settings(settings);
          },
          run_generate, {"media"}};
}

}  // namespace epalm::cli
