#include "training_settings.h"

#include <cstdlib>
#include <limits>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/core/memory_plan.h"
#include "epalm/core/runtime_info.h"
#include "epalm/registry/config.h"
#include "epalm/registry/results_store.h"
#include "command.h"
#include "model_families.h"
#include "setting_checks.h"

namespace epalm::cli {

namespace {

bool flag(const po::variables_map& o, const char* key) { return o[key].as<bool>(); }

AdapterSettings adapters_from(const std::string& where, int reduction) {
  AdapterSettings a;
  a.reduction = reduction;
  if (where == "none") return a;
  if (where == "ffn" || where == "both") a.on_ffn = true;
  if (where == "attention" || where == "both") a.on_attention = true;
  if (!a.on_ffn && !a.on_attention) throw UsageError("--adapters", "must be none, ffn, attention or both, not '" + where + "'");
  return a;
}

// Where epalm keeps per-user data: $EPALM_HOME, else ~/.cache/epalm.
std::string epalm_home() {
  if (const char* home = std::getenv("EPALM_HOME"); home != nullptr && *home != '\0') return home;
  const char* user = std::getenv("HOME");
  return std::string(user != nullptr ? user : ".") + "/.cache/epalm";
}

c10::ScalarType precision_of(const std::string& name, const c10::Device& device) {
  if (name == "auto") return device.is_cuda() ? c10::kBFloat16 : c10::kFloat;
  return parse_dtype(name, "--precision");
}

}  // namespace

void add_plan_settings(po::options_description& settings) {
  po::options_description plan("Frozen weights across ranks");
  plan.add_options()  //
      ("plan", po::value<std::string>()->default_value("auto"),
       "auto (shard the largest decoder/ViT layers only as far as --memory-budget needs; no budget: none), "
       "shard (every shardable layer) or replicate")  //
      ("memory-budget", po::value<double>()->default_value(0.0)->notifier(at_least<double>("memory-budget", 0.0)),
       "GiB per rank for frozen weights, gather buffers, trainables and activations (0: no limit)")  //
      ("shard-threshold", po::value<std::int64_t>()->default_value(100000)->notifier(at_least<std::int64_t>("shard-threshold", 1)),
       "2-D tensors with fewer elements stay whole on every rank (norms and biases always do)");
  settings.add(plan);
}

void apply_plan_settings(const po::variables_map& o, experiments::TrainingRunSettings& s) {
  s.plan = parse_plan_mode(o["plan"].as<std::string>(), "--plan");
  const double gib = o["memory-budget"].as<double>();
  if (gib < 0) throw UsageError("--memory-budget", "must be >= 0 GiB (0: no limit)");
  s.memory_budget = static_cast<std::int64_t>(gib * 1024.0 * 1024.0 * 1024.0);
  s.shard_threshold = o["shard-threshold"].as<std::int64_t>();
  if (s.shard_threshold < 1) throw UsageError("--shard-threshold", "must be >= 1 element");
}

void add_collective_settings(po::options_description& settings) {
  settings.add_options()  //
      ("collective-timeout",
       po::value<double>()->default_value(600.0)->notifier(
           within<double>("collective-timeout", 0.001, 1e9, "must be > 0 seconds")),
       "seconds a collective may take across ranks before the job is aborted with a message naming it "
       "(a stuck or dead rank)");
}

std::chrono::milliseconds collective_timeout(const po::variables_map& o) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(o["collective-timeout"].as<double>() * 1000.0));
}

