// COCO caption metrics identical to pycocoevalcap (the coco-caption code the
// eP-ALM reference scores with): BLEU-1..4 ("closest" reference length),
// ROUGE-L (beta 1.2) and CIDEr-D (sigma 6, clipped, x10, IDF from the
// evaluated references), including its quirks (CIDEr-D's length penalty counts
// bigrams; ROUGE-L splits on single spaces). Sums follow Python's and NumPy's
// order, so scores agree to the last bits, not just to 1e-6.
//
// The scorers take captions already tokenized (coco_tokenize in
// ptb_tokenizer.h); caption_scores() tokenizes and runs all three.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace epalm::eval {

struct CaptionExample {
  std::string image_id;                 // for error messages and prediction files
  std::string prediction;               // one caption
  std::vector<std::string> references;  // one or more
};

struct BleuScores {
  std::array<double, 4> corpus{};                   // BLEU-1..4 over the corpus
  std::vector<std::array<double, 4>> per_example;  // pycocoevalcap's per-image BLEU-1..4
};

struct CorpusScores {
  double mean = 0;                 // what pycocoevalcap reports
  std::vector<double> per_example;
};

struct CaptionScores {
  BleuScores bleu;
  CorpusScores rouge_l;
  CorpusScores cider_d;
};

// On tokenized captions (tokens separated by single spaces). Throw
// epalm::Error naming the image for an example without references, or no examples.
BleuScores bleu(const std::vector<CaptionExample>& tokenized);
CorpusScores rouge_l(const std::vector<CaptionExample>& tokenized);
CorpusScores cider_d(const std::vector<CaptionExample>& tokenized);

// coco_tokenize() every prediction and reference, then the three scorers.
std::vector<CaptionExample> coco_tokenized(const std::vector<CaptionExample>& raw);
CaptionScores caption_scores(const std::vector<CaptionExample>& raw);

}  // namespace epalm::eval
