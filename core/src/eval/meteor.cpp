#include "epalm/core/eval/meteor.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "epalm/core/child_process.h"
#include "epalm/core/error.h"

namespace epalm::eval {

namespace fs = std::filesystem;

namespace {

// The scorer fed and read line by line, as pycocoevalcap's Popen.
class LineProcess {
 public:
  LineProcess(const std::vector<std::string>& argv, const std::string& cwd, const std::string& where)
      : where_(where), child_(argv, options(cwd), where) {}

  void write_line(const std::string& line) {
    if (!child_.write(line + "\n")) {
      throw Error(where_, "the tool stopped reading its input (did it start? is Java working?)");
    }
  }
  std::string read_line() {
    auto line = child_.read_line();
    if (!line) throw Error(where_, "the tool ended without answering (did it start? is Java working?)");
    return *line;
  }

 private:
  static ChildOptions options(const std::string& cwd) {
    ChildOptions o;
    o.cwd = cwd;
    o.in = o.out = ChildStream::kPipe;
    o.err = ChildStream::kNull;
    return o;
  }
  std::string where_;
  ChildProcess child_;
};

std::string strip(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r\n") + 1 - begin);
}

double parse_score(const std::string& line, const std::string& where) {
  const auto text = strip(line);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) throw Error(where, "expected a score, got '" + line + "'");
  return value;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

}  // namespace

JavaTool find_meteor(const std::string& jar) {
  return find_java_tool("METEOR", jar, "EPALM_METEOR_JAR",
                        "meteor-1.5.jar, e.g. pycocoevalcap's site-packages/pycocoevalcap/meteor/meteor-1.5.jar");
}

std::optional<CorpusScores> meteor(const std::vector<CaptionExample>& tokenized, const JavaTool& tool) {
  if (!tool.available()) return std::nullopt;
  if (tokenized.empty()) throw Error("caption predictions", "there are none to score");
  const auto jar = fs::absolute(tool.jar);
  LineProcess p({tool.java, "-jar", "-Xmx2G", jar.string(), "-", "-", "-stdio", "-l", "en", "-norm"},
                jar.parent_path().string(), jar.string());
  std::string eval_line = "EVAL";
  for (const auto& e : tokenized) {
    if (e.references.empty()) throw Error("captions of image " + e.image_id, "there are no references");
    auto hypothesis = e.prediction;
    replace_all(hypothesis, "|||", "");
    // Python's str.replace('  ', ' '): one pass, non-overlapping
    std::string single;
    for (std::size_t i = 0; i < hypothesis.size(); ++i) {
      if (hypothesis[i] == ' ' && i + 1 < hypothesis.size() && hypothesis[i + 1] == ' ') {
        single += ' ';
        ++i;
      } else {
        single += hypothesis[i];
      }
    }
    std::string line = "SCORE";
    for (const auto& r : e.references) line += " ||| " + r;
    line += " ||| " + single;
    p.write_line(line);
    eval_line += " ||| " + strip(p.read_line());
  }
  p.write_line(eval_line);
  CorpusScores scores;
  for (std::size_t i = 0; i < tokenized.size(); ++i) scores.per_example.push_back(parse_score(p.read_line(), jar));
  scores.mean = parse_score(p.read_line(), jar);
  return scores;
}

}  // namespace epalm::eval
