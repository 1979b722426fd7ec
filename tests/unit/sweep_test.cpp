// Registered experiments and sweep expansion.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/registry/config.h"
#include "epalm/registry/experiments.h"
#include "epalm/registry/hashing.h"
#include "epalm/registry/sweep.h"
#include "process.h"

using namespace epalm::registry;

TEST(Experiments, EveryRegisteredBaseConfigurationLoadsBackWithConfig) {
  // The options `epalm train` declares, as text: `experiments show` must print
  // an INI file that the layered configuration parses to the same values.
  po::options_description settings;
  for (const auto& key : training_keys()) settings.add_options()(key.c_str(), po::value<std::string>(), "");
  epalm::testing::TempDir dir;
  ASSERT_GE(registered_experiments().size(), 20u);
  for (const auto& e : registered_experiments()) {
    std::ostringstream ini;
    write_config_ini(e.base, ini, e.name);
    const auto file = dir.write(e.name + ".ini", ini.str());
    po::variables_map vm;
    const auto resolved = resolve(settings, po::parsed_options(&settings), {file}, vm);
    for (const auto& [key, value] : e.base) {
      ASSERT_TRUE(vm.count(key)) << e.name << " " << key;
      EXPECT_EQ(vm[key].as<std::string>(), value) << e.name << " " << key;
    }
  }
}

TEST(Experiments, ThePaperVariantsCarryTheReferenceSettings) {
  const auto& small = find_experiment("epalm-vqa").base;
  EXPECT_EQ(small.at("levels"), "6");
  EXPECT_EQ(small.at("shared-connector"), "false");
  EXPECT_EQ(small.at("prompt-length"), "10");
  EXPECT_EQ(small.at("prompt-mlp"), "true");
  EXPECT_EQ(small.at("decoder"), "opt-2.7b");
  const auto& large = find_experiment("epalm-pt-l-vqa").base;
  EXPECT_EQ(large.at("decoder"), "opt-6.7b");
  EXPECT_EQ(large.at("encoder"), "vit-large-patch16-224");
  EXPECT_EQ(large.at("shared-connector"), "true");
  EXPECT_EQ(large.at("prompt-mlp"), "false");
  const auto& single = find_experiment("epalm-single-vqa").base;
  EXPECT_EQ(single.at("shared-connector"), "true");
  EXPECT_EQ(single.at("prompt-length"), "0");
  EXPECT_THROW(find_experiment("epalm"), epalm::UsageError);
}

TEST(Experiments, TrainingSettingsAreChecked) {
  EXPECT_NO_THROW(check_training_config({{"lr", "1e-4"}, {"adapters", "both"}, {"data-fraction", "0.01"}}, "x"));
  EXPECT_THROW(check_training_config({{"learning-rate", "1e-4"}}, "x"), epalm::UsageError);
  EXPECT_THROW(check_training_config({{"levels", "six"}}, "x"), epalm::UsageError);
  EXPECT_THROW(check_training_config({{"data-fraction", "1.5"}}, "x"), epalm::UsageError);
  EXPECT_THROW(check_training_config({{"precision", "fp8"}}, "x"), epalm::UsageError);
  // The options' own ranges, not only their types.
  EXPECT_THROW(check_training_config({{"levels", "0"}}, "x"), epalm::UsageError);
  EXPECT_THROW(check_training_config({{"reference-dropout", "1"}}, "x"), epalm::UsageError);
  try {
    check_training_config({{"lr", "1e-4"}, {"loss", "mse"}}, "cell 3");
    ADD_FAILURE() << "loss = mse accepted";
  } catch (const epalm::UsageError& e) {
    EXPECT_STREQ(e.what(), "cell 3: setting 'loss' = 'mse': --loss: must be one of reference, token-mean, not 'mse'");
  }
}

TEST(Sweeps, AxesTimesSeedsWithOverridesInAStableOrder) {
  const auto spec = parse_sweep_json(R"({"name": "s", "experiment": "epalm-vqa", "set": {"epochs": 1},
      "axes": {"prompt-length": [0, 10], "lr": [1e-5, 2e-5]}, "seeds": [0, 1, 2],
      "overrides": [{"match": {"prompt-length": 0}, "set": {"prompt-mlp": false}}]})", "s.json");
  const auto cells = expand_sweep(spec);
  ASSERT_EQ(cells.size(), 12u);
  EXPECT_EQ(cells[0].axes, (Config{{"prompt-length", "0"}, {"lr", "1e-05"}, {"seed", "0"}}));
  EXPECT_EQ(cells[1].axes.at("seed"), "1");
  EXPECT_EQ(cells[11].axes, (Config{{"prompt-length", "10"}, {"lr", "2e-05"}, {"seed", "2"}}));
  for (const auto& c : cells) {
    EXPECT_EQ(c.config.at("epochs"), "1");
    EXPECT_EQ(c.config.at("decoder"), "opt-2.7b");  // from the experiment
    EXPECT_EQ(c.config.at("prompt-mlp"), c.axes.at("prompt-length") == "0" ? "false" : "true");
    EXPECT_EQ(c.hash, config_hash(c.config));
  }
  // The same file expands to the same cells: stable identity for resume.
  EXPECT_EQ(expand_sweep(parse_sweep_json(spec.spec_json, "again"))[5].hash, cells[5].hash);
}

