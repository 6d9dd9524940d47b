// A workspace (docs/workspaces.md): an interactive workload with a port
// that allot's gateway serves at /workspaces/<project>/<name>/, Jupyter
// or a command of the user's own.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "wire/json_reader.h"

namespace allot::wire {

struct WorkspaceSpec {
  int32_t port = 0;      // 0: not a workspace
  bool jupyter = false;  // allot starts Jupyter on the port
  // Who may open it besides its owner and the project's admins: the
  // project's members (true, the default) or nobody (private).
  bool shared = true;
  bool IsSet() const { return port > 0; }
  friend bool operator==(const WorkspaceSpec&, const WorkspaceSpec&) = default;
};

// The "workspace" object of a workload: {"port", "jupyter", "access":
// "project"|"private"}. Jupyter without a port gets 8888.
Status ReadWorkspace(JsonReader& reader, WorkspaceSpec& workspace);
void EncodeWorkspace(const WorkspaceSpec& workspace, nlohmann::json& out);

// The gateway path of a workspace, with its trailing slash.
std::string WorkspacePath(const std::string& project, const std::string& name);

}  // namespace allot::wire
