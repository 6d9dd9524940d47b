#include "wire/workspace.h"

namespace allot::wire {

Status ReadWorkspace(JsonReader& reader, WorkspaceSpec& workspace) {
  auto object = reader.Object("workspace");
  if (!object) return object.error();
  if (!*object) return Status::Ok();
  JsonReader inner(**object, "workspace.");
  if (Status s = inner.Int32("port", workspace.port, 1, 65535); !s) return s;
  if (Status s = inner.Bool("jupyter", workspace.jupyter); !s) return s;
  std::string access = "project";
  if (Status s = inner.String("access", access); !s) return s;
  if (access != "project" && access != "private") {
    return Error::Coded("invalid",
                        "workspace.access: '" + access +
                            "': give project (its members may open it) or private (only its "
                            "owner and the project's admins)",
                        "workspace.access");
  }
  workspace.shared = access == "project";
  if (Status s = inner.Finish(); !s) return s;
  if (workspace.port == 0 && workspace.jupyter) workspace.port = 8888;
  if (workspace.port == 0) {
    return Error::Coded("invalid",
                        "workspace.port: give the port the workspace's command listens on "
                        "(1 to 65535), or jupyter: true",
                        "workspace.port");
  }
  return Status::Ok();
}

void EncodeWorkspace(const WorkspaceSpec& workspace, nlohmann::json& out) {
  if (!workspace.IsSet()) return;
  out["workspace"] = {{"port", workspace.port},
                      {"jupyter", workspace.jupyter},
                      {"access", workspace.shared ? "project" : "private"}};
}

std::string WorkspacePath(const std::string& project, const std::string& name) {
  return "/workspaces/" + project + "/" + name + "/";
}

}  // namespace allot::wire