// Variants compare sets of settings that are no product of axes (a baseline,
// the method, ablations); each is crossed with the axes and the seeds.
TEST(Sweeps, VariantsTimesAxesTimesSeeds) {
  const auto spec = parse_sweep_json(R"({"name": "v", "experiment": "epalm-vqa",
      "variants": [{"perception": false}, {"perception": true}, {"levels": 3, "shared-connector": false}],
      "axes": {"lr": [1e-5, 2e-5]}, "seeds": [0, 1],
      "overrides": [{"match": {"perception": false}, "set": {"prompt-mlp": false}}]})", "v.json");
  EXPECT_EQ(sweep_dimensions(spec), (std::vector<std::string>{"perception", "levels", "shared-connector", "lr", "seed"}));
  const auto cells = expand_sweep(spec);
  ASSERT_EQ(cells.size(), 12u);
  EXPECT_EQ(cells[0].axes, (Config{{"perception", "false"}, {"lr", "1e-05"}, {"seed", "0"}}));
  EXPECT_EQ(cells[0].config.at("prompt-mlp"), "false");
  EXPECT_EQ(cells[4].axes, (Config{{"perception", "true"}, {"lr", "1e-05"}, {"seed", "0"}}));
  EXPECT_EQ(cells[4].config.at("prompt-mlp"), "true");  // the experiment's
  EXPECT_EQ(cells[11].axes, (Config{{"levels", "3"}, {"shared-connector", "false"}, {"lr", "2e-05"}, {"seed", "1"}}));
  EXPECT_EQ(cells[11].config.at("levels"), "3");
  EXPECT_EQ(expand_sweep(parse_sweep_json(spec.spec_json, "again"))[11].hash, cells[11].hash);

  for (const auto* text :
       {R"({"name": "v", "experiment": "epalm-vqa", "variants": []})",
        R"({"name": "v", "experiment": "epalm-vqa", "variants": [3]})",
        R"({"name": "v", "experiment": "epalm-vqa", "variants": [{"lr": 1e-5}], "axes": {"lr": [2e-5]}})",
        R"({"name": "v", "experiment": "epalm-vqa", "variants": [{"lr": 1e-5}], "set": {"lr": 2e-5}})",
        R"({"name": "v", "experiment": "epalm-vqa", "variants": [{"seed": 1}], "seeds": [0]})",
        R"({"name": "v", "experiment": "epalm-vqa", "variants": [{"lr": 1e-5}, {"lr": 1e-5}]})",
        R"({"name": "v", "experiment": "epalm-vqa", "variants": [{"levels": "many"}]})"}) {
    try {
      expand_sweep(parse_sweep_json(text, "bad.json"));
      ADD_FAILURE() << "accepted " << text;
    } catch (const epalm::UsageError& e) {
      EXPECT_EQ(e.where().substr(0, 8), "bad.json") << text;
    }
  }
}

// Found by the sweep fuzz target: a number no JSON number type holds was an
// uncaught exception; it is a malformed sweep file naming the file.
TEST(Sweeps, ANumberTooLargeIsAMalformedFile) {
  try {
    parse_sweep_json(R"({"name": 8e293081})", "big.json");
    FAIL() << "expected UsageError";
  } catch (const epalm::UsageError& e) {
    EXPECT_EQ(e.where(), "big.json");
    EXPECT_NE(std::string(e.what()).find("malformed sweep file"), std::string::npos) << e.what();
  }
}

TEST(Sweeps, AnAblationWithoutAxesSweepsItsRegisteredAxis) {
  const auto spec = parse_sweep_json(R"({"name": "lm", "experiment": "ablation-lm-size"})", "lm.json");
  const auto cells = expand_sweep(spec);
  ASSERT_EQ(cells.size(), 5u);
  EXPECT_EQ(cells[0].config.at("decoder"), "opt-125m");
  EXPECT_EQ(cells[0].config.at("start-layer"), "5");  // the registered per-size override
  EXPECT_EQ(cells[3].config.at("start-layer"), "19");
  EXPECT_EQ(spec.command, (std::vector<std::string>{"{epalm}", "train", "--config", "{config}"}));
}

TEST(Sweeps, MalformedFilesAreUsageErrorsNamingTheFile) {
  for (const auto* text : {R"({"name": "s"})", R"({"name": "s", "experiment": "epalm-vqa", "seeds": [0.5]})",
                           R"({"name": "s", "experiment": "epalm-vqa", "axes": {"lr": []}})",
                           R"({"name": "s", "experiment": "epalm-vqa", "max-retries": -1})",
                           R"({"name": "s", "experiment": "epalm-vqa", "overrides": [{"match": {}}]})",
                           R"([1, 2])", R"({"name": 3, "experiment": "epalm-vqa"})"}) {
    try {
      expand_sweep(parse_sweep_json(text, "bad.json"));
      ADD_FAILURE() << "accepted " << text;
    } catch (const epalm::UsageError& e) {
      EXPECT_EQ(e.where().substr(0, 8), "bad.json") << text;
    }
  }
}

// Fused variants (experiments/fused_training.h) may differ only in settings
// that exist, and a conflict names the first shared setting that differs.
TEST(Experiments, FusableSettingsAreTrainingSettingsAndConflictsNameTheSetting) {
  const auto& keys = training_keys();
  for (const auto& key : fusable_keys()) {
    EXPECT_TRUE(key == "experiment" || std::find(keys.begin(), keys.end(), key) != keys.end()) << key;
  }
  const std::map<std::string, std::string> a{{"levels", "1"}, {"lr", "1e-3"}, {"batch-size", "8"}, {"seed", "0"}};
  auto b = a;
  b["levels"] = "6";
  b["lr"] = "2e-3";
  EXPECT_EQ(fusion_conflict(a, b), "");
  b["seed"] = "1";
  const auto conflict = fusion_conflict(a, b);
  EXPECT_NE(conflict.find("'seed'"), std::string::npos) << conflict;
  EXPECT_NE(conflict.find("0 vs 1"), std::string::npos) << conflict;
  b = a;
  b.erase("batch-size");
  EXPECT_NE(fusion_conflict(a, b).find("'batch-size'"), std::string::npos);
}
