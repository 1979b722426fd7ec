#include "epalm/analysis/table.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include "epalm/core/error.h"

namespace epalm::analysis {

namespace {

// Display width in code points, so UTF-8 names align in a terminal.
size_t display_width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// RFC 4180: quote cells holding a separator, quote or line break.
std::string csv_cell(const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string markdown_cell(const std::string& cell) {
  std::string out;
  for (char c : cell) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += "<br>";
    else out += c;
  }
  return out;
}

}  // namespace

TableFormat parse_table_format(const std::string& name) {
  if (name == "text") return TableFormat::kText;
  if (name == "csv") return TableFormat::kCsv;
  if (name == "md" || name == "markdown") return TableFormat::kMarkdown;
  if (name == "json") return TableFormat::kJson;
  throw UsageError("--format", "unknown format '" + name + "' (use text, csv, md or json)");
}

Table::Table(std::vector<std::string> columns) : columns_(std::move(columns)) {}

void Table::add_row(std::vector<std::string> cells) {
  if (cells.size() != columns_.size()) {
    throw Error("table", "row has " + std::to_string(cells.size()) + " cells but the table has " +
                             std::to_string(columns_.size()) + " columns");
  }
  rows_.push_back(std::move(cells));
}

std::string Table::render(TableFormat format) const {
  std::ostringstream out;
  switch (format) {
    case TableFormat::kText: {
      std::vector<size_t> widths;
      for (const auto& c : columns_) widths.push_back(display_width(c));
      for (const auto& row : rows_) {
        for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
      }
      auto line = [&](const std::vector<std::string>& cells) {
        std::string text;
        for (size_t i = 0; i < cells.size(); ++i) {
          text += cells[i];
          if (i + 1 < cells.size()) text += std::string(widths[i] - display_width(cells[i]) + 2, ' ');
        }
        out << text << "\n";
      };
      line(columns_);
      std::vector<std::string> rule;
      for (size_t w : widths) rule.push_back(std::string(w, '-'));
      line(rule);
      for (const auto& row : rows_) line(row);
      break;
    }
    case TableFormat::kCsv: {
      auto line = [&](const std::vector<std::string>& cells) {
        for (size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << csv_cell(cells[i]);
        out << "\r\n";
      };
      line(columns_);
      for (const auto& row : rows_) line(row);
      break;
    }
    case TableFormat::kMarkdown: {
      auto line = [&](const std::vector<std::string>& cells) {
        out << "|";
        for (const auto& cell : cells) out << " " << markdown_cell(cell) << " |";
        out << "\n";
      };
      line(columns_);
      out << "|";
      for (size_t i = 0; i < columns_.size(); ++i) out << " --- |";
      out << "\n";
      for (const auto& row : rows_) line(row);
      break;
    }
    case TableFormat::kJson: {
      auto array = nlohmann::json::array();
      for (const auto& row : rows_) {
        nlohmann::json object = nlohmann::json::object();
        for (size_t i = 0; i < row.size(); ++i) object[columns_[i]] = row[i];
        array.push_back(object);
      }
      out << array.dump(2) << "\n";
      break;
    }
  }
  return out.str();
}

}  // namespace epalm::analysis
