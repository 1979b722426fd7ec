#include "epalm/core/eval/caption_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_map>

#include "epalm/core/error.h"
#include "epalm/core/eval/ptb_tokenizer.h"
#include "numpy_sum.h"
#include "python_text.h"

namespace epalm::eval {

namespace {

constexpr int kMaxN = 4;

// Python's str.split(): ASCII fast path, Unicode whitespace otherwise.
std::vector<std::string_view> split_words(std::string_view s, std::vector<std::string>& storage) {
  bool ascii = true;
  for (const char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  std::vector<std::string_view> words;
  if (!ascii) {
    storage = python_text::split(s);
    for (const auto& w : storage) words.emplace_back(w);
    return words;
  }
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); };
  for (std::size_t i = 0; i < s.size();) {
    while (i < s.size() && space(s[i])) ++i;
    const auto start = i;
    while (i < s.size() && !space(s[i])) ++i;
    if (i > start) words.push_back(s.substr(start, i - start));
  }
  return words;
}

struct NgramKey {
  std::array<std::int32_t, kMaxN> words{-1, -1, -1, -1};
  bool operator==(const NgramKey& o) const { return words == o.words; }
};

// N-gram -> id in one flat table (open addressing, linear probing): a lookup
// costs one cache miss, where std::unordered_map's nodes cost two or three;
// 25k captions with 5 references make ~2M distinct n-grams.
class NgramIds {
 public:
  NgramIds() : slots_(1 << 12) {}
  std::int32_t id_of(const NgramKey& key) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    auto& slot = find(key);
    if (slot.id < 0) {
      slot.key = key;
      slot.id = static_cast<std::int32_t>(size_++);
    }
    return slot.id;
  }
  std::size_t size() const { return size_; }

 private:
  struct Slot {
    NgramKey key;
    std::int32_t id = -1;
  };
  static std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  static std::uint64_t hash(const NgramKey& k) {
    const auto pack = [](std::int32_t a, std::int32_t b) {
      return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
    };
    return mix(pack(k.words[0], k.words[1]) ^ mix(pack(k.words[2], k.words[3])));
  }
  Slot& find(const NgramKey& key) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash(key) & mask;; i = (i + 1) & mask) {
      auto& slot = slots_[i];
      if (slot.id < 0 || slot.key == key) return slot;
    }
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const auto& slot : old) {
      if (slot.id >= 0) find(slot.key) = slot;
    }
  }
  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

struct NgramCount {
  std::int32_t id;
  std::int32_t count;
};

struct NgramRange {
  const NgramCount* first;
  const NgramCount* last;
  const NgramCount* begin() const { return first; }
  const NgramCount* end() const { return last; }
};

// A sentence's n-gram counts in precook()'s order: 1-grams by first
// appearance, then 2-grams, ... (the order the official sums run in).
struct Cooked {
  std::int32_t length = 0;  // words
  std::vector<NgramCount> all;
  std::array<std::uint32_t, kMaxN + 1> offsets{};  // n-grams of length k: all[offsets[k-1], offsets[k])
  NgramRange of_length(int k) const {  // k in 1..4
    return {all.data() + offsets[static_cast<std::size_t>(k - 1)], all.data() + offsets[static_cast<std::size_t>(k)]};
  }
};

class NgramIndex {
 public:
  Cooked cook(std::string_view sentence) {
    std::vector<std::string> storage;
    const auto words = split_words(sentence, storage);
    ids_.clear();
    for (const auto w : words) {
      auto it = word_ids_.find(w);
      if (it == word_ids_.end()) {
        const std::string_view kept = word_storage_.emplace_back(w);
        it = word_ids_.emplace(kept, static_cast<std::int32_t>(word_ids_.size())).first;
      }
      ids_.push_back(it->second);
    }
    Cooked c;
    c.length = static_cast<std::int32_t>(ids_.size());
    c.all.reserve(ids_.size() * kMaxN);
    for (int k = 1; k <= kMaxN; ++k) {
      const auto first = c.all.size();
      for (std::size_t i = 0; i + static_cast<std::size_t>(k) <= ids_.size(); ++i) {
        NgramKey key;
        for (int j = 0; j < k; ++j) key.words[static_cast<std::size_t>(j)] = ids_[i + static_cast<std::size_t>(j)];
        const auto id = ngram_ids_.id_of(key);
        auto found = std::find_if(c.all.begin() + static_cast<std::ptrdiff_t>(first), c.all.end(),
                                  [&](const NgramCount& n) { return n.id == id; });
        if (found == c.all.end()) c.all.push_back({id, 1});
        else ++found->count;
      }
      c.offsets[static_cast<std::size_t>(k)] = static_cast<std::uint32_t>(c.all.size());
    }
    return c;
  }
  std::size_t size() const { return ngram_ids_.size(); }

 private:
  std::deque<std::string> word_storage_;  // stable: word_ids_ keys point into it
  std::unordered_map<std::string_view, std::int32_t> word_ids_;
  NgramIds ngram_ids_;
  std::vector<std::int32_t> ids_;
};