void add_training_settings(po::options_description& settings) {
  po::options_description data("Data");
  data.add_options()                                                                                           //
      ("task", po::value<std::string>()->default_value("vqa"),
       "vqa, gqa, coco-caption, msrvtt-qa, msvd-qa, msrvtt-caption, msvd-caption or audiocaps")  //
      ("data-root", po::value<std::string>()->default_value("data"), "the datasets' root directory")            //
      ("train-split", po::value<std::string>()->default_value("karpathy_train"), "the training split")       //
      ("val-split", po::value<std::string>()->default_value("karpathy_val"), "the validation split")          //
      ("test-split", po::value<std::string>()->default_value("karpathy_test"), "the test split")              //
      ("data-fraction", po::value<double>()->default_value(1.0)->notifier(within<double>("data-fraction", 1e-12, 1.0, "must be in (0, 1]")), "the part of the training split used, (0, 1]")  //
      ("skip-missing-media", po::value<bool>()->default_value(false), "drop samples whose media file is missing")  //
      ("augment", po::value<bool>()->default_value(true),
       "the reference's training augmentations; false lets the frozen-feature cache serve every epoch")  //
      ("rand-augment", po::value<bool>()->default_value(true),
       "with --augment: ALBEF's RandomAugment on images, torchvision's RandAugment on video, as the reference")  //
      ("feature-cache", po::value<std::string>()->default_value(""),
       "directory of the frozen-feature cache (default: $EPALM_HOME/features); 'off' disables it")  //
      ("loader-threads", po::value<int>()->default_value(4)->notifier(at_least<int>("loader-threads", 1)), "media decoding threads");
  po::options_description model("Model");
  model.add_options()                                                                                               //
      ("decoder", po::value<std::string>()->default_value("opt-2.7b"), "OPT checkpoint directory (or a name under --model-dir)")  //
      ("encoder", po::value<std::string>()->default_value("vit-base-patch16-224"),
       "ViT / TimeSformer / AST checkpoint directory (or a name under --model-dir)")                                  //
      ("tokenizer", po::value<std::string>()->default_value(""), "tokenizer directory (default: the decoder's)")  //
      ("model-dir", po::value<std::string>()->default_value("models"), "where model names are looked up")         //
      ("precision", po::value<std::string>()->default_value("auto"),
       "frozen weights' dtype: auto (bf16 on GPU, fp32 on CPU), fp32, bf16, fp16; trainables are fp32")        //
      ("device", po::value<std::string>()->default_value("auto"), "cpu, cuda, cuda:N or auto")                   //
      ("perception", po::value<bool>()->default_value(true),
       "false: the no-perception baseline (no connector, no injected token; the soft prompt and adapters only)")  //
      ("levels", po::value<int>()->default_value(6)->notifier(at_least<int>("levels", 1)), "encoder blocks whose [CLS] token is injected (the last N)")  //
      ("shared-connector", po::value<bool>()->default_value(false), "one linear for every level")                //
      ("start-layer", po::value<int>()->default_value(19)->notifier(at_least<int>("start-layer", 0)), "first decoder layer receiving tokens")                //
      ("end-layer", po::value<int>()->default_value(31)->notifier(at_least<int>("end-layer", 0)), "decoder layers before this one receive tokens")        //
      ("text-step", po::value<int>()->default_value(1)->notifier(at_least<int>("text-step", 1)), "inject only into layers with index % step == 0")        //
      ("prompt-length", po::value<int>()->default_value(10)->notifier(at_least<int>("prompt-length", 0)), "soft prompt tokens (0: none)")                     //
      ("prompt-mlp", po::value<bool>()->default_value(true), "reparameterise the prompt with an MLP")           //
      ("adapters", po::value<std::string>()->default_value("none"), "none, ffn, attention or both")             //
      ("adapter-reduction", po::value<int>()->default_value(4)->notifier(at_least<int>("adapter-reduction", 1)), "adapter bottleneck = hidden / reduction")       //
      ("reference-noncausal-token", po::value<bool>()->default_value(false),
       "the reference's perceptual token that attends to every token (docs/epalm.md, Decisions)")  //
      ("reference-dropout", po::value<double>()->default_value(0.0)->notifier(fraction_below_one("reference-dropout")),
       "the frozen OPT's train-mode dropout the reference trains with (its value: 0.1; 0: none)");
  po::options_description objective("Objective and optimization");
  objective.add_options()                                                                                      //
      ("answer-only-loss", po::value<bool>()->default_value(false), "loss on the answer tokens only")          //
      ("reference-question-mark", po::value<bool>()->default_value(false),
       "append '?' to questions that already end with one, as the reference does")                            //
      ("task-prompt", po::value<std::string>()->default_value(""), "captioning: text before the caption")      //
      ("lr", po::value<double>()->default_value(2e-5)->notifier(at_least<double>("lr", 0.0)), "connector (and adapter) learning rate")                //
      ("prompt-lr", po::value<double>()->default_value(1e-5)->notifier(at_least<double>("prompt-lr", 0.0)), "soft prompt learning rate")                     //
      ("weight-decay", po::value<double>()->default_value(0.02)->notifier(at_least<double>("weight-decay", 0.0)), "AdamW weight decay")                          //
      ("warmup-steps", po::value<std::int64_t>()->default_value(400)->notifier(at_least<std::int64_t>("warmup-steps", 0)), "linear warmup, optimizer steps")       //
      ("warmup-lr", po::value<double>()->default_value(1e-5)->notifier(at_least<double>("warmup-lr", 0.0)), "learning rate at step 0")                       //
      ("min-lr", po::value<double>()->default_value(1e-6)->notifier(at_least<double>("min-lr", 0.0)), "cosine floor")                                     //
      ("reference-fixed-prompt-lr", po::value<bool>()->default_value(false),
       "keep the prompt's learning rate fixed, as the reference's scheduler does")                            //
      ("epochs", po::value<std::int64_t>()->default_value(8)->notifier(at_least<std::int64_t>("epochs", 0)), "passes over the training split")                //
      ("max-steps", po::value<std::int64_t>()->default_value(0)->notifier(at_least<std::int64_t>("max-steps", 0)), "stop after this many optimizer steps (0: epochs decide)")  //
      ("batch-size", po::value<std::int64_t>()->default_value(8)->notifier(at_least<std::int64_t>("batch-size", 1)), "samples per micro-batch and rank")         //
      ("accumulation", po::value<int>()->default_value(1)->notifier(at_least<int>("accumulation", 1)), "micro-batches per optimizer step")                //
      ("clip-norm", po::value<double>()->default_value(0.0)->notifier(at_least<double>("clip-norm", 0.0)), "gradient clipping norm (0: none)")              //
      ("loss", po::value<std::string>()->default_value("reference"),
       "reference (per-sample token sum, batch mean) or token-mean")                                           //
      ("loss-weight", po::value<double>()->default_value(0.1)->notifier(within<double>("loss-weight", std::numeric_limits<double>::min(), std::numeric_limits<double>::max(), "must be > 0")), "loss multiplier (the reference's 0.1)")       //
      ("seed", po::value<std::uint64_t>()->default_value(0), "trainables' initialisation, data order, answers");
  po::options_description output("Output and evaluation");
  output.add_options()                                                                                   //
      ("experiment", experiment_base_value()->default_value(""),
       "a registered experiment (epalm experiments list): its base configuration under these settings")  //
      ("results", po::value<std::string>()->default_value(registry::default_results_path()),
       "the SQLite results database runs are recorded in (EPALM_RESULTS; EPALM_SPOOL records into a spool file)")  //
      ("output-dir", po::value<std::string>()->default_value("runs/epalm"), "checkpoint and outputs")   //
      ("checkpoint-every", po::value<std::int64_t>()->default_value(0)->notifier(at_least<std::int64_t>("checkpoint-every", 0)), "optimizer steps (0: at the end)")  //
      ("resume", po::value<bool>()->default_value(true), "continue from the output directory's checkpoint")  //
      ("resume-with-changes", po::value<bool>()->default_value(false),
       "resume even where settings that shape the run differ from the checkpoint's (the changes are recorded)")  //
      ("ranks", po::value<int>()->default_value(0),
       "the number of ranks this run must be started with (0: any); as a sweep axis it fills the launcher's "
       "{ranks}, e.g. mpirun -np {ranks}")  //
      ("validate-every", po::value<std::string>()->default_value("never"),
       "generate for --val-split and score it with the task's metric: never, epoch, or every N optimizer steps "
       "(and after the last); the best checkpoint is kept as <output-dir>/best.safetensors")  //
      ("select-by", po::value<std::string>()->default_value(""),
       "the validation score that picks the best checkpoint (default: vqa_accuracy, accuracy or CIDEr)")  //
      ("test-at-end", po::value<bool>()->default_value(false),
       "evaluate the best checkpoint (the last without validation) on --test-split when training ends")  //
      ("num-beams", po::value<int>()->default_value(3)->notifier(at_least<int>("num-beams", 1)), "beam search width at generation (1: greedy)")     //
      ("max-new-tokens", po::value<int>()->default_value(30)->notifier(at_least<int>("max-new-tokens", 1)), "generated tokens at most");
  settings.add(data).add(model).add(objective).add(output);
  add_plan_settings(settings);
  add_collective_settings(settings);
}

