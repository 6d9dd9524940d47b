#include "sim/csv_reader.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace allot::sim {

std::vector<std::string> SplitCsvLine(const std::string& line, char separator) {
  std::vector<std::string> fields;
  std::string field;
  for (char c : line) {
    if (c == separator) {
      fields.push_back(field);
      field.clear();
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  fields.push_back(field);
  return fields;
}

Result<CsvReader> CsvReader::Open(const std::string& path,
                                  const std::vector<std::string>& required) {
  std::ifstream in(path);
  if (!in) return Error(path + ": cannot read the file: check the path and its permissions");
  CsvReader reader;
  reader.path_ = path;
  std::string line;
  while (std::getline(in, line)) reader.lines_.push_back(line);
  if (reader.lines_.empty() || reader.lines_[0].empty()) {
    return Error(path + ":1: the file is empty: it needs a header line naming the columns");
  }
  auto header = SplitCsvLine(reader.lines_[0]);
  reader.header_fields_ = header.size();
  reader.columns_ = header;
  for (size_t i = 0; i < header.size(); ++i) reader.index_[header[i]] = i;
  for (const auto& column : required) {
    if (!reader.Has(column)) {
      std::string all;
      for (const auto& c : required) all.append(all.empty() ? "" : ",").append(c);
      return Error(path + ":1: the header lacks the column '" + column +
                   "': the header must name at least " + all);
    }
  }
  return reader;
}

bool CsvReader::Next() {
  while (next_line_ < lines_.size()) {
    const std::string& text = lines_[next_line_];
    line_ = static_cast<int>(next_line_) + 1;
    ++next_line_;
    if (text.empty() || text == "\r") continue;
    fields_ = SplitCsvLine(text);
    return true;
  }
  return false;
}

std::string CsvReader::Where(const std::string& column) const {
  std::string where = path_ + ":" + std::to_string(line_) + ": column '" + column + "'";
  auto it = index_.find(column);
  if (it != index_.end()) where += " (" + std::to_string(it->second + 1) + ")";
  return where + ": ";
}

Result<std::string> CsvReader::Text(const std::string& column) const {
  auto it = index_.find(column);
  if (it == index_.end()) return std::string();
  if (fields_.size() != header_fields_) {
    return Error(path_ + ":" + std::to_string(line_) + ": the row has " +
                 std::to_string(fields_.size()) + " fields but the header names " +
                 std::to_string(header_fields_) + ": give one value per column");
  }
  return fields_[it->second];
}

Result<int64_t> CsvReader::Integer(const std::string& column, int64_t min, int64_t max) const {
  auto text = Text(column);
  if (!text) return text.error();
  const std::string& s = *text;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return Error(Where(column) + "expected a whole number, got '" + s + "'");
  }
  if (value < min || value > max) {
    return Error(Where(column) + "expected a whole number from " + std::to_string(min) + " to " +
                 std::to_string(max) + ", got " + s);
  }
  return value;
}

Result<double> CsvReader::Number(const std::string& column, double min, double max) const {
  auto text = Text(column);
  if (!text) return text.error();
  const std::string& s = *text;
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    return Error(Where(column) + "expected a number, got '" + s + "'");
  }
  if (value < min || value > max) {
    std::ostringstream range;
    range << "expected a number from " << min << " to " << max << ", got " << s;
    return Error(Where(column) + range.str());
  }
  return value;
}

}  // namespace allot::sim
