// Answer normalisation of the official VQA evaluation (GT-Vision-Lab/VQA
// vqaEval.py), character for character, and the GQA / video-QA variant of the
// eP-ALM reference. Text is UTF-8; "digit", "whitespace" and lower-casing follow
// Python 3's str rules (Unicode), as the official code runs under Python 3.
#pragma once

#include <string>
#include <string_view>

namespace epalm::eval {

// vqaEval.processPunctuation: each of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? !
// is deleted when it stands next to a space anywhere in the input or the input
// holds digit,digit, else replaced by a space; then the first 32 periods not
// followed by a digit are deleted (re.sub's third argument is the count).
std::string process_punctuation(std::string_view text);

// vqaEval.processDigitArticle: lower-case, split on whitespace, number words
// none/zero..ten to digits, drop a/an/the, expand the contraction table, join
// with single spaces.
std::string process_digit_article(std::string_view text);

// A prediction as vqaEval scores it: \n and \t to spaces, strip, then
// process_punctuation and process_digit_article.
std::string normalize_vqa_answer(std::string_view text);

// A ground-truth answer as vqaEval scores it: as annotated, or through
// process_punctuation only when the question's answers are not all identical.
std::string normalize_vqa_ground_truth(std::string_view text, bool answers_differ);

// GQA / MSRVTT-QA / MSVD-QA (reference §5.3): strip, process_punctuation,
// process_digit_article, then every ',' removed. For predictions and labels alike.
std::string normalize_qa_answer(std::string_view text);

}  // namespace epalm::eval