experiments::TrainingRunSettings training_settings_from(const po::variables_map& o, int local_rank) {
  experiments::TrainingRunSettings s;
  s.data.task = o["task"].as<std::string>();
  s.data.root = o["data-root"].as<std::string>();
  s.data.split = o["train-split"].as<std::string>();
  s.data.fraction = o["data-fraction"].as<double>();
  s.data.skip_missing_media = flag(o, "skip-missing-media");
  s.augment = flag(o, "augment");
  s.rand_augment = flag(o, "rand-augment");
  const auto cache = o["feature-cache"].as<std::string>();
  s.feature_cache = cache == "off" ? "" : cache.empty() ? epalm_home() + "/features" : cache;
  s.loader_threads = o["loader-threads"].as<int>();
  const auto model_dir = o["model-dir"].as<std::string>();
  auto model_path = [&](const std::string& name) {
    return name.find('/') != std::string::npos || name.empty() ? name : model_dir + "/" + name;
  };
  s.decoder = model_path(o["decoder"].as<std::string>());
  s.encoder = model_path(o["encoder"].as<std::string>());
  s.tokenizer = o["tokenizer"].as<std::string>();
  s.device = resolve_device(o["device"].as<std::string>(), local_rank);
  s.dtype = precision_of(o["precision"].as<std::string>(), s.device);
  if (s.dtype != c10::kFloat && !s.device.is_cuda()) {
    throw UsageError("--precision", "bf16/fp16 frozen weights are for GPUs; the CPU trains in fp32");
  }
  auto& e = s.epalm;
  e.perception = flag(o, "perception");
  e.levels = o["levels"].as<int>();
  e.shared_connector = flag(o, "shared-connector");
  e.start_layer = o["start-layer"].as<int>();
  e.end_layer = o["end-layer"].as<int>();
  e.text_step = o["text-step"].as<int>();
  e.prompt_length = o["prompt-length"].as<int>();
  e.prompt_mlp = flag(o, "prompt-mlp");
  e.adapters = adapters_from(o["adapters"].as<std::string>(), o["adapter-reduction"].as<int>());
  e.reference_noncausal_token = flag(o, "reference-noncausal-token");
  e.reference_dropout = o["reference-dropout"].as<double>();
  s.objective.answer_only_loss = flag(o, "answer-only-loss");
  s.objective.reference_question_mark = flag(o, "reference-question-mark");
  s.objective.task_prompt = o["task-prompt"].as<std::string>();
  s.optimizer.lr = o["lr"].as<double>();
  s.optimizer.prompt_lr = o["prompt-lr"].as<double>();
  s.optimizer.weight_decay = o["weight-decay"].as<double>();
  s.schedule.warmup_steps = o["warmup-steps"].as<std::int64_t>();
  s.schedule.warmup_start_lr = o["warmup-lr"].as<double>();
  s.schedule.min_lr = o["min-lr"].as<double>();
  s.schedule.reference_fixed_prompt_lr = flag(o, "reference-fixed-prompt-lr");
  s.epochs = o["epochs"].as<std::int64_t>();
  s.max_steps = o["max-steps"].as<std::int64_t>();
  s.batch_size = o["batch-size"].as<std::int64_t>();
  s.train.accumulation = o["accumulation"].as<int>();
  s.train.clip_norm = o["clip-norm"].as<double>();
  const auto loss = o["loss"].as<std::string>();
  if (loss != "reference" && loss != "token-mean") {
    throw UsageError("--loss", "must be reference or token-mean, not '" + loss + "'");
  }
  s.train.loss.reduction = loss == "reference" ? LossReduction::kReference : LossReduction::kTokenMean;
  s.train.loss.weight = o["loss-weight"].as<double>();
  s.seed = o["seed"].as<std::uint64_t>();
  apply_plan_settings(o, s);
  s.output_dir = o["output-dir"].as<std::string>();
  s.checkpoint_every = o["checkpoint-every"].as<std::int64_t>();
  s.resume = flag(o, "resume");
  s.ranks = o["ranks"].as<int>();
  if (s.ranks < 0) throw UsageError("--ranks", "must be >= 0 (0: any number of ranks)");
  auto& v = s.validation;
  v.every_steps = experiments::parse_validate_every(o["validate-every"].as<std::string>(), "--validate-every");
  v.split = o["val-split"].as<std::string>();
  v.select_by = o["select-by"].as<std::string>();
  v.test_at_end = flag(o, "test-at-end");
  v.test_split = o["test-split"].as<std::string>();
  v.generation.num_beams = o["num-beams"].as<int>();
  v.generation.max_new_tokens = o["max-new-tokens"].as<int>();
  if (v.enabled() || v.test_at_end) v.generation.validate();
  return s;
}

