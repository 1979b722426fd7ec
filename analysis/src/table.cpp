#include "epalm/analysis/table.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
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
  if (name == "latex" || name == "tex") return TableFormat::kLatex;
  throw UsageError("--format", "unknown format '" + name + "' (use text, csv, md, json or latex)");
}

TableFormat table_format_for_file(const std::string& path, const std::string& option) {
  const auto ext = std::filesystem::path(path).extension().string();
  if (ext == ".csv") return TableFormat::kCsv;
  if (ext == ".json") return TableFormat::kJson;
  if (ext == ".md") return TableFormat::kMarkdown;
  if (ext == ".tex") return TableFormat::kLatex;
  if (ext == ".txt") return TableFormat::kText;
  throw UsageError(option, "'" + path + "': the extension picks the format (.csv, .json, .md, .tex or .txt); "
                           "or give --format");
}

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

std::string latex_escape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    auto starts = [&](const char* utf8) { return text.compare(i, std::char_traits<char>::length(utf8), utf8) == 0; };
    if (starts("±")) { out += "$\\pm$"; i += 1; continue; }
    if (starts("−")) { out += "$-$"; i += 2; continue; }
    if (starts("Δ")) { out += "$\\Delta$"; i += 1; continue; }
    if (starts("—")) { out += "---"; i += 2; continue; }
    switch (c) {
      case '\\': out += "\\textbackslash{}"; break;
      case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += std::string("\\") + c; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '<': out += "\\textless{}"; break;
      case '>': out += "\\textgreater{}"; break;
      default: out += c;
    }
  }
  return out;
}

void write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(path, "cannot write the output file");
}

Table::Table(std::vector<std::string> columns) : columns_(std::move(columns)) {}

std::string Table::cell(size_t row, size_t column, TableFormat format) const {
  const auto& text = rows_[row][column];
  if (!emphasized_.count({row, column})) return format == TableFormat::kLatex ? latex_escape(text) : text;
  switch (format) {
    case TableFormat::kText: return text + " *";
    case TableFormat::kMarkdown: return "**" + text + "**";
    case TableFormat::kLatex: return "\\textbf{" + latex_escape(text) + "}";
    default: return text;
  }
}

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
      std::vector<std::vector<std::string>> shown;
      for (size_t r = 0; r < rows_.size(); ++r) {
        shown.emplace_back();
        for (size_t i = 0; i < columns_.size(); ++i) {
          shown.back().push_back(cell(r, i, format));
          widths[i] = std::max(widths[i], display_width(shown.back().back()));
        }
      }
      line(columns_);
      std::vector<std::string> rule;
      for (size_t w : widths) rule.push_back(std::string(w, '-'));
      line(rule);
      for (const auto& row : shown) line(row);
      if (!footer_.empty()) out << "\n" << footer_ << "\n";
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
        for (const auto& text : cells) out << " " << markdown_cell(text) << " |";
        out << "\n";
      };
      line(columns_);
      out << "|";
      for (size_t i = 0; i < columns_.size(); ++i) out << " --- |";
      out << "\n";
      for (size_t r = 0; r < rows_.size(); ++r) {
        std::vector<std::string> row;
        for (size_t i = 0; i < columns_.size(); ++i) row.push_back(cell(r, i, format));
        line(row);
      }
      if (!footer_.empty()) out << "\n" << markdown_cell(footer_) << "\n";
      break;
    }
    case TableFormat::kLatex: {
      // booktabs: \toprule, \midrule, \bottomrule; numbers right-aligned.
      out << "\\begin{tabular}{";
      for (size_t i = 0; i < columns_.size(); ++i) out << (i == 0 ? "l" : "r");
      out << "}\n\\toprule\n";
      for (size_t i = 0; i < columns_.size(); ++i) out << (i ? " & " : "") << latex_escape(columns_[i]);
      out << " \\\\\n\\midrule\n";
      for (size_t r = 0; r < rows_.size(); ++r) {
        for (size_t i = 0; i < columns_.size(); ++i) out << (i ? " & " : "") << cell(r, i, format);
        out << " \\\\\n";
      }
      out << "\\bottomrule\n\\end{tabular}\n";
      if (!footer_.empty()) out << "\n{\\footnotesize " << latex_escape(footer_) << "}\n";
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
