// How client commands print: human tables by default, or the API's JSON
// (`-o json`) or the same as YAML (`-o yaml`) for scripts.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace allot::cli {

enum class OutputFormat { kTable, kJson, kYaml };

// "table", "json" or "yaml"; the valid names for the --output option.
const std::vector<std::string>& OutputFormatNames();
OutputFormat ParseOutputFormat(const std::string& name);

// Columns padded to their widest cell, two spaces apart, headers first.
void PrintTable(std::ostream& out, const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows);

// The document as indented JSON or as YAML.
void PrintDocument(std::ostream& out, const nlohmann::json& document, OutputFormat format);
// Prints `document` when the --output name `format_name` asks for JSON or
// YAML, and says whether it did (a command prints its table otherwise).
bool PrintUnlessTable(std::ostream& out, const nlohmann::json& document,
                      const std::string& format_name);

// A short age: "45s", "12m", "3h", "2d".
std::string FormatAge(int64_t since_ms, int64_t now_ms);
// A GPU count without trailing zeros: 2, 0.5, 1.25.
std::string FormatGpus(double gpus);

}  // namespace allot::cli
