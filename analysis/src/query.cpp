#include "epalm/analysis/query.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/registry/hashing.h"

namespace epalm::analysis {

namespace {

std::optional<double> number_of(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || std::isnan(v)) return std::nullopt;
  return v;
}

const std::vector<std::string>& run_columns() {
  static const std::vector<std::string> names = {"id",   "experiment",  "sweep",     "cell",    "status",  "seed",
                                                 "host", "config_hash", "exit_code", "started", "ended",   "duration",
                                                 "error", "world_size"};
  return names;
}

const std::vector<std::string>& summaries() {
  static const std::vector<std::string> names = {"last", "min", "max", "best", "n", "last_step", "best_step"};
  return names;
}

}  // namespace

std::optional<double> Value::as_number() const {
  if (kind == Kind::kNumber) return number;
  if (kind == Kind::kText) return number_of(text);
  return std::nullopt;
}

std::string Value::display() const {
  if (kind == Kind::kText) return text;
  if (kind == Kind::kMissing) return "";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", number);
  return buffer;
}

std::optional<double> parse_utc_time(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &used);
  if (n < 3) return std::nullopt;
  std::string rest = text.substr(static_cast<size_t>(used));
  if (!rest.empty()) {
    if (rest[0] != ' ' && rest[0] != 'T') return std::nullopt;
    int more = 0;
    const int m = std::sscanf(rest.c_str() + 1, "%2d:%2d%n:%2d%n", &h, &mi, &more, &s, &more);
    if (m < 2 || static_cast<size_t>(more) + 1 != rest.size()) return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<double>(timegm(&tm));
}

void FieldNeeds::apply(RunSelection& selection) const {
  if (!all_params) selection.params = std::vector<std::string>(params.begin(), params.end());
  selection.metrics = std::vector<std::string>(metrics.begin(), metrics.end());
  selection.scores = std::vector<std::string>(scores.begin(), scores.end());
  selection.run_details = selection.run_details || run_details;
}

// --- fields ---------------------------------------------------------------------

Field Field::parse(const std::string& name, const std::string& option) {
  Field f;
  f.name_ = name;
  auto after = [&](const std::string& prefix) { return name.substr(prefix.size()); };
  if (name.rfind("param.", 0) == 0 && name.size() > 6) {
    f.kind_ = Kind::kParam;
    f.key_ = after("param.");
  } else if (name.rfind("metric.", 0) == 0) {
    const auto rest = after("metric.");
    const auto dot = rest.rfind('.');
    const auto summary = dot == std::string::npos ? std::string() : rest.substr(dot + 1);
    if (dot == std::string::npos || dot == 0 ||
        std::find(summaries().begin(), summaries().end(), summary) == summaries().end()) {
      throw UsageError(option, "'" + name + "': a metric field is metric.KEY.SUMMARY, SUMMARY one of last, min, "
                               "max, best, n, last_step, best_step");
    }
    f.kind_ = Kind::kMetric;
    f.key_ = rest.substr(0, dot);
    f.part_ = summary;
  } else if (name.rfind("score.", 0) == 0) {
    const auto rest = after("score.");
    const auto dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size()) {
      throw UsageError(option, "'" + name + "': a score field is score.SPLIT.METRIC (score.val.vqa_accuracy)");
    }
    f.kind_ = Kind::kScore;
    f.key_ = rest;
  } else if (name.rfind("tag.", 0) == 0 && name.size() > 4) {
    f.kind_ = Kind::kTag;
    f.key_ = after("tag.");
  } else if (std::find(run_columns().begin(), run_columns().end(), name) != run_columns().end()) {
    f.kind_ = Kind::kRun;
    f.key_ = name;
  } else {
    if (name.empty()) throw UsageError(option, "an empty field name");
    f.kind_ = Kind::kParam;
    f.key_ = name;
  }
  return f;
}

bool Field::is_time() const { return kind_ == Kind::kRun && (key_ == "started" || key_ == "ended"); }

