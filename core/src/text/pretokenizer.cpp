#include "text/pretokenizer.h"

#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>

#include <memory>
#include <string>

#include "epalm/core/error.h"

namespace epalm::text::detail {

namespace {

// HF's pattern, with \s spelled \p{White_Space}: Python's `regex` and the fast
// tokenizer's Oniguruma both mean those 25 code points, while ICU's \s lacks
// U+000B and U+0085 (and PCRE2's adds U+180E).
constexpr const char* kPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|)"
    R"(\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+)";

void check(UErrorCode status, const char* what) {
  if (U_FAILURE(status)) throw Error("tokenizer", std::string(what) + ": ICU error " + u_errorName(status));
}

// Compiled once; a RegexPattern is immutable and shared by every thread's matcher.
const icu::RegexPattern& pattern() {
  static const std::unique_ptr<icu::RegexPattern> compiled = [] {
    UErrorCode status = U_ZERO_ERROR;
    UParseError where;
    std::unique_ptr<icu::RegexPattern> p(
        icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(kPattern), where, status));
    check(status, "compiling the pre-tokenizer pattern");
    return p;
  }();
  return *compiled;
}

struct UTextCloser {
  void operator()(UText* text) const { utext_close(text); }
};

}  // namespace

void pretokenize(std::string_view text, const std::function<void(std::string_view)>& piece) {
  if (text.empty()) return;
  UErrorCode status = U_ZERO_ERROR;
  // Matching over the UTF-8 directly: indexes are byte offsets into `text`.
  std::unique_ptr<UText, UTextCloser> input(
      utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status));
  check(status, "opening the text");
  std::unique_ptr<icu::RegexMatcher> matcher(pattern().matcher(status));
  check(status, "creating a matcher");
  matcher->reset(input.get());
  while (matcher->find(status)) {
    const int64_t start = matcher->start64(status);
    const int64_t end = matcher->end64(status);
    check(status, "matching");
    piece(text.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(end - start)));
  }
  check(status, "matching");
}

bool is_white_space(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE); }

}  // namespace epalm::text::detail
