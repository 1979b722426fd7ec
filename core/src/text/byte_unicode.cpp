#include "text/byte_unicode.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace epalm::text::detail {

namespace {

void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Bytes '!'..'~', '¡'..'¬', '®'..'ÿ' stand for themselves; the other 68, in
// increasing order, take U+0100 onwards.
struct ByteAlphabet {
  std::array<char32_t, 256> symbol_of{};
  std::array<std::int16_t, 0x144> byte_of{};  // -1: not a symbol

  ByteAlphabet() {
    byte_of.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      symbol_of[b] = printable ? static_cast<char32_t>(b) : next++;
      byte_of[symbol_of[b]] = static_cast<std::int16_t>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

// The UTF-8 of each byte's symbol, precomputed: encoding runs this per byte.
const std::array<std::string, 256>& symbol_utf8() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    for (int b = 0; b < 256; ++b) append_utf8(alphabet().symbol_of[b], t[b]);
    return t;
  }();
  return table;
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Bytes of the well-formed prefix of a sequence starting at text[at] (Unicode's
// "maximal subpart"), and its full length when the lead byte is valid.
std::size_t valid_prefix(std::string_view text, std::size_t at, std::size_t& needed) {
  const auto lead = static_cast<unsigned char>(text[at]);
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead < 0x80) {
    needed = 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    needed = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    needed = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    needed = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    needed = 0;
    return 0;
  }
  std::size_t length = 1;
  while (length < needed && at + length < text.size()) {
    const auto c = static_cast<unsigned char>(text[at + length]);
    const bool ok = length == 1 ? (c >= low && c <= high) : is_continuation(c);
    if (!ok) break;
    ++length;
  }
  return length;
}

}  // namespace

void append_byte_symbols(std::string_view bytes, std::string& out) {
  const auto& table = symbol_utf8();
  for (char c : bytes) out += table[static_cast<unsigned char>(c)];
}

void append_symbol_bytes(std::string_view token, std::string& out) {
  const auto& a = alphabet();
  const std::size_t start = out.size();
  for (std::size_t i = 0; i < token.size();) {
    const auto lead = static_cast<unsigned char>(token[i]);
    char32_t c = lead;
    std::size_t length = 1;
    if (lead >= 0xC0 && lead < 0xE0 && i + 1 < token.size()) {  // every symbol is below U+0800
      c = ((lead & 0x1F) << 6) | (static_cast<unsigned char>(token[i + 1]) & 0x3F);
      length = 2;
    } else if (lead >= 0x80) {
      c = 0xFFFF;  // not a symbol
    }
    if (c >= a.byte_of.size() || a.byte_of[c] < 0) {
      out.resize(start);
      out.append(token);
      return;
    }
    out += static_cast<char>(a.byte_of[c]);
    i += length;
  }
}

std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  std::size_t needed = 0;
  const std::size_t length = valid_prefix(text, at, needed);
  return length == needed ? length : 0;
}

char32_t code_point_at(std::string_view text, std::size_t at, std::size_t& length) {
  length = std::max<std::size_t>(1, utf8_sequence_length(text, at));
  const auto lead = static_cast<unsigned char>(text[at]);
  static constexpr unsigned char kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t c = lead & kLeadMask[length];
  for (std::size_t i = 1; i < length; ++i) c = (c << 6) | (static_cast<unsigned char>(text[at + i]) & 0x3F);
  return c;
}

char32_t code_point_before(std::string_view text, std::size_t end, std::size_t& start) {
  start = end - 1;
  while (start > 0 && end - start < 4 && is_continuation(static_cast<unsigned char>(text[start]))) --start;
  std::size_t length = 0;
  return code_point_at(text, start, length);
}

std::size_t find_invalid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

std::string decode_utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    std::size_t needed = 0;
    const std::size_t length = valid_prefix(bytes, i, needed);
    if (length != 0 && length == needed) {
      out.append(bytes.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD for the maximal ill-formed subpart
      i += length == 0 ? 1 : length;
    }
  }
  return out;
}

}  // namespace epalm::text::detail
