// METEOR 1.5 as pycocoevalcap runs it: the Meteor jar in -stdio mode
// (`java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm`), one SCORE line per
// image, then one EVAL line. It needs Java and the jar (pycocoevalcap ships it,
// with data/paraphrase-en.gz beside it), so it is found at run time and reported
// as skipped, with the reason, when either is missing (java_tool.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "epalm/core/eval/caption_metrics.h"
#include "epalm/core/eval/java_tool.h"

namespace epalm::eval {

// `jar`: the Meteor jar, or "" for $EPALM_METEOR_JAR. Java: $JAVA, else `java` on PATH.
JavaTool find_meteor(const std::string& jar = "");

// METEOR on tokenized captions (coco_tokenized); nullopt with `tool` unavailable.
// Throws epalm::Error naming the jar when the tool fails or answers unexpectedly.
std::optional<CorpusScores> meteor(const std::vector<CaptionExample>& tokenized, const JavaTool& tool);

}  // namespace epalm::eval
