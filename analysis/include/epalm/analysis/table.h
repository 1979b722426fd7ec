// A table of text cells and its renderings: aligned text for terminals, CSV,
// Markdown and JSON for tools. Every report and comparison prints through it.
#pragma once

#include <string>
#include <vector>

namespace epalm::analysis {

enum class TableFormat { kText, kCsv, kMarkdown, kJson };

// "text", "csv", "md"/"markdown", "json"; throws UsageError otherwise.
TableFormat parse_table_format(const std::string& name);

class Table {
 public:
  explicit Table(std::vector<std::string> columns);
  // Throws epalm::Error when the row's width differs from the header's.
  void add_row(std::vector<std::string> cells);
  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
  std::string render(TableFormat format) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace epalm::analysis
