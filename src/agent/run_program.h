// Runs a helper program (podman, the OCI runtime) to its end and returns
// what it printed: for the shim's container steps, never for tasks.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace allot::agent {

struct ProgramResult {
  int exit_code = -1;  // -1: it could not be started or was killed
  std::string out;     // stdout
  std::string err;     // stderr
  // The last non-empty line of stderr (or stdout), for error messages.
  std::string LastLine() const;
};

// Runs argv[0] (looked up on PATH) with `argv`, stdin from /dev/null.
ProgramResult RunProgram(const std::vector<std::string>& argv);

// The absolute path of `name` on PATH, or "".
std::string FindOnPath(const std::string& name);

}  // namespace allot::agent
