// Range checks attached to a setting where it is defined (a Boost notifier):
// a value out of range is a usage error naming the option and the value when
// the configuration resolves, before anything is loaded or recorded, whether
// it came from the command line, a config file, the environment or a
// checkpoint's stored settings.
#pragma once

#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "epalm/core/error.h"

namespace epalm::registry {

namespace setting_checks_detail {
template <class T>
std::string text(const T& v) {
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace setting_checks_detail

// lo <= value <= hi (NaN fails), with `rule` as the message ("must be >= 1").
template <class T>
std::function<void(const T&)> within(const std::string& option, T lo, T hi, const std::string& rule) {
  return [=](const T& v) {
    if (!(v >= lo && v <= hi)) {
      throw UsageError("--" + option, rule + ", not " + setting_checks_detail::text(v));
    }
  };
}

template <class T>
std::function<void(const T&)> at_least(const std::string& option, T lo) {
  return within<T>(option, lo, std::numeric_limits<T>::max(), "must be >= " + setting_checks_detail::text(lo));
}

// 0 <= value < 1 (a probability that must leave something).
inline std::function<void(const double&)> fraction_below_one(const std::string& option) {
  return [=](const double& v) {
    if (!(v >= 0 && v < 1)) throw UsageError("--" + option, "must be in [0, 1), not " + setting_checks_detail::text(v));
  };
}

// One of `choices` (an enumeration's values).
inline std::function<void(const std::string&)> one_of(const std::string& option, std::vector<std::string> choices) {
  return [=](const std::string& v) {
    for (const auto& c : choices) {
      if (v == c) return;
    }
    std::string all;
    for (const auto& c : choices) all += (all.empty() ? "" : ", ") + c;
    throw UsageError("--" + option, "must be one of " + all + ", not '" + v + "'");
  };
}

}  // namespace epalm::registry
