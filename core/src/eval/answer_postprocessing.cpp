#include "epalm/core/eval/answer_postprocessing.h"

#include "epalm/core/error.h"
#include "python_text.h"

namespace epalm::eval {

namespace {

void erase_all(std::string& text, std::string_view what) {
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at)) text.erase(at, what.size());
}

// Python's text.split(separator)[1].
std::string second_piece(std::string_view text, std::string_view separator, const char* kind) {
  const auto first = text.find(separator);
  if (first == std::string_view::npos) {
    throw Error(std::string(kind) + " text '" + std::string(text) + "'",
                "has no '" + std::string(separator) + "' to take the generated part after");
  }
  const auto start = first + separator.size();
  const auto end = text.find(separator, start);
  return std::string(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

}  // namespace

std::string clean_generated_text(std::string_view text) {
  std::string s(text);
  erase_all(s, "<pad>");
  erase_all(s, "</s>");
  return python_text::strip(s);
}

std::string qa_answer_from_decoded(std::string_view decoded) {
  return clean_generated_text(second_piece(decoded, "</a>", "generated QA"));
}

std::string caption_from_decoded(std::string_view decoded) {
  return clean_generated_text(second_piece(decoded, "</s>", "generated caption"));
}

}  // namespace epalm::eval
