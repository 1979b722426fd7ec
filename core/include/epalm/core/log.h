// Logging setup. Code logs through spdlog's default logger (spdlog::info ...);
// this header only configures it: level, and the rank tag every line carries
// once the process knows it is one of several ranks.
#pragma once

#include <string>

namespace epalm::log {

// Which ranks print info/debug lines; warnings and errors always print.
enum class RankFilter { kRankZero, kAll };

struct Settings {
  std::string level = "info";  // trace, debug, info, warn, error, off
  RankFilter ranks = RankFilter::kRankZero;
};

// The level from EPALM_LOG_LEVEL when set, else `fallback`.
std::string level_from_environment(const std::string& fallback);

// Validates and applies the settings; throws UsageError on an unknown level.
void configure(const Settings& settings);

// Tags every following line with "r<rank>/<world> <host>" when world > 1 and
// applies the rank filter.
void set_rank(int rank, int world, const std::string& host);

}  // namespace epalm::log
