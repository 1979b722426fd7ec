// GPT-2's pre-tokenizer: splits text into the pieces BPE sees, with the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
#pragma once

#include <functional>
#include <string_view>

namespace epalm::text::detail {

// Calls `piece` with each match, in order; the matches cover all of `text`, which
// must be well-formed UTF-8.
void pretokenize(std::string_view text, const std::function<void(std::string_view)>& piece);

// Whether the code point is in the White_Space property (what the pattern's \s means).
bool is_white_space(char32_t c);

}  // namespace epalm::text::detail
