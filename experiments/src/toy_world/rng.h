// The toy world's random numbers: SplitMix64, with integer and real draws
// defined here (not by <random>'s distributions, whose results differ between
// standard libraries), so a seed gives the same world everywhere. Every item
// draws from its own stream, keyed by (seed, what, index).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace epalm::experiments::toy {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  // The stream of one item: the world seed, a name ("image/train") and an index.
  Rng(std::uint64_t seed, const std::string& what, std::uint64_t index) : state_(seed) {
    for (const char c : what) state_ = mix(state_ ^ static_cast<unsigned char>(c));
    state_ = mix(state_ ^ index);
  }

  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return mix(state_);
  }
  // Uniform in [0, n), n >= 1 (rejection keeps it unbiased).
  int below(int n) {
    const auto bound = static_cast<std::uint64_t>(n);
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    std::uint64_t x;
    do x = next();
    while (x >= limit);
    return static_cast<int>(x % bound);
  }
  int between(int lo, int hi) { return lo + below(hi - lo + 1); }  // inclusive
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  bool coin() { return (next() >> 63) != 0; }
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[static_cast<std::size_t>(below(static_cast<int>(i)))]);
  }

 private:
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
};

}  // namespace epalm::experiments::toy
