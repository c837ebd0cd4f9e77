// Small building blocks of the CLI's output: aligned text tables, CSV fields and JSON values.
// Output is assembled as strings so that every format can be tested without a terminal.
//
//   TextTable table({{"MODEL"}, {"VERSION"}, {"INFER/S", TextTable::kRight}});
//   table.AddRow({"resnet8", "1", "812.5"});
//   std::cout << table.Render();
//
// Stateless functions and plain values; thread-compatible.
#ifndef OCTET_CLIENT_CLI_TEXT_OUTPUT_H_
#define OCTET_CLIENT_CLI_TEXT_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace octet::cli {

class TextTable {
 public:
  enum Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = kLeft;
  };

  explicit TextTable(std::vector<Column> columns);
  // Missing cells are empty; extra cells are an error of the caller and are dropped.
  void AddRow(std::vector<std::string> cells);
  // Columns separated by two spaces, each as wide as its widest cell; no trailing spaces.
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON string literal, quotes included, with ", \ and control characters escaped.
std::string JsonString(absl::string_view s);
// A JSON number ("%.*g" with `digits` significant digits), or null when not finite.
std::string JsonNumber(double value, int digits = 9);
// A CSV field, quoted (RFC 4180) when it holds a comma, quote or line break.
std::string CsvField(absl::string_view s);

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_TEXT_OUTPUT_H_
