// GPT-2's byte-level alphabet and the UTF-8 handling around it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace epalm::text::detail {

// bytes_to_unicode(): every byte maps to one printable code point, so BPE symbols
// never hold spaces or control characters (0x20 -> 'Ġ', 0x0A -> 'Ċ').
// Appends the UTF-8 of each byte's symbol.
void append_byte_symbols(std::string_view bytes, std::string& out);

// The inverse, for decoding: appends the bytes a token string stands for. A token
// holding a character outside the alphabet (an added token such as "<pad>" is
// inside it; others need not be) contributes its own UTF-8 bytes, as the fast
// tokenizer's ByteLevel decoder does.
void append_symbol_bytes(std::string_view token, std::string& out);

// Python's bytes.decode("utf-8", errors="replace"): each maximal ill-formed
// subsequence becomes one U+FFFD.
std::string decode_utf8_lossy(std::string_view bytes);

// Offset of the first byte that is not part of well-formed UTF-8, or npos.
std::size_t find_invalid_utf8(std::string_view text);

// Length of the well-formed UTF-8 sequence starting at text[at], or 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at);

// The code point of the well-formed sequence starting at text[at] (its length in
// `length`), and of the one ending just before text[end] (its start in `start`).
char32_t code_point_at(std::string_view text, std::size_t at, std::size_t& length);
char32_t code_point_before(std::string_view text, std::size_t end, std::size_t& start);

}  // namespace epalm::text::detail
