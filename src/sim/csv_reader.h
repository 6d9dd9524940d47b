// A reader for the simple CSV files the simulator consumes (the openb trace,
// replay traces): comma separated, a header line, no quoting. Every error
// names the file, the line, the column and what was expected, so that a bad
// row can be fixed without guessing.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace allot::sim {

class CsvReader {
 public:
  // Reads the whole file and its header. `required` columns must all be in
  // the header; other columns are optional (see Has()).
  static Result<CsvReader> Open(const std::string& path, const std::vector<std::string>& required);

  // Advances to the next data row; false at the end of the file. Blank lines
  // are skipped. A row with a different number of fields than the header
  // is an error, reported by the next field access.
  bool Next();

  bool Has(const std::string& column) const { return index_.count(column) > 0; }
  // The header's column names, in file order.
  const std::vector<std::string>& columns() const { return columns_; }
  int line() const { return line_; }
  const std::string& path() const { return path_; }

  // The raw text of a column in the current row ("" when the column is absent).
  Result<std::string> Text(const std::string& column) const;
  // A whole number in [min, max].
  Result<int64_t> Integer(const std::string& column, int64_t min, int64_t max) const;
  // A number (decimal point allowed) in [min, max].
  Result<double> Number(const std::string& column, double min, double max) const;

  // "FILE:LINE: column 'name': " for errors found by the caller.
  std::string Where(const std::string& column) const;

 private:
  std::string path_;
  std::vector<std::string> lines_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::string> columns_;
  size_t header_fields_ = 0;
  size_t next_line_ = 1;  // index into lines_ of the next row to read
  int line_ = 1;          // 1-based line number of the current row
  std::vector<std::string> fields_;
};

// Splits "a,b,,c" into {"a", "b", "", "c"}.
std::vector<std::string> SplitCsvLine(const std::string& line, char separator = ',');

}  // namespace allot::sim
