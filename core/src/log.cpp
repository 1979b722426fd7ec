#include "epalm/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <mutex>

#include "epalm/core/error.h"

namespace epalm::log {

namespace {

struct State {
  std::mutex mutex;
  Settings settings;
  int rank = 0;
  int world = 1;
  std::string host;
};

State& state() {
  static State s;
  return s;
}

spdlog::level::level_enum parse_level(const std::string& name) {
  auto level = spdlog::level::from_str(name);
  // from_str maps anything unknown to "off"; only "off" itself may mean off.
  if (level == spdlog::level::off && name != "off") {
    throw UsageError("log level", "unknown level '" + name + "' (use trace, debug, info, warn, error or off)");
  }
  return level;
}

// Logs go to stderr: stdout carries command output (reports, configs, tables).
void apply_locked(State& s) {
  auto logger = spdlog::default_logger();
  if (!logger || logger->name() != "epalm") {
    logger = spdlog::stderr_color_mt("epalm");
    spdlog::set_default_logger(logger);
  }
  auto level = parse_level(s.settings.level);
  if (s.world > 1 && s.rank != 0 && s.settings.ranks == RankFilter::kRankZero) {
    level = std::max(level, spdlog::level::warn);
  }
  logger->set_level(level);
  if (s.world > 1) {
    logger->set_pattern("[%H:%M:%S.%e] [r" + std::to_string(s.rank) + "/" + std::to_string(s.world) + " " + s.host +
                        "] [%^%l%$] %v");
  } else {
    logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  }
}

}  // namespace

std::string level_from_environment(const std::string& fallback) {
  const char* env = std::getenv("EPALM_LOG_LEVEL");
  return env && *env ? std::string(env) : fallback;
}

void configure(const Settings& settings) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  parse_level(settings.level);  // validate before changing anything
  s.settings = settings;
  apply_locked(s);
}

void set_rank(int rank, int world, const std::string& host) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.rank = rank;
  s.world = world;
  s.host = host;
  apply_locked(s);
}

}  // namespace epalm::log
