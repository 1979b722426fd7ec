#include "python_text.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include "epalm/core/error.h"

namespace epalm::eval::python_text {

std::u32string decode(std::string_view text, const char* where) {
  std::u32string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const auto length = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < length;) {
    const int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(s, i, length, c);
    if (c < 0) throw Error(where, "not valid UTF-8 at byte " + std::to_string(start) + ": '" + std::string(text) + "'");
    out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

std::string encode(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t c : text) {
    uint8_t buffer[U8_MAX_LENGTH];
    int32_t n = 0;
    U8_APPEND_UNSAFE(buffer, n, static_cast<UChar32>(c));
    out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(n));
  }
  return out;
}

bool is_space(char32_t c) {
  const auto u = static_cast<UChar32>(c);
  if (u_charType(u) == U_SPACE_SEPARATOR) return true;
  const auto bidi = u_charDirection(u);
  return bidi == U_WHITE_SPACE_NEUTRAL || bidi == U_BLOCK_SEPARATOR || bidi == U_SEGMENT_SEPARATOR;
}

bool is_digit(char32_t c) { return u_charType(static_cast<UChar32>(c)) == U_DECIMAL_DIGIT_NUMBER; }

std::string lower(std::string_view text) {
  bool ascii = true;
  for (const char ch : text) ascii = ascii && static_cast<unsigned char>(ch) < 0x80;
  std::string out(text);
  if (ascii) {  // the common case, without ICU
    for (auto& ch : out) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    return out;
  }
  decode(text, "text to lower-case");  // reject invalid UTF-8 as Python would never see it
  out.clear();
  icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())))
      .toLower(icu::Locale::getRoot())
      .toUTF8String(out);
  return out;
}

std::string strip(std::string_view text) {
  const auto chars = decode(text, "text to strip");
  std::size_t begin = 0, end = chars.size();
  while (begin < end && is_space(chars[begin])) ++begin;
  while (end > begin && is_space(chars[end - 1])) --end;
  return encode(std::u32string_view(chars).substr(begin, end - begin));
}

std::vector<std::string> split(std::string_view text) {
  const auto chars = decode(text, "text to split");
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < chars.size()) {
    while (i < chars.size() && is_space(chars[i])) ++i;
    const auto start = i;
    while (i < chars.size() && !is_space(chars[i])) ++i;
    if (i > start) words.push_back(encode(std::u32string_view(chars).substr(start, i - start)));
  }
  return words;
}

}  // namespace epalm::eval::python_text
