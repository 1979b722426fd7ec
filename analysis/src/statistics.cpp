#include "epalm/analysis/statistics.h"

#include <boost/math/distributions/students_t.hpp>

#include <cmath>

#include "epalm/core/error.h"

namespace epalm::analysis {

double mean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

double sample_std(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  const double m = mean(values);
  double squares = 0;
  for (double v : values) squares += (v - m) * (v - m);
  return std::sqrt(squares / static_cast<double>(values.size() - 1));
}

std::optional<WelchResult> welch_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  const double va = sample_std(a) * sample_std(a) / na, vb = sample_std(b) * sample_std(b) / nb;
  const double se2 = va + vb;
  if (!(se2 > 0)) return std::nullopt;
  WelchResult r;
  r.t = (mean(a) - mean(b)) / std::sqrt(se2);
  r.dof = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1));
  const boost::math::students_t distribution(r.dof);
  r.p = 2 * boost::math::cdf(boost::math::complement(distribution, std::fabs(r.t)));
  return r;
}

std::uint64_t SplitMix64::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

__extension__ typedef unsigned __int128 Uint128;  // GCC and Clang; the multiply-shift needs the full product

std::uint64_t SplitMix64::below(std::uint64_t n) {
  return static_cast<std::uint64_t>((static_cast<Uint128>(next()) * n) >> 64);
}

std::optional<BootstrapResult> bootstrap_test(const std::vector<double>& a, const std::vector<double>& b, bool paired,
                                              int resamples, std::uint64_t seed) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  if (resamples < 1) throw UsageError("--bootstrap", "needs at least one resample");
  if (paired && a.size() != b.size()) throw Error("bootstrap", "paired samples differ in size");
  SplitMix64 g(seed);
  BootstrapResult r;
  r.paired = paired;
  auto resampled_mean = [&g](const std::vector<double>& x) {
    double sum = 0;
    for (size_t i = 0; i < x.size(); ++i) sum += x[g.below(x.size())];
    return sum / static_cast<double>(x.size());
  };
  std::vector<double> d;
  if (paired) {
    for (size_t i = 0; i < a.size(); ++i) d.push_back(a[i] - b[i]);
    r.observed = mean(d);
  } else {
    r.observed = mean(a) - mean(b);
  }
  for (int k = 0; k < resamples; ++k) {
    double stat = 0;
    if (paired) {
      stat = resampled_mean(d);
    } else {
      const double ma = resampled_mean(a);  // a's indices first, then b's (sequenced)
      stat = ma - resampled_mean(b);
    }
    if (std::fabs(stat - r.observed) >= std::fabs(r.observed)) ++r.extreme;
  }
  r.p = static_cast<double>(r.extreme + 1) / static_cast<double>(resamples + 1);
  return r;
}

}  // namespace epalm::analysis
