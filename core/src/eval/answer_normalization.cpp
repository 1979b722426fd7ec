#include "epalm/core/eval/answer_normalization.h"

#include <string>
#include <unordered_map>

#include "python_text.h"

namespace epalm::eval {

namespace {

// vqaEval.py's tables, verbatim (including "somebody'd" -> "somebodyd").
const std::unordered_map<std::string, std::string>& contractions() {
  static const std::unordered_map<std::string, std::string> table = {
      {"aint", "ain't"}, {"arent", "aren't"}, {"cant", "can't"}, {"couldve", "could've"}, {"couldnt", "couldn't"},
      {"couldn'tve", "couldn't've"}, {"couldnt've", "couldn't've"}, {"didnt", "didn't"}, {"doesnt", "doesn't"},
      {"dont", "don't"}, {"hadnt", "hadn't"}, {"hadnt've", "hadn't've"}, {"hadn'tve", "hadn't've"},
      {"hasnt", "hasn't"}, {"havent", "haven't"}, {"hed", "he'd"}, {"hed've", "he'd've"}, {"he'dve", "he'd've"},
      {"hes", "he's"}, {"howd", "how'd"}, {"howll", "how'll"}, {"hows", "how's"}, {"Id've", "I'd've"},
      {"I'dve", "I'd've"}, {"Im", "I'm"}, {"Ive", "I've"}, {"isnt", "isn't"}, {"itd", "it'd"},
      {"itd've", "it'd've"}, {"it'dve", "it'd've"}, {"itll", "it'll"}, {"let's", "let's"}, {"maam", "ma'am"},
      {"mightnt", "mightn't"}, {"mightnt've", "mightn't've"}, {"mightn'tve", "mightn't've"},
      {"mightve", "might've"}, {"mustnt", "mustn't"}, {"mustve", "must've"}, {"neednt", "needn't"},
      {"notve", "not've"}, {"oclock", "o'clock"}, {"oughtnt", "oughtn't"}, {"ow's'at", "'ow's'at"},
      {"'ows'at", "'ow's'at"}, {"'ow'sat", "'ow's'at"}, {"shant", "shan't"}, {"shed've", "she'd've"},
      {"she'dve", "she'd've"}, {"she's", "she's"}, {"shouldve", "should've"}, {"shouldnt", "shouldn't"},
      {"shouldnt've", "shouldn't've"}, {"shouldn'tve", "shouldn't've"}, {"somebody'd", "somebodyd"},
      {"somebodyd've", "somebody'd've"}, {"somebody'dve", "somebody'd've"}, {"somebodyll", "somebody'll"},
      {"somebodys", "somebody's"}, {"someoned", "someone'd"}, {"someoned've", "someone'd've"},
      {"someone'dve", "someone'd've"}, {"someonell", "someone'll"}, {"someones", "someone's"},
      {"somethingd", "something'd"}, {"somethingd've", "something'd've"}, {"something'dve", "something'd've"},
      {"somethingll", "something'll"}, {"thats", "that's"}, {"thered", "there'd"}, {"thered've", "there'd've"},
      {"there'dve", "there'd've"}, {"therere", "there're"}, {"theres", "there's"}, {"theyd", "they'd"},
      {"theyd've", "they'd've"}, {"they'dve", "they'd've"}, {"theyll", "they'll"}, {"theyre", "they're"},
      {"theyve", "they've"}, {"twas", "'twas"}, {"wasnt", "wasn't"}, {"wed've", "we'd've"},
      {"we'dve", "we'd've"}, {"weve", "we've"}, {"werent", "weren't"}, {"whatll", "what'll"},
      {"whatre", "what're"}, {"whats", "what's"}, {"whatve", "what've"}, {"whens", "when's"},
      {"whered", "where'd"}, {"wheres", "where's"}, {"whereve", "where've"}, {"whod", "who'd"},
      {"whod've", "who'd've"}, {"who'dve", "who'd've"}, {"wholl", "who'll"}, {"whos", "who's"},
      {"whove", "who've"}, {"whyll", "why'll"}, {"whyre", "why're"}, {"whys", "why's"}, {"wont", "won't"},
      {"wouldve", "would've"}, {"wouldnt", "wouldn't"}, {"wouldnt've", "wouldn't've"},
      {"wouldn'tve", "wouldn't've"}, {"yall", "y'all"}, {"yall'll", "y'all'll"}, {"y'allll", "y'all'll"},
      {"yall'd've", "y'all'd've"}, {"y'alld've", "y'all'd've"}, {"y'all'dve", "y'all'd've"}, {"youd", "you'd"},
      {"youd've", "you'd've"}, {"you'dve", "you'd've"}, {"youll", "you'll"}, {"youre", "you're"},
      {"youve", "you've"}};
  return table;
}

const std::unordered_map<std::string, std::string>& number_words() {
  static const std::unordered_map<std::string, std::string> table = {
      {"none", "0"}, {"zero", "0"}, {"one", "1"}, {"two", "2"},   {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"},  {"seven", "7"}, {"eight", "8"}, {"nine", "9"},  {"ten", "10"}};
  return table;
}

constexpr char kPunctuation[] = {';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+',
                                 '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'};
constexpr int kPeriodStripCount = 32;  // re.UNICODE passed as re.sub's count

// re.search(r"(\d)(\,)(\d)", text) on Unicode digits.
bool has_digit_comma_digit(const std::u32string& chars) {
  for (std::size_t i = 1; i + 1 < chars.size(); ++i) {
    if (chars[i] == U',' && python_text::is_digit(chars[i - 1]) && python_text::is_digit(chars[i + 1])) return true;
  }
  return false;
}

void replace_all(std::string& text, char from, const std::string& to) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == from) out += to;
    else out += c;
  }
  text.swap(out);
}

std::string tabs_newlines_stripped(std::string_view text) {
  std::string s(text);
  for (auto& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return python_text::strip(s);
}

}  // namespace

std::string process_punctuation(std::string_view text) {
  const auto chars = python_text::decode(text, "answer");
  const bool digit_comma_digit = has_digit_comma_digit(chars);
  std::string out(text);
  for (const char p : kPunctuation) {
    // The official code tests the input, not the text replaced so far.
    const bool next_to_space = text.find(std::string{p, ' '}) != std::string_view::npos ||
                               text.find(std::string{' ', p}) != std::string_view::npos;
    replace_all(out, p, next_to_space || digit_comma_digit ? "" : " ");
  }
  // Periods not followed by a digit, at most kPeriodStripCount of them.
  const auto replaced = python_text::decode(out, "answer");
  std::u32string result;
  result.reserve(replaced.size());
  int removed = 0;
  for (std::size_t i = 0; i < replaced.size(); ++i) {
    if (replaced[i] == U'.' && removed < kPeriodStripCount &&
        !(i + 1 < replaced.size() && python_text::is_digit(replaced[i + 1]))) {
      ++removed;
      continue;
    }
    result.push_back(replaced[i]);
  }
  return python_text::encode(result);
}

std::string process_digit_article(std::string_view text) {
  std::vector<std::string> words;
  for (auto& word : python_text::split(python_text::lower(text))) {
    if (const auto n = number_words().find(word); n != number_words().end()) word = n->second;
    if (word == "a" || word == "an" || word == "the") continue;
    words.push_back(std::move(word));
  }
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto c = contractions().find(words[i]);
    if (i > 0) out += ' ';
    out += c != contractions().end() ? c->second : words[i];
  }
  return out;
}

std::string normalize_vqa_answer(std::string_view text) {
  return process_digit_article(process_punctuation(tabs_newlines_stripped(text)));
}

std::string normalize_vqa_ground_truth(std::string_view text, bool answers_differ) {
  return answers_differ ? process_punctuation(text) : std::string(text);
}

std::string normalize_qa_answer(std::string_view text) {
  // The reference strips but, unlike vqaEval, leaves \n and \t in place.
  auto s = process_digit_article(process_punctuation(python_text::strip(text)));
  replace_all(s, ',', "");
  return s;
}

}  // namespace epalm::eval
