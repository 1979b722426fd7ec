// epalm/core/home.h: the one place the user's data folder is decided, and the
// defaults the results store and the toy world derive from it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "epalm/core/error.h"
#include "epalm/core/home.h"
#include "epalm/registry/results_store.h"

namespace epalm {
namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value->c_str(), 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(EpalmHome, IsEpalmHomeElseTheUsersCache) {
  const ScopedEnv results("EPALM_RESULTS", std::nullopt);
  {
    const ScopedEnv home("EPALM_HOME", "/data/epalm");
    EXPECT_EQ(epalm_home(), "/data/epalm");
    EXPECT_EQ(registry::default_results_path(), "/data/epalm/results.sqlite");
  }
  const ScopedEnv empty("EPALM_HOME", "");  // empty counts as unset
  const ScopedEnv user("HOME", "/home/someone");
  EXPECT_EQ(epalm_home(), "/home/someone/.cache/epalm");
  EXPECT_EQ(registry::default_results_path(), "/home/someone/.cache/epalm/results.sqlite");
}

TEST(EpalmHome, WithNeitherVariableSaysWhichToSet) {
  const ScopedEnv home("EPALM_HOME", std::nullopt);
  const ScopedEnv user("HOME", std::nullopt);
  try {
    epalm_home();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("EPALM_HOME"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("HOME is set"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace epalm
