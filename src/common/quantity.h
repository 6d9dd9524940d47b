// Parsing quantities (scenario files, API requests, CLI flags): GPUs as a
// number (fractions allowed) to milli-GPU, memory with Ki/Mi/Gi/Ti suffixes
// to MiB, CPU cores (or "500m") to millicores, durations with s/m/h.
// Exact decimal parsing: no floating point.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace allot {

// "0.5" -> 500, "2" -> 2000. At most three decimals.
Result<int64_t> ParseMilli(const std::string& text);
// "80Gi" -> 81920, "512Mi" -> 512; a plain number is bytes (rounded up).
Result<int64_t> ParseMebibytes(const std::string& text);
// "1.5" -> 1500, "500m" -> 500.
Result<int64_t> ParseMillicores(const std::string& text);
// "10m" -> 600000, "1h30m" -> 5400000, "45s"; a plain number is seconds.
Result<int64_t> ParseDurationMs(const std::string& text);
// 1800000 -> "30m", 90000 -> "90s", 1500 -> "1500ms": exact, and read back
// by ParseDurationMs.
std::string FormatDurationMs(int64_t ms);

// The inverse, in the canonical form the API returns: 500 -> "0.5",
// 2000 -> "2"; 81920 -> "80Gi", 1536 -> "1536Mi"; 1500 -> "1.5", 250 -> "250m".
std::string FormatMilli(int64_t milli);
std::string FormatMebibytes(int64_t mib);
std::string FormatMillicores(int64_t millicores);

}  // namespace allot