bool Field::lower_is_better(const RunRecord& run) const {
  const auto it = run.metrics.find(key_);
  return it == run.metrics.end() || it->second.lower_is_better;
}

void Field::add_needs(FieldNeeds& needs) const {
  switch (kind_) {
    case Kind::kParam: needs.params.insert(key_); break;
    case Kind::kMetric: needs.metrics.insert(key_); break;
    case Kind::kScore: needs.scores.insert(key_); break;
    case Kind::kRun:
      if (key_ != "id" && key_ != "status" && key_ != "started" && key_ != "seed") needs.run_details = true;
      break;
    default: break;
  }
}

Value Field::get(const RunRecord& run) const {
  switch (kind_) {
    case Kind::kParam: {
      const auto it = run.params.find(key_);
      return it == run.params.end() ? Value::missing() : Value::of(it->second);
    }
    case Kind::kMetric: {
      const auto it = run.metrics.find(key_);
      if (it == run.metrics.end()) return Value::missing();
      const auto& m = it->second;
      if (part_ == "last") return Value::of(m.last);
      if (part_ == "min") return Value::of(m.min);
      if (part_ == "max") return Value::of(m.max);
      if (part_ == "best") return Value::of(m.best);
      if (part_ == "n") return Value::of(static_cast<double>(m.n));
      if (part_ == "last_step") return Value::of(static_cast<double>(m.last_step));
      return Value::of(static_cast<double>(m.best_step));
    }
    case Kind::kScore: {
      const auto it = run.scores.find(key_);
      return it == run.scores.end() ? Value::missing() : Value::of(it->second);
    }
    case Kind::kTag: {
      const auto it = run.tags.find(key_);
      return it == run.tags.end() ? Value::missing() : Value::of(it->second);
    }
    case Kind::kRun: {
      const auto& r = run.run;
      if (key_ == "id") return Value::of(r.id);
      if (key_ == "experiment") return Value::of(r.experiment);
      if (key_ == "sweep") return r.sweep ? Value::of(*r.sweep) : Value::missing();
      if (key_ == "cell") return r.cell_index ? Value::of(static_cast<double>(*r.cell_index)) : Value::missing();
      if (key_ == "status") return Value::of(r.status);
      if (key_ == "seed") return r.seed ? Value::of(static_cast<double>(*r.seed)) : Value::missing();
      if (key_ == "host") return Value::of(r.host);
      if (key_ == "config_hash") return Value::of(r.config_hash);
      if (key_ == "exit_code") return r.exit_code ? Value::of(static_cast<double>(*r.exit_code)) : Value::missing();
      if (key_ == "started") return Value::of(r.started);
      if (key_ == "ended") return r.ended ? Value::of(*r.ended) : Value::missing();
      if (key_ == "world_size") return Value::of(static_cast<double>(run.world_size));
      if (key_ == "duration") return Value::of((r.ended ? *r.ended : r.heartbeat) - r.started);
      return Value::of(r.error);
    }
  }
  return Value::missing();
}

// --- the expression language -----------------------------------------------------

namespace {

struct Token {
  enum class Kind { kIdent, kNumber, kString, kOp, kLParen, kRParen, kAnd, kOr, kNot, kTrue, kFalse, kEnd };
  Kind kind;
  std::string text;
  size_t pos;
};

std::string describe(const Token& t) {
  if (t.kind == Token::Kind::kEnd) return "the end";
  return "'" + t.text + "'";
}

class Parser;

}  // namespace

struct Query::Node {
  enum class Kind { kAnd, kOr, kNot, kCompare, kTruth };
  Kind kind = Kind::kTruth;
  std::unique_ptr<Node> left, right;
  // kCompare / kTruth: operands are fields or constants.
  struct Operand {
    std::optional<Field> field;
    Value constant;
    Value get(const RunRecord& run) const { return field ? field->get(run) : constant; }
  };
  Operand a, b;
  std::string op;

  bool eval(const RunRecord& run) const;
};

