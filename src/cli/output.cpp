#include "cli/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>

namespace allot::cli {
namespace {

using nlohmann::json;

void EmitYaml(YAML::Emitter& out, const json& value) {
  if (value.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [key, item] : value.items()) {
      out << YAML::Key << key << YAML::Value;
      EmitYaml(out, item);
    }
    out << YAML::EndMap;
  } else if (value.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& item : value) EmitYaml(out, item);
    out << YAML::EndSeq;
  } else if (value.is_string()) {
    // Quoted where YAML would read it as something else ("1", "true").
    const std::string& text = value.get_ref<const std::string&>();
    out << YAML::DoubleQuoted << text;
  } else if (value.is_null()) {
    out << YAML::Null;
  } else {
    out << value.dump();
  }
}

}  // namespace

const std::vector<std::string>& OutputFormatNames() {
  static const std::vector<std::string> names = {"table", "json", "yaml"};
  return names;
}

OutputFormat ParseOutputFormat(const std::string& name) {
  if (name == "json") return OutputFormat::kJson;
  if (name == "yaml") return OutputFormat::kYaml;
  return OutputFormat::kTable;
}

void PrintTable(std::ostream& out, const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(headers.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  };
  measure(headers);
  for (const auto& row : rows) measure(row);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  };
  print(headers);
  for (const auto& row : rows) print(row);
}

void PrintDocument(std::ostream& out, const json& document, OutputFormat format) {
  if (format == OutputFormat::kYaml) {
    YAML::Emitter emitter;
    EmitYaml(emitter, document);
    out << emitter.c_str() << "\n";
    return;
  }
  out << document.dump(2) << "\n";
}

std::string FormatAge(int64_t since_ms, int64_t now_ms) {
  int64_t seconds = std::max<int64_t>(0, (now_ms - since_ms) / 1000);
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

std::string FormatGpus(double gpus) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", gpus);
  std::string out = text;
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

bool PrintUnlessTable(std::ostream& out, const nlohmann::json& document,
                      const std::string& format_name) {
  OutputFormat format = ParseOutputFormat(format_name);
  if (format == OutputFormat::kTable) return false;
  PrintDocument(out, document, format);
  return true;
}

}  // namespace allot::cli