std::map<std::string, std::string> training_config_values(const po::variables_map& options) {
  po::options_description settings;
  add_training_settings(settings);
  std::map<std::string, std::string> values;
  for (const auto& option : settings.options()) {
    const auto& name = option->long_name();
    if (options.count(name)) values[name] = registry::value_text(options[name]);
  }
  return values;
}

std::string training_config_text(const po::variables_map& options) {
  std::ostringstream out;
  for (const auto& [name, value] : training_config_values(options)) out << name << " = " << value << "\n";
  return out.str();
}

std::string training_config_problem(const std::map<std::string, std::string>& config) {
  po::options_description settings;
  add_training_settings(settings);
  std::ostringstream text;
  for (const auto& [key, value] : config) text << key << " = " << value << "\n";
  std::istringstream in(text.str());
  try {
    po::variables_map vm;
    po::store(po::parse_config_file(in, settings), vm);
    po::notify(vm);  // the range checks
  } catch (const po::error& e) {
    return e.what();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

po::variables_map checkpoint_settings(const std::string& checkpoint) {
  const auto text = read_checkpoint_config(checkpoint);
  po::options_description settings;
  add_training_settings(settings);
  po::variables_map vm;
  std::istringstream in(text);
  try {
    po::store(po::parse_config_file(in, settings, /*allow_unregistered=*/true), vm);
  } catch (const po::error& e) {
    throw Error(checkpoint, std::string("its stored configuration does not parse: ") + e.what());
  }
  po::notify(vm);
  return vm;
}

}  // namespace epalm::cli