namespace {

bool truthy(const Value& v) {
  if (v.kind == Value::Kind::kMissing) return false;
  if (v.kind == Value::Kind::kNumber) return v.number != 0;
  return !(v.text.empty() || v.text == "false" || v.text == "0");
}

bool compare(const Value& x, const std::string& op, const Value& y) {
  if (x.is_missing() || y.is_missing()) return op == "!=";
  if (op == "~") return x.display().find(y.display()) != std::string::npos;
  const auto nx = x.as_number(), ny = y.as_number();
  int order = 0;
  if (nx && ny) {
    order = *nx < *ny ? -1 : (*nx > *ny ? 1 : 0);
  } else {
    const auto cx = registry::canonical_value(x.display()), cy = registry::canonical_value(y.display());
    order = cx < cy ? -1 : (cx > cy ? 1 : 0);
  }
  if (op == "=" || op == "==") return order == 0;
  if (op == "!=") return order != 0;
  if (op == "<") return order < 0;
  if (op == "<=") return order <= 0;
  if (op == ">") return order > 0;
  return order >= 0;
}

}  // namespace

bool Query::Node::eval(const RunRecord& run) const {
  switch (kind) {
    case Kind::kAnd: return left->eval(run) && right->eval(run);
    case Kind::kOr: return left->eval(run) || right->eval(run);
    case Kind::kNot: return !left->eval(run);
    case Kind::kTruth: {
      const auto v = a.get(run);
      return a.field && a.field->is_tag() ? !v.is_missing() : truthy(v);  // a tag alone: it is there
    }
    case Kind::kCompare: return compare(a.get(run), op, b.get(run));
  }
  return false;
}

namespace {

class Parser {
 public:
  Parser(const std::string& text, const std::string& option) : text_(text), option_(option) { tokenize(); }

  std::unique_ptr<Query::Node> parse() {
    auto node = expr();
    if (peek().kind != Token::Kind::kEnd) fail(peek(), "expected 'and', 'or' or the end, found " + describe(peek()));
    return node;
  }

 private:
  [[noreturn]] void fail(size_t pos, const std::string& what) const {
    std::string caret(pos, ' ');
    throw UsageError(option_, what + " (character " + std::to_string(pos + 1) + ")\n  " + text_ + "\n  " + caret + "^");
  }
  [[noreturn]] void fail(const Token& t, const std::string& what) const { fail(t.pos, what); }

  static bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
  static bool ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':';
  }

  void tokenize() {
    size_t i = 0;
    const auto& s = text_;
    while (i < s.size()) {
      const char c = s[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      const size_t start = i;
      if (ident_start(c)) {
        while (i < s.size() && ident_char(s[i])) ++i;
        // A trailing '-' or '.' belongs to what follows ("a-" is not a name).
        while (i > start + 1 && (s[i - 1] == '-' || s[i - 1] == '.')) --i;
        const auto word = s.substr(start, i - start);
        Token::Kind kind = Token::Kind::kIdent;
        if (word == "and") kind = Token::Kind::kAnd;
        else if (word == "or") kind = Token::Kind::kOr;
        else if (word == "not") kind = Token::Kind::kNot;
        else if (word == "true") kind = Token::Kind::kTrue;
        else if (word == "false") kind = Token::Kind::kFalse;
        tokens_.push_back({kind, word, start});
      } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
                 ((c == '-' || c == '+') && i + 1 < s.size() &&
                  (std::isdigit(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '.'))) {
        ++i;
        while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                                ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E')))) {
          ++i;
        }
        const auto word = s.substr(start, i - start);
        if (!number_of(word)) fail(start, "'" + word + "' is not a number");
        tokens_.push_back({Token::Kind::kNumber, word, start});
      } else if (c == '\'' || c == '"') {
        ++i;
        std::string value;
        while (i < s.size() && s[i] != c) value += s[i++];
        if (i >= s.size()) fail(start, "this quote is never closed");
        ++i;
        tokens_.push_back({Token::Kind::kString, value, start});
      } else if (c == '(' || c == ')') {
        tokens_.push_back({c == '(' ? Token::Kind::kLParen : Token::Kind::kRParen, std::string(1, c), start});
        ++i;
      } else if (s.compare(i, 2, "&&") == 0) {
        tokens_.push_back({Token::Kind::kAnd, "&&", start});
        i += 2;
      } else if (s.compare(i, 2, "||") == 0) {
        tokens_.push_back({Token::Kind::kOr, "||", start});
        i += 2;
      } else if (s.compare(i, 2, "==") == 0 || s.compare(i, 2, "!=") == 0 || s.compare(i, 2, "<=") == 0 ||
                 s.compare(i, 2, ">=") == 0) {
        tokens_.push_back({Token::Kind::kOp, s.substr(i, 2), start});
        i += 2;
      } else if (c == '!') {
        tokens_.push_back({Token::Kind::kNot, "!", start});
        ++i;
      } else if (c == '=' || c == '<' || c == '>' || c == '~') {
        tokens_.push_back({Token::Kind::kOp, std::string(1, c), start});
        ++i;
      } else {
        fail(start, std::string("unexpected character '") + c + "'");
      }
    }
    tokens_.push_back({Token::Kind::kEnd, "", text_.size()});
  }

