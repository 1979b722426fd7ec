#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "epalm/analysis/table.h"
#include "epalm/core/error.h"

namespace epalm::analysis {

namespace {
Table sample() {
  Table t({"variant", "score"});
  t.add_row({"ePALM, 6 levels", "54.1"});
  t.add_row({"say \"hi\"\nbye", "a|b"});
  t.add_row({"réseau", "7"});
  return t;
}
}  // namespace

TEST(Table, TextAlignsColumnsByCodePoints) {
  Table t({"a", "b"});
  t.add_row({"réseau", "1"});
  t.add_row({"x", "22"});
  EXPECT_EQ(t.render(TableFormat::kText), "a       b\n------  --\nréseau  1\nx       22\n");
}

TEST(Table, CsvQuotesSeparatorsQuotesAndNewlines) {
  EXPECT_EQ(sample().render(TableFormat::kCsv),
            "variant,score\r\n\"ePALM, 6 levels\",54.1\r\n\"say \"\"hi\"\"\nbye\",a|b\r\nréseau,7\r\n");
}

TEST(Table, MarkdownEscapesPipesAndNewlines) {
  const auto md = sample().render(TableFormat::kMarkdown);
  EXPECT_NE(md.find("| variant | score |\n| --- | --- |\n"), std::string::npos);
  EXPECT_NE(md.find("| say \"hi\"<br>bye | a\\|b |"), std::string::npos);
}

TEST(Table, JsonRoundTripsEveryCell) {
  const auto t = sample();
  const auto parsed = nlohmann::json::parse(t.render(TableFormat::kJson));
  ASSERT_EQ(parsed.size(), t.rows().size());
  for (size_t i = 0; i < t.rows().size(); ++i) {
    EXPECT_EQ(parsed[i]["variant"], t.rows()[i][0]);
    EXPECT_EQ(parsed[i]["score"], t.rows()[i][1]);
  }
}

TEST(Table, RejectsRowsOfTheWrongWidth) {
  Table t({"a", "b"});
  EXPECT_THROW(t.add_row({"1"}), Error);
  EXPECT_THROW(t.add_row({"1", "2", "3"}), Error);
}

TEST(Table, ParsesFormatNames) {
  EXPECT_EQ(parse_table_format("md"), TableFormat::kMarkdown);
  EXPECT_EQ(parse_table_format("json"), TableFormat::kJson);
  EXPECT_THROW(parse_table_format("yaml"), UsageError);
}

}  // namespace epalm::analysis
