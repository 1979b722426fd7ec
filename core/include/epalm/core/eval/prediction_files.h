// Prediction files in the official submission formats:
//   VQA (EvalAI):  [{"question_id": 1, "answer": "yes"}, ...]
//   COCO captions: [{"image_id": 42, "caption": "a dog"}, ...]
// Image ids that are decimal integers are written as JSON numbers (COCO's),
// any other id (MSR-VTT "video7010", AudioCaps) as a string.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "epalm/core/eval/vqa_accuracy.h"

namespace epalm::eval {

struct CaptionPrediction {
  std::string image_id;
  std::string caption;
};

// Write atomically (a temporary file renamed over `path`); throw epalm::Error
// naming the file when it cannot be written.
void write_vqa_predictions(const std::string& path, const std::vector<VqaPrediction>& predictions);
void write_caption_predictions(const std::string& path, const std::vector<CaptionPrediction>& predictions);

// Read them back (for scoring a file written earlier); throw epalm::Error
// naming the file and the index of the first bad record.
std::vector<VqaPrediction> read_vqa_predictions(const std::string& path);
std::vector<CaptionPrediction> read_caption_predictions(const std::string& path);

}  // namespace epalm::eval
