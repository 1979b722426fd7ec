#include "epalm/core/eval/ptb_tokenizer.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>
#include <unordered_set>

#include "python_text.h"

namespace epalm::eval {

namespace {

using python_text::decode;
using python_text::encode;

bool is_letter(char32_t c) { return u_isalpha(static_cast<UChar32>(c)) != 0; }
bool is_digit(char32_t c) { return u_isdigit(static_cast<UChar32>(c)) != 0; }
bool is_mark(char32_t c) {
  const auto t = u_charType(static_cast<UChar32>(c));
  return t == U_NON_SPACING_MARK || t == U_COMBINING_SPACING_MARK || t == U_ENCLOSING_MARK;
}
bool is_upper(char32_t c) { return u_isupper(static_cast<UChar32>(c)) != 0; }
bool is_alnum(char32_t c) { return is_letter(c) || is_digit(c); }
bool is_word_char(char32_t c) { return is_alnum(c) || is_mark(c) || c == U'_' || c == 0xAD; }
bool is_apostrophe(char32_t c) { return c == U'\'' || c == 0x2019; }
// Java's Character.isWhitespace plus the no-break spaces CoreNLP also skips.
bool is_space(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == 0x0B || c == 0x0C || c == 0xA0 ||
         u_isUWhiteSpace(static_cast<UChar32>(c));
}

char32_t ascii_lower(char32_t c) { return c >= U'A' && c <= U'Z' ? c - U'A' + U'a' : c; }

std::u32string lower_ascii(std::u32string_view s) {
  std::u32string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

// Concatenation by append (GCC 12's -Wrestrict misfires on u32string operator+).
std::u32string concat(std::initializer_list<std::u32string_view> parts) {
  std::u32string out;
  for (const auto p : parts) out.append(p.data(), p.size());
  return out;
}

bool equals_ignore_case(std::u32string_view a, std::u32string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// Abbreviations that keep their period in CoreNLP's PTBLexer (ABBREV1-3),
// lower-cased, without the period.
const std::unordered_set<std::u32string>& abbreviations() {
  static const std::unordered_set<std::u32string> set = {
      U"mr",   U"mrs",  U"ms",   U"messrs", U"mlle", U"mme",  U"dr",   U"prof", U"gen",  U"rep",  U"sen",
      U"gov",  U"lt",   U"col",  U"maj",    U"capt", U"sgt",  U"cpl",  U"pvt",  U"adm",  U"cmdr", U"st",
      U"jr",   U"sr",   U"rev",  U"hon",    U"esq",  U"etc",  U"vs",   U"inc",  U"co",   U"corp", U"ltd",
      U"bros", U"mt",   U"ft",   U"ave",    U"blvd", U"rd",   U"fig",  U"figs", U"vol",
      U"dept", U"univ", U"assn", U"est",    U"approx"};
  return set;
}

// Months and days that CoreNLP keeps with their period and, before a capital,
// follows with a sentence-final "." of its own.
const std::unordered_set<std::u32string>& sentence_final_abbreviations() {
  static const std::unordered_set<std::u32string> set = {
      U"jan", U"feb", U"mar", U"apr", U"jun", U"jul", U"aug", U"sep", U"sept", U"oct", U"nov", U"dec",
      U"mon", U"tue", U"tues", U"wed", U"thu", U"thur", U"thurs", U"fri", U"sat", U"sun"};
  return set;
}

// "u.s", "e.g", "p.m", "a": letters each followed by a period (the last one's is next).
bool is_acronym(std::u32string_view w) {
  if (w.empty()) return false;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const bool letter_slot = i % 2 == 0;
    const bool ascii_letter = (w[i] >= U'a' && w[i] <= U'z') || (w[i] >= U'A' && w[i] <= U'Z');
    if (letter_slot ? !ascii_letter : w[i] != U'.') return false;
  }
  return w.size() % 2 == 1;
}

// Words CoreNLP splits in two: cannot -> can not, gonna -> gon na, ...
bool split_compound(std::u32string_view w, std::vector<std::u32string>& out) {
  static const std::array<std::pair<std::u32string_view, std::size_t>, 7> compounds = {
      {{U"cannot", 3}, {U"gonna", 3}, {U"gotta", 3}, {U"wanna", 3}, {U"gimme", 3}, {U"lemme", 3}, {U"d'ye", 2}}};
  for (const auto& [word, at] : compounds) {
    if (equals_ignore_case(w, word)) {
      out.emplace_back(w.substr(0, at));
      out.emplace_back(w.substr(at));
      return true;
    }
  }
  return false;
}

// The clitic after an apostrophe at `i` ('s 'm 'd 'll 're 've), or 0.
std::size_t clitic_length(std::u32string_view w, std::size_t i) {
  auto ends_at = [&](std::size_t end) { return end >= w.size() || !is_letter(w[end]); };
  if (i + 1 >= w.size()) return 0;
  const auto a = ascii_lower(w[i + 1]);
  if ((a == U's' || a == U'm' || a == U'd') && ends_at(i + 2)) return 2;
  if (i + 2 < w.size()) {
    const auto b = ascii_lower(w[i + 2]);
    if (((a == U'l' && b == U'l') || (a == U'r' && b == U'e') || (a == U'v' && b == U'e')) && ends_at(i + 3)) return 3;
  }
  return 0;
}

class ChunkTokenizer {
 public:
  ChunkTokenizer(std::u32string_view chunk, std::u32string_view next_chunk, std::vector<std::u32string>& out)
      : w_(chunk), next_(next_chunk), out_(out) {}

  void run() {
    while (i_ < w_.size()) step();
  }

 private:
  char32_t at(std::size_t k) const { return k < w_.size() ? w_[k] : 0; }
  void emit(std::u32string token) { out_.push_back(std::move(token)); }

  void step() {
    const char32_t c = w_[i_];
    if (c > 0xFFFF || u_iscntrl(static_cast<UChar32>(c))) {  // CoreNLP drops what it cannot tokenize
      ++i_;
      return;
    }
    if (is_word_char(c)) return word();
    if (is_apostrophe(c)) return apostrophe();
    if (c == U'<' && sgml_tag()) return;
    switch (c) {
      case U'"':
        emit(i_ == 0 || opens_before(i_) ? U"``" : U"''");
        ++i_;
        return;
      case 0x201C:
      case 0x201E:
        emit(U"``");
        ++i_;
        return;
      case 0x201D:
        emit(U"''");
        ++i_;
        return;
      case 0x2018:
        emit(U"`");
        ++i_;
        return;
      case U'`':
        if (at(i_ + 1) == U'`') {
          emit(U"``");
          i_ += 2;
        } else {
          emit(U"`");
          ++i_;
        }
        return;
      case U'(': emit(U"-LRB-"); ++i_; return;
      case U')': emit(U"-RRB-"); ++i_; return;
      case U'[': emit(U"-LSB-"); ++i_; return;
      case U']': emit(U"-RSB-"); ++i_; return;
      case U'{': emit(U"-LCB-"); ++i_; return;
      case U'}': emit(U"-RCB-"); ++i_; return;
      case U'.': return periods();
      case 0x2026: emit(U"..."); ++i_; return;
      case U'!':
      case U'?': {
        const auto start = i_;
        while (at(i_) == U'!' || at(i_) == U'?') ++i_;
        emit(std::u32string(w_.substr(start, i_ - start)));
        return;
      }
      case U'-': return hyphens();
      case 0x2013:
      case 0x2014:
      case 0x2015:
        emit(U"--");
        ++i_;
        return;
      case U'+':
        if (i_ == 0 && is_digit(at(i_ + 1))) return word();
        emit(U"+");
        ++i_;
        return;
      case 0xA3: emit(U"#"); ++i_; return;   // £
      case 0x20AC: emit(U"$"); ++i_; return;  // €
      case U'#':
      case U'@':
        if (is_letter(at(i_ + 1)) && (i_ == 0 || !is_alnum(w_[i_ - 1]))) return word();
        [[fallthrough]];
      default: {
        // Runs of one symbol (@@, ##) are one token; any other symbol is a token alone.
        const auto start = i_++;
        if (c == U'@' || c == U'#') {
          while (at(i_) == c) ++i_;
        }
        emit(std::u32string(w_.substr(start, i_ - start)));
        return;
      }
    }
  }

  // <tag>, </tag>, <br/>: one token (within the chunk).
  bool sgml_tag() {
    std::size_t k = i_ + 1;
    if (at(k) == U'/') ++k;
    const char32_t first = at(k);
    if (!((first >= U'a' && first <= U'z') || (first >= U'A' && first <= U'Z') || first == U'!' || first == U'?')) {
      return false;
    }
    const auto close = w_.find(U'>', k);
    if (close == std::u32string_view::npos) return false;
    emit(std::u32string(w_.substr(i_, close + 1 - i_)));
    i_ = close + 1;
    return true;
  }

  bool opens_before(std::size_t k) const {
    const char32_t p = w_[k - 1];
    return p == U'(' || p == U'[' || p == U'{' || p == U'`' || p == U'"' || p == 0x201C || p == 0x2018;
  }

  void periods() {
    if (is_digit(at(i_ + 1)) && (i_ == 0 || !is_word_char(w_[i_ - 1]))) return word();  // .5
    const auto start = i_;
    while (at(i_) == U'.') ++i_;
    const auto n = i_ - start;
    if (n == 2) {
      emit(U".");
      emit(U".");
    } else {
      emit(n >= 3 ? U"..." : U".");
    }
  }

  void hyphens() {
    const auto start = i_;
    while (at(i_) == U'-') ++i_;
    const auto n = i_ - start;
    if (n == 1 && start == 0 && is_digit(at(i_))) {  // a signed number
      i_ = start;
      return word();
    }
    emit(n >= 2 ? U"--" : U"-");
  }

  void apostrophe() {
    const bool after_word = i_ > 0 && is_word_char(w_[i_ - 1]);
    if (w_[i_] == U'\'' && at(i_ + 1) == U'\'') {
      emit(U"''");
      i_ += 2;
      return;
    }
    auto rest = w_.substr(i_ + 1);
    if (rest.size() >= 2 && ascii_lower(rest[0]) == U'n' && is_apostrophe(rest[1])) {  // rock 'n' roll
      emit(concat({U"'", rest.substr(0, 1), U"'"}));
      i_ += 3;
      return;
    }
    if (!after_word) {
      // 'em, '90s, 'tis / 'twas
      auto word_end = [&](std::size_t k) { return k >= rest.size() || !is_letter(rest[k]); };
      if (rest.size() >= 2 && equals_ignore_case(rest.substr(0, 2), U"em") && word_end(2)) {
        emit(concat({U"'", rest.substr(0, 2)}));
        i_ += 3;
        return;
      }
      if (rest.size() >= 3 && is_digit(rest[0]) && is_digit(rest[1]) && ascii_lower(rest[2]) == U's' && word_end(3)) {
        emit(concat({U"'", rest.substr(0, 3)}));
        i_ += 4;
        return;
      }
      if (rest.size() >= 3 && ascii_lower(rest[0]) == U't' &&
          (equals_ignore_case(rest.substr(1), U"is") || equals_ignore_case(rest.substr(1), U"was"))) {
        emit(concat({U"'", rest.substr(0, 1)}));
        ++i_;
        ++i_;
        return;
      }
    }
    if (after_word || i_ == 0) {
      if (const auto n = clitic_length(w_, i_)) {
        emit(concat({U"'", w_.substr(i_ + 1, n - 1)}));
        i_ += n;
        return;
      }
    }
    emit(w_[i_] == U'\'' && !after_word && i_ == 0 ? U"`" : U"'");
    ++i_;
  }

  // A word or number: letters, digits and the joiners CoreNLP keeps inside one.
  void word() {
    const auto start = i_;
    ++i_;
    while (i_ < w_.size()) {
      const char32_t c = w_[i_];
      const char32_t prev = w_[i_ - 1], next = at(i_ + 1);
      if (is_word_char(c)) {
        ++i_;
      } else if ((c == U'-' || c == U'.') && is_word_char(next) && is_word_char(prev)) {
        i_ += 2;
      } else if ((c == U'!' || c == U'?') && is_letter(next) && is_letter(prev)) {
        i_ += 2;
      } else if ((c == U',' || c == U':') && is_digit(prev) && is_digit(next)) {
        i_ += 2;
      } else if (c == U'/' && is_alnum(prev) && is_alnum(next)) {
        i_ += 2;
      } else if (c == U'@' && is_letter(next) && is_alnum(prev)) {
        i_ += 2;
      } else if (c == U'&' && is_upper(prev) && is_upper(next)) {
        i_ += 2;
      } else if (is_apostrophe(c) && is_letter(next) && i_ - start == 1 && is_letter(prev) &&
                 clitic_length(w_, i_) == 0 && !(ascii_lower(prev) == U'y' && ascii_lower(next) == U'a') &&
                 !(ascii_lower(next) == U'n' && is_apostrophe(at(i_ + 2)))) {
        i_ += 2;  // o'clock, o'neil, d'artagnan (y'all and rock'n'roll split)
      } else {
        break;
      }
    }
    std::u32string w(w_.substr(start, i_ - start));
    // y'all -> y' all
    if (equals_ignore_case(w, U"y") && is_apostrophe(at(i_)) && equals_ignore_case(w_.substr(i_ + 1, 3), U"all") &&
        !is_letter(at(i_ + 4))) {
      emit(concat({w, U"'"}));
      ++i_;
      return;
    }
    // ma'am keeps its apostrophe
    if (equals_ignore_case(w, U"ma") && is_apostrophe(at(i_)) && equals_ignore_case(w_.substr(i_ + 1, 2), U"am") &&
        !is_letter(at(i_ + 3))) {
      emit(concat({w, w_.substr(i_, 3)}));
      i_ += 3;
      return;
    }
    // n't: "don't" -> "do" "n't"
    if (w.size() >= 2 && ascii_lower(w.back()) == U'n' && is_apostrophe(at(i_)) && ascii_lower(at(i_ + 1)) == U't' &&
        !is_letter(at(i_ + 2))) {
      w.pop_back();
      emit_word(w);
      emit(concat({w_.substr(i_ - 1, 1), U"'", w_.substr(i_ + 1, 1)}));
      i_ += 2;
      return;
    }
    if (at(i_) == U'.') {
      const auto lower = lower_ascii(w);
      // "No." keeps its period before a number, as CoreNLP's ABBREV3.
      const bool number_abbreviation = lower == U"no" && i_ + 1 == w_.size() && !next_.empty() && is_digit(next_[0]);
      if (number_abbreviation || abbreviations().count(lower) || is_acronym(lower)) {
        emit(concat({w, U"."}));
        ++i_;
        return;
      }
      if (sentence_final_abbreviations().count(lower)) {
        emit(concat({w, U"."}));
        ++i_;
        if (i_ == w_.size() && !next_.empty() && is_upper(next_[0])) emit(U".");
        return;
      }
    }
    emit_word(w);
  }

  void emit_word(const std::u32string& w) {
    std::vector<std::u32string> parts;
    if (split_compound(w, parts)) {
      for (auto& p : parts) emit(std::move(p));
    } else {
      emit(w);
    }
  }

  std::u32string_view w_;
  std::u32string_view next_;
  std::vector<std::u32string>& out_;
  std::size_t i_ = 0;
};

}  // namespace

std::vector<std::string> ptb_tokenize(std::string_view line) {
  const auto chars = decode(line, "caption");
  std::vector<std::u32string_view> chunks;
  const std::u32string_view all(chars);
  for (std::size_t i = 0; i < all.size();) {
    while (i < all.size() && is_space(all[i])) ++i;
    const auto start = i;
    while (i < all.size() && !is_space(all[i])) ++i;
    if (i > start) chunks.push_back(all.substr(start, i - start));
  }
  std::vector<std::u32string> tokens;
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    ChunkTokenizer(chunks[k], k + 1 < chunks.size() ? chunks[k + 1] : std::u32string_view(), tokens).run();
  }
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (auto& t : tokens) {
    for (auto& c : t) {
      if (c == 0x2019) c = U'\'';
    }
    out.push_back(python_text::lower(encode(t)));
  }
  return out;
}

std::string coco_tokenize(std::string_view caption) {
  static const std::unordered_set<std::string> punctuation = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                                                              ".",  "?", "!",  ",", ":",     "-",     "--",    "...",
                                                              ";"};
  std::string line(caption);
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::string out;
  for (const auto& token : ptb_tokenize(line)) {
    if (punctuation.count(token)) continue;
    if (!out.empty()) out += ' ';
    out += token;
  }
  return out;
}

}  // namespace epalm::eval