  const Token& peek() const { return tokens_[next_]; }
  const Token& take() { return tokens_[next_++]; }

  std::unique_ptr<Query::Node> binary(Query::Node::Kind kind, std::unique_ptr<Query::Node> l, std::unique_ptr<Query::Node> r) {
    auto n = std::make_unique<Query::Node>();
    n->kind = kind;
    n->left = std::move(l);
    n->right = std::move(r);
    return n;
  }

  std::unique_ptr<Query::Node> expr() {
    auto left = term();
    while (peek().kind == Token::Kind::kOr) {
      take();
      left = binary(Query::Node::Kind::kOr, std::move(left), term());
    }
    return left;
  }

  std::unique_ptr<Query::Node> term() {
    auto left = factor();
    while (peek().kind == Token::Kind::kAnd) {
      take();
      left = binary(Query::Node::Kind::kAnd, std::move(left), factor());
    }
    return left;
  }

  std::unique_ptr<Query::Node> factor() {
    const auto& t = peek();
    if (t.kind == Token::Kind::kNot) {
      take();
      auto n = std::make_unique<Query::Node>();
      n->kind = Query::Node::Kind::kNot;
      n->left = factor();
      return n;
    }
    if (t.kind == Token::Kind::kLParen) {
      take();
      auto inner = expr();
      if (peek().kind != Token::Kind::kRParen) fail(peek(), "expected ')' to close the '(' at character " +
                                                                std::to_string(t.pos + 1) + ", found " + describe(peek()));
      take();
      return inner;
    }
    auto n = std::make_unique<Query::Node>();
    const Token first = t;
    n->a = operand("a field or a value");
    if (peek().kind != Token::Kind::kOp) {
      if (!n->a.field) fail(first, "a value alone is no condition: compare it with a field");
      n->kind = Query::Node::Kind::kTruth;
      return n;
    }
    n->kind = Query::Node::Kind::kCompare;
    const Token op = take();
    n->op = op.text;
    const Token second = peek();
    n->b = operand("a value after '" + op.text + "'");
    // A bare word right of an operator is text (`task = vqa`); param.NAME
    // compares with another setting.
    auto prefixed = [](const std::string& w) {
      for (const char* p : {"param.", "metric.", "score.", "tag."}) {
        if (w.rfind(p, 0) == 0) return true;
      }
      return std::find(run_columns().begin(), run_columns().end(), w) != run_columns().end();
    };
    if (second.kind == Token::Kind::kIdent && !prefixed(second.text)) {
      n->b.field.reset();
      n->b.constant = Value::of(second.text);
    }
    // A time field against quoted text: the text is a UTC time.
    auto as_time = [&](const Query::Node::Operand& field, Query::Node::Operand& other, const Token& at) {
      if (!field.field || !field.field->is_time() || other.field || other.constant.kind != Value::Kind::kText) return;
      const auto when = parse_utc_time(other.constant.text);
      if (!when) fail(at, "'" + other.constant.text + "' is not a UTC time (YYYY-MM-DD or 'YYYY-MM-DD HH:MM[:SS]')");
      other.constant = Value::of(*when);
    };
    as_time(n->a, n->b, second);
    as_time(n->b, n->a, first);
    return n;
  }

