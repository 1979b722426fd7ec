// Python 3 str semantics on UTF-8 text, for metrics whose official code is
// Python: what str.isspace(), re's \d, str.lower() and str.split() mean.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace epalm::eval::python_text {

// Code points of `text`; throws epalm::Error(where, ...) on invalid UTF-8.
std::u32string decode(std::string_view text, const char* where);
std::string encode(std::u32string_view text);

bool is_space(char32_t c);  // str.isspace(): bidi class WS, B or S, or category Zs
bool is_digit(char32_t c);  // re's \d on str: category Nd

std::string lower(std::string_view text);  // str.lower(): full Unicode lower-casing
std::string strip(std::string_view text);  // str.strip()
std::vector<std::string> split(std::string_view text);  // str.split()

}  // namespace epalm::eval::python_text
