// The tokenization the COCO caption metrics run before scoring
// (pycocoevalcap's PTBTokenizer: Stanford CoreNLP 3.4.1 PTBTokenizer with
// -preserveLines -lowerCase, then its punctuation tokens dropped), in C++.
//
//   ptb_tokenize("A man's dog, running.")   -> {"a", "man", "'s", "dog", ",", "running", "."}
//   coco_tokenize("A man's dog, running.")  -> "a man 's dog running"
//
// It follows CoreNLP's rules for English caption text: words with inner
// hyphens, periods, slashes and apostrophes; clitics (n't 's 'm 'd 'll 're 've)
// and cannot/gonna/wanna/gotta/gimme/lemme split; abbreviations and acronyms
// keep their period; numbers keep , . : / between digits; PTB quotes (`` '' ` ')
// and brackets (-LRB- ...; pycocoevalcap's filter misses these once lower-cased,
// and so do we); Unicode dashes, quotes, ellipsis and £/€ normalised; characters
// outside the Basic Multilingual Plane (emoji) dropped. Rarer CoreNLP rules
// (emoticons, SGML entities, "5 1/2" joined by a no-break space, the
// sentence-end lookahead after "A." or a caption-final "No.") are not
// reproduced: see docs/development.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace epalm::eval {

// CoreNLP's tokens of one line of UTF-8 text, lower-cased (Java's toLowerCase).
std::vector<std::string> ptb_tokenize(std::string_view line);

// pycocoevalcap's PTBTokenizer output for one caption: newlines become spaces,
// ptb_tokenize, the punctuation tokens '' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;
// dropped (matched case-sensitively, as pycocoevalcap does), joined by spaces.
std::string coco_tokenize(std::string_view caption);

}  // namespace epalm::eval
