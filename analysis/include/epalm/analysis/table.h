// A table of text cells and its renderings: aligned text for terminals, CSV,
// Markdown, JSON and LaTeX (booktabs) for tools and papers. Every list and
// comparison prints through it.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace epalm::analysis {

enum class TableFormat { kText, kCsv, kMarkdown, kJson, kLatex };

// "text", "csv", "md"/"markdown", "json", "latex"/"tex"; throws UsageError otherwise.
TableFormat parse_table_format(const std::string& name);
// The format a file name's extension asks for (.csv, .json, .md, .tex, .txt);
// throws UsageError naming `option` for any other.
TableFormat table_format_for_file(const std::string& path, const std::string& option);

class Table {
 public:
  explicit Table(std::vector<std::string> columns);
  // Throws epalm::Error when the row's width differs from the header's.
  void add_row(std::vector<std::string> cells);
  // Marks a cell (best of its column): text appends " *", Markdown bolds,
  // LaTeX \textbf; CSV and JSON keep the text.
  void emphasize(size_t row, size_t column) { emphasized_.insert({row, column}); }
  // A note under the table (text, Markdown, LaTeX; CSV and JSON leave it out).
  void set_footer(std::string footer) { footer_ = std::move(footer); }
  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
  std::string render(TableFormat format) const;

 private:
  std::string cell(size_t row, size_t column, TableFormat format) const;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
  std::set<std::pair<size_t, size_t>> emphasized_;
  std::string footer_;
};

// `value` with `digits` digits after the point ("12.35" for 12.345, 2): how
// measurements print in tables and reports.
std::string fixed(double value, int digits);

// LaTeX for text: the special characters escaped; ±, −, Δ and — as math/dashes.
std::string latex_escape(const std::string& text);

// Writes `text` to `path` ("-" or "": stdout); throws epalm::Error naming the file.
void write_output(const std::string& path, const std::string& text);

}  // namespace epalm::analysis
