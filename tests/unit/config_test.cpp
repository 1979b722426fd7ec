#include <gtest/gtest.h>
#include <stdlib.h>

#include <sstream>

#include "epalm/core/error.h"
#include "epalm/registry/config.h"
#include "process.h"

namespace epalm::registry {

namespace {

po::options_description settings() {
  po::options_description d("settings");
  d.add_options()                                                       //
      ("lm", po::value<std::string>()->default_value("opt-125m"), "")   //
      ("prompt-len", po::value<int>()->default_value(10), "")          //
      ("lr", po::value<double>()->default_value(1e-4), "")              //
      ("adapters", po::bool_switch(), "")                               //
      ("seed", po::value<std::uint64_t>()->default_value(0), "")       //
      ("note", po::value<std::string>(), "");
  return d;
}

po::parsed_options cli(const po::options_description& d, std::vector<std::string> args) {
  return po::command_line_parser(args).options(d).run();
}

}  // namespace

TEST(Config, LaterLayersOverrideEarlierAndSourcesAreKept) {
  testing::TempDir dir;
  const auto a = dir.write("a.ini", "lm = opt-2.7b\nprompt-len = 1\nlr = 0.5\n");
  const auto b = dir.write("b.ini", "# comment\nprompt-len = 20\nadapters = true\n");
  const auto d = settings();
  po::variables_map vm;
  const auto resolved = resolve(d, cli(d, {"--lr", "0.25", "--seed", "18446744073709551615"}), {a, b}, vm);

  EXPECT_EQ(vm["lm"].as<std::string>(), "opt-2.7b");
  EXPECT_EQ(vm["prompt-len"].as<int>(), 20);
  EXPECT_DOUBLE_EQ(vm["lr"].as<double>(), 0.25);
  EXPECT_TRUE(vm["adapters"].as<bool>());

  EXPECT_EQ(resolved.find("lm")->source, "file " + a);
  EXPECT_EQ(resolved.find("prompt-len")->source, "file " + b);
  EXPECT_EQ(resolved.find("lr")->source, "command line");
  EXPECT_EQ(resolved.find("seed")->value, "18446744073709551615");
  EXPECT_EQ(resolved.find("adapters")->value, "true");
  EXPECT_FALSE(resolved.find("note")->set);
}

TEST(Config, DefaultsApplyWhenNoLayerSetsAValue) {
  const auto d = settings();
  po::variables_map vm;
  const auto resolved = resolve(d, cli(d, {}), {}, vm);
  EXPECT_EQ(resolved.find("lm")->value, "opt-125m");
  EXPECT_EQ(resolved.find("lm")->source, "default");
  EXPECT_EQ(resolved.find("prompt-len")->value, "10");
}

TEST(Config, EnvironmentSitsBetweenDefaultsAndFiles) {
  testing::TempDir dir;
  const auto a = dir.write("a.ini", "lm = opt-6.7b\n");
  ::setenv("EPALM_PROMPT_LEN", "3", 1);
  ::setenv("EPALM_LM", "opt-350m", 1);
  const auto d = settings();
  po::variables_map vm;
  const auto resolved = resolve(d, cli(d, {}), {a}, vm);
  ::unsetenv("EPALM_PROMPT_LEN");
  ::unsetenv("EPALM_LM");
  EXPECT_EQ(vm["prompt-len"].as<int>(), 3);
  EXPECT_EQ(resolved.find("prompt-len")->source, "environment EPALM_PROMPT_LEN");
  EXPECT_EQ(vm["lm"].as<std::string>(), "opt-6.7b");  // the file wins over the environment
}

TEST(Config, EnvironmentVariablesMapOnlyToKnownOptions) {
  const auto d = settings();
  EXPECT_EQ(option_for_environment_variable("EPALM_PROMPT_LEN", d), "prompt-len");
  EXPECT_EQ(option_for_environment_variable("EPALM_HOME", d), "");
  EXPECT_EQ(option_for_environment_variable("PROMPT_LEN", d), "");
}

TEST(Config, PrintedConfigReproducesTheResolvedValues) {
  testing::TempDir dir;
  const auto d = settings();
  po::variables_map vm;
  const auto first = resolve(d, cli(d, {"--lm", "opt-1.3b", "--prompt-len", "7", "--adapters"}), {}, vm);
  std::ostringstream ini;
  first.write_ini(ini);
  const auto path = dir.write("printed.ini", ini.str());

  po::variables_map again;
  const auto second = resolve(d, cli(d, {}), {path}, again);
  for (const auto& option : first.options()) {
    EXPECT_EQ(second.find(option.key)->value, option.value) << option.key;
    EXPECT_EQ(second.find(option.key)->set, option.set) << option.key;
  }
}

TEST(Config, UnknownKeyInAFileNamesTheFileAndKey) {
  testing::TempDir dir;
  const auto bad = dir.write("bad.ini", "lm = opt-125m\nprompt_length = 3\n");
  const auto d = settings();
  po::variables_map vm;
  try {
    resolve(d, cli(d, {}), {bad}, vm);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_EQ(e.where(), bad);
    EXPECT_NE(e.reason().find("prompt_length"), std::string::npos) << e.what();
  }
}

TEST(Config, MalformedLineAndBadValueNameTheFile) {
  testing::TempDir dir;
  const auto d = settings();
  po::variables_map vm;
  const auto garbage = dir.write("garbage.ini", "lm = opt-125m\nthis is not a setting\n");
  EXPECT_THROW(
      {
        try {
          resolve(d, cli(d, {}), {garbage}, vm);
        } catch (const UsageError& e) {
          EXPECT_EQ(e.where(), garbage);
          throw;
        }
      },
      UsageError);
  const auto typo = dir.write("typo.ini", "prompt-len = ten\n");
  po::variables_map vm2;
  try {
    resolve(d, cli(d, {}), {typo}, vm2);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_EQ(e.where(), typo);
    EXPECT_NE(e.reason().find("prompt-len"), std::string::npos) << e.what();
  }
}

TEST(Config, MissingFileIsAnErrorNamingIt) {
  const auto d = settings();
  po::variables_map vm;
  try {
    resolve(d, cli(d, {}), {"/nonexistent/epalm.ini"}, vm);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "/nonexistent/epalm.ini");
  }
}

}  // namespace epalm::registry
