// Declarative workload specs: `allot submit -f FILE` reads a YAML (or JSON)
// file whose keys are the API's workload fields (docs/api/openapi.json,
// schema Workload), as `kubectl apply -f` users expect. The server checks
// every field; its errors name a field, which is mapped back to the line
// of the file that holds it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace allot::cli {

struct SpecFile {
  std::string path;     // as given ("-": standard input)
  nlohmann::json body;  // the submission: the file's fields less the server's own
  // The line (1-based) of each field, by its API path ("topology.required",
  // "env.HOME", "command[1]").
  std::map<std::string, int> lines;

  // "FILE:LINE: " for `field` or the nearest field above it that the file
  // has; "FILE: " when it has neither.
  std::string Where(const std::string& field) const;
};

// Reads and converts the file. Plain scalars become integers, booleans or
// null where they read as such, and strings otherwise; quoted scalars stay
// strings. The fields the server sets (owner, status, assignments, events,
// ...) are dropped, so that `allot describe NAME -o yaml` submits again.
Result<SpecFile> ReadSpecFile(const std::string& path);

}  // namespace allot::cli