void check_examples(const std::vector<CaptionExample>& examples) {
  if (examples.empty()) throw Error("caption predictions", "there are none to score");
  for (const auto& e : examples) {
    if (e.references.empty()) throw Error("captions of image " + e.image_id, "there are no references");
  }
}

struct CookedExample {
  Cooked test;
  std::vector<Cooked> refs;
};

std::vector<CookedExample> cook_all(const std::vector<CaptionExample>& examples, NgramIndex& index) {
  std::vector<CookedExample> out;
  out.reserve(examples.size());
  for (const auto& e : examples) {
    CookedExample c;
    c.test = index.cook(e.prediction);
    for (const auto& r : e.references) c.refs.push_back(index.cook(r));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

BleuScores bleu(const std::vector<CaptionExample>& tokenized) {
  check_examples(tokenized);
  NgramIndex index;
  const auto cooked = cook_all(tokenized, index);
  constexpr double small = 1e-9, tiny = 1e-15;
  std::vector<std::int32_t> max_ref_count(index.size(), 0);
  std::array<std::int64_t, kMaxN> total_guess{}, total_correct{};
  std::int64_t total_test = 0, total_ref = 0;
  BleuScores out;
  out.per_example.reserve(cooked.size());
  for (const auto& e : cooked) {
    const std::int32_t test_length = e.test.length;
    // "closest": the reference length nearest the prediction's, the shorter on a tie.
    std::int32_t ref_length = e.refs.front().length;
    for (const auto& r : e.refs) {
      const auto d = std::abs(r.length - test_length), best = std::abs(ref_length - test_length);
      if (d < best || (d == best && r.length < ref_length)) ref_length = r.length;
      for (const auto& n : r.all) {
        auto& m = max_ref_count[static_cast<std::size_t>(n.id)];
        m = std::max(m, n.count);
      }
    }
    std::array<std::int64_t, kMaxN> guess{}, correct{};
    for (int k = 0; k < kMaxN; ++k) {
      guess[static_cast<std::size_t>(k)] = std::max(0, test_length - k);
      for (const auto& n : e.test.of_length(k + 1)) {
        correct[static_cast<std::size_t>(k)] += std::min(max_ref_count[static_cast<std::size_t>(n.id)], n.count);
      }
    }
    for (const auto& r : e.refs) {
      for (const auto& n : r.all) max_ref_count[static_cast<std::size_t>(n.id)] = 0;
    }
    std::array<double, kMaxN> scores{};
    double product = 1.;
    for (int k = 0; k < kMaxN; ++k) {
      const auto ku = static_cast<std::size_t>(k);
      product *= (static_cast<double>(correct[ku]) + tiny) / (static_cast<double>(guess[ku]) + small);
      scores[ku] = std::pow(product, 1. / (k + 1));
      total_guess[ku] += guess[ku];
      total_correct[ku] += correct[ku];
    }
    const double ratio = (test_length + tiny) / (ref_length + small);
    if (ratio < 1) {
      for (auto& s : scores) s *= std::exp(1 - 1 / ratio);
    }
    out.per_example.push_back(scores);
    total_test += test_length;
    total_ref += ref_length;
  }
  double product = 1.;
  for (int k = 0; k < kMaxN; ++k) {
    const auto ku = static_cast<std::size_t>(k);
    product *= (static_cast<double>(total_correct[ku]) + tiny) / (static_cast<double>(total_guess[ku]) + small);
    out.corpus[ku] = std::pow(product, 1. / (k + 1));
  }
  const double ratio = (static_cast<double>(total_test) + tiny) / (static_cast<double>(total_ref) + small);
  if (ratio < 1) {
    for (auto& s : out.corpus) s *= std::exp(1 - 1 / ratio);
  }
  return out;
}

namespace {

// Python's s.split(" "): single spaces, empty pieces kept ("" -> [""]).
std::vector<std::int32_t> split_on_space(std::string_view s, std::unordered_map<std::string, std::int32_t>& ids) {
  std::vector<std::int32_t> out;
  std::size_t start = 0;
  while (true) {
    const auto end = s.find(' ', start);
    const auto piece = s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    auto [it, added] = ids.try_emplace(std::string(piece), static_cast<std::int32_t>(ids.size()));
    out.push_back(it->second);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::size_t lcs_length(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b,
                       std::vector<std::size_t>& row) {
  const auto& longer = a.size() >= b.size() ? a : b;
  const auto& shorter = a.size() >= b.size() ? b : a;
  row.assign(shorter.size() + 1, 0);
  for (const auto x : longer) {
    std::size_t diagonal = 0;  // lengths[i-1][j-1]
    for (std::size_t j = 1; j <= shorter.size(); ++j) {
      const auto above = row[j];
      row[j] = x == shorter[j - 1] ? diagonal + 1 : std::max(row[j], row[j - 1]);
      diagonal = above;
    }
  }
  return row[shorter.size()];
}

}  // namespace

CorpusScores rouge_l(const std::vector<CaptionExample>& tokenized) {
  check_examples(tokenized);
  const double beta = 1.2;
  const double beta2 = std::pow(beta, 2);
  std::unordered_map<std::string, std::int32_t> ids;
  std::vector<std::size_t> row;
  CorpusScores out;
  out.per_example.reserve(tokenized.size());
  for (const auto& e : tokenized) {
    const auto candidate = split_on_space(e.prediction, ids);
    double precision = 0, recall = 0;
    for (const auto& r : e.references) {
      const auto reference = split_on_space(r, ids);
      const auto lcs = static_cast<double>(lcs_length(reference, candidate, row));
      precision = std::max(precision, lcs / static_cast<double>(candidate.size()));
      recall = std::max(recall, lcs / static_cast<double>(reference.size()));
    }
    out.per_example.push_back(precision != 0 && recall != 0
                                  ? ((1 + beta2) * precision * recall) / (recall + beta2 * precision)
                                  : 0.0);
  }
  out.mean = numpy_mean(out.per_example);
  return out;
}

CorpusScores cider_d(const std::vector<CaptionExample>& tokenized) {
  check_examples(tokenized);
  constexpr double sigma = 6.0;
  NgramIndex index;
  const auto cooked = cook_all(tokenized, index);
  // Document frequency: in how many examples' references each n-gram occurs.
  std::vector<double> document_frequency(index.size(), 0.0);
  std::vector<std::size_t> last_seen(index.size(), SIZE_MAX);
  for (std::size_t e = 0; e < cooked.size(); ++e) {
    for (const auto& r : cooked[e].refs) {
      for (const auto& n : r.all) {
        const auto id = static_cast<std::size_t>(n.id);
        if (last_seen[id] != e) {
          last_seen[id] = e;
          document_frequency[id] += 1;
        }
      }
    }
  }
  const double ref_len = std::log(static_cast<double>(cooked.size()));
  std::vector<double> log_df(index.size());
  for (std::size_t i = 0; i < index.size(); ++i) log_df[i] = std::log(std::max(1.0, document_frequency[i]));

  struct Vector {
    std::array<double, kMaxN> norm{};
    std::int32_t length = 0;  // the official code counts 2-grams here
  };
  // TF-IDF weights of one sentence, by n-gram in `weights`, norms in the result.
  auto to_vector = [&](const Cooked& c, std::vector<double>& weights) {
    Vector v;
    for (int k = 0; k < kMaxN; ++k) {
      const auto ku = static_cast<std::size_t>(k);
      for (const auto& n : c.of_length(k + 1)) {
        const double w = static_cast<double>(n.count) * (ref_len - log_df[static_cast<std::size_t>(n.id)]);
        weights[static_cast<std::size_t>(n.id)] = w;
        v.norm[ku] += std::pow(w, 2);
        if (k == 1) v.length += n.count;
      }
      v.norm[ku] = std::sqrt(v.norm[ku]);
    }
    return v;
  };
  std::vector<double> hyp_weights(index.size(), 0.0), ref_weights(index.size(), 0.0);
  CorpusScores out;
  out.per_example.reserve(cooked.size());
  for (const auto& e : cooked) {
    const auto hyp = to_vector(e.test, hyp_weights);
    std::array<double, kMaxN> score{};
    for (const auto& r : e.refs) {
      const auto ref = to_vector(r, ref_weights);
      const double delta = static_cast<double>(hyp.length - ref.length);
      const double penalty = std::pow(M_E, -(std::pow(delta, 2)) / (2 * std::pow(sigma, 2)));
      for (int k = 0; k < kMaxN; ++k) {
        const auto ku = static_cast<std::size_t>(k);
        double val = 0.0;
        for (const auto& n : e.test.of_length(k + 1)) {
          const auto id = static_cast<std::size_t>(n.id);
          val += std::min(hyp_weights[id], ref_weights[id]) * ref_weights[id];
        }
        if (hyp.norm[ku] != 0 && ref.norm[ku] != 0) val /= hyp.norm[ku] * ref.norm[ku];
        val *= penalty;
        score[ku] += val;
      }
      for (const auto& n : r.all) ref_weights[static_cast<std::size_t>(n.id)] = 0.0;
    }
    for (const auto& n : e.test.all) hyp_weights[static_cast<std::size_t>(n.id)] = 0.0;
    double average = numpy_sum(score.data(), score.size()) / kMaxN;
    average /= static_cast<double>(e.refs.size());
    average *= 10.0;
    out.per_example.push_back(average);
  }
  out.mean = numpy_mean(out.per_example);
  return out;
}

std::vector<CaptionExample> coco_tokenized(const std::vector<CaptionExample>& raw) {
  std::vector<CaptionExample> out;
  out.reserve(raw.size());
  for (const auto& e : raw) {
    CaptionExample t;
    t.image_id = e.image_id;
    t.prediction = coco_tokenize(e.prediction);
    t.references.reserve(e.references.size());
    for (const auto& r : e.references) t.references.push_back(coco_tokenize(r));
    out.push_back(std::move(t));
  }
  return out;
}

CaptionScores caption_scores(const std::vector<CaptionExample>& raw) {
  const auto tokenized = coco_tokenized(raw);
  return {bleu(tokenized), rouge_l(tokenized), cider_d(tokenized)};
}

}  // namespace epalm::eval
