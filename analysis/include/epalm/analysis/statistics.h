// The statistics behind `epalm runs compare`: mean and sample standard
// deviation over seeds, Welch's t-test (Student's t distribution from
// Boost.Math) and a seeded bootstrap whose resamples anyone can reproduce.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace epalm::analysis {

double mean(const std::vector<double>& values);  // 0 for none
// Sample standard deviation (n - 1 in the denominator); 0 below two values.
double sample_std(const std::vector<double>& values);

// Welch's two-sided t-test of mean(a) = mean(b): t = (mean a - mean b) / se,
// se^2 = var a / n_a + var b / n_b, Welch–Satterthwaite degrees of freedom,
// p = 2 P(T_dof > |t|). nullopt when a side has fewer than two values or both
// have no spread. Equals scipy.stats.ttest_ind(a, b, equal_var=False).
struct WelchResult {
  double t = 0, dof = 0, p = 0;
};
std::optional<WelchResult> welch_t_test(const std::vector<double>& a, const std::vector<double>& b);

// SplitMix64 (Steele, Lea, Flood 2014): state += 0x9E3779B97F4A7C15, then
// z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9, z = (z ^ z >> 27) * 0x94D049BB133111EB,
// z ^ z >> 31. An index below n is (z * n) >> 64 (128-bit product). Small
// enough to restate in any language, which is the point: a peer draws the
// same resamples.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  std::uint64_t below(std::uint64_t n);  // uniform in [0, n)

 private:
  std::uint64_t state_;
};

// The bootstrap test of "mean difference = 0", two-sided, from `seed`:
// - paired (`paired` true, a[i] and b[i] from the same seed): d = a - b; each
//   of `resamples` draws n indices (generator.below(n), in order) and takes
//   the mean of d at them;
// - unpaired: each resample draws n_a indices into a, then n_b into b, and
//   takes mean(a*) - mean(b*).
// Means are sums in index order divided by the count. With the observed
// difference m, p = (1 + #{resamples: |stat - m| >= |m|}) / (resamples + 1)
// (the resampled statistics centred on m stand for the null distribution).
// nullopt below two values on a side.
struct BootstrapResult {
  double p = 0;
  double observed = 0;
  std::int64_t extreme = 0;  // the count above
  bool paired = false;
};
std::optional<BootstrapResult> bootstrap_test(const std::vector<double>& a, const std::vector<double>& b, bool paired,
                                              int resamples, std::uint64_t seed);

}  // namespace epalm::analysis
