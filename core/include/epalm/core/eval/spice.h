// SPICE 1.0 as pycocoevalcap runs it: the captions written to a JSON file
// ([{image_id, test, refs}], image ids sorted), `java -jar -Xmx8G spice-1.0.jar
// <in> -out <out> -subset -silent` in the jar's directory, and the mean of
// every image's "All" F-score (NaN where SPICE gives none, as float_convert).
// It needs Java, the jar and the Stanford CoreNLP 3.6.0 jars in lib/ beside it
// (pycocoevalcap downloads them on first use), so it is found at run time and
// reported as skipped, with the reason, when any is missing (java_tool.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "epalm/core/eval/caption_metrics.h"
#include "epalm/core/eval/java_tool.h"

namespace epalm::eval {

// `jar`: spice-1.0.jar, or "" for $EPALM_SPICE_JAR.
JavaTool find_spice(const std::string& jar = "");

// SPICE on tokenized captions (coco_tokenized), per example in their order;
// nullopt with `tool` unavailable. `cache_dir` (optional) is SPICE's parse cache.
// Throws epalm::Error naming the jar when the tool fails.
std::optional<CorpusScores> spice(const std::vector<CaptionExample>& tokenized, const JavaTool& tool,
                                  const std::string& cache_dir = "");

// The input file SPICE reads, as pycocoevalcap writes it (images sorted by id);
// throws epalm::Error for an example without references or an image twice.
std::string spice_input(const std::vector<CaptionExample>& tokenized);

// SPICE's output file read back for `examples` (matched by image id); throws
// epalm::Error naming `path` when it is malformed or misses an example.
CorpusScores read_spice_output(const std::string& path, const std::vector<CaptionExample>& examples);

}  // namespace epalm::eval