  Query::Node::Operand operand(const std::string& expected) {
    const auto& t = peek();
    Query::Node::Operand o;
    switch (t.kind) {
      case Token::Kind::kIdent:
        try {
          o.field = Field::parse(t.text, option_);
        } catch (const UsageError& e) {
          fail(t, e.reason());
        }
        break;
      case Token::Kind::kNumber: o.constant = Value::of(*number_of(t.text)); break;
      case Token::Kind::kString: o.constant = Value::of(t.text); break;
      case Token::Kind::kTrue: o.constant = Value::of(std::string("true")); break;
      case Token::Kind::kFalse: o.constant = Value::of(std::string("false")); break;
      default: fail(t, "expected " + expected + ", found " + describe(t));
    }
    take();
    return o;
  }

  std::string text_, option_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
};

void collect(const Query::Node* n, FieldNeeds& needs) {
  if (n == nullptr) return;
  if (n->a.field) n->a.field->add_needs(needs);
  if (n->b.field) n->b.field->add_needs(needs);
  collect(n->left.get(), needs);
  collect(n->right.get(), needs);
}

}  // namespace

Query::Query() = default;
Query::~Query() = default;
Query::Query(Query&&) noexcept = default;
Query& Query::operator=(Query&&) noexcept = default;

Query Query::parse(const std::string& text, const std::string& option) {
  Query q;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return q;
  q.root_ = Parser(text, option).parse();
  return q;
}

bool Query::matches(const RunRecord& run) const { return root_ == nullptr || root_->eval(run); }

void Query::add_needs(FieldNeeds& needs) const { collect(root_.get(), needs); }

void keep_matching(std::vector<RunRecord>& runs, const Query& query) {
  runs.erase(std::remove_if(runs.begin(), runs.end(), [&](const RunRecord& r) { return !query.matches(r); }), runs.end());
}

std::vector<SortKey> parse_sort(const std::vector<std::string>& keys, const std::string& option) {
  std::vector<SortKey> out;
  for (const auto& k : keys) {
    const bool descending = !k.empty() && k[0] == '-';
    out.push_back({Field::parse(descending ? k.substr(1) : k, option), descending});
  }
  return out;
}

void sort_runs(std::vector<RunRecord>& runs, const std::vector<SortKey>& keys) {
  if (keys.empty()) return;
  // Values once per run, not once per comparison.
  std::vector<std::pair<std::vector<Value>, size_t>> order;
  order.reserve(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<Value> values;
    for (const auto& k : keys) values.push_back(k.field.get(runs[i]));
    order.emplace_back(std::move(values), i);
  }
  std::stable_sort(order.begin(), order.end(), [&](const auto& x, const auto& y) {
    for (size_t k = 0; k < keys.size(); ++k) {
      const auto &a = x.first[k], &b = y.first[k];
      if (a.is_missing() || b.is_missing()) {
        if (a.is_missing() != b.is_missing()) return b.is_missing();  // missing last either way
        continue;
      }
      int c = 0;
      const auto na = a.as_number(), nb = b.as_number();
      if (na && nb) c = *na < *nb ? -1 : (*na > *nb ? 1 : 0);
      else c = a.display() < b.display() ? -1 : (a.display() > b.display() ? 1 : 0);
      if (c != 0) return keys[k].descending ? c > 0 : c < 0;
    }
    return false;
  });
  std::vector<RunRecord> sorted;
  sorted.reserve(runs.size());
  for (auto& [values, i] : order) sorted.push_back(std::move(runs[i]));
  runs = std::move(sorted);
}

}  // namespace epalm::analysis
