// `allot workspace create|list|open|stop|start|delete` (docs/workspaces.md):
// interactive workloads with a port that the gateway serves at
// /workspaces/<project>/<name>/.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "cli/client_commands.h"
#include "cli/client_session.h"
#include "cli/output.h"

namespace allot::cli {
namespace {

using nlohmann::json;

struct WorkspaceOptions {
  std::string name;
  std::string project;
  std::string gpu;
  std::string gpu_memory;
  std::string cpu;
  std::string memory;
  std::string image;
  bool jupyter = false;
  int port = 0;
  bool private_access = false;
  bool no_browser = false;
  std::vector<std::string> command;
  std::string output;
};

WorkspaceOptions options;
CLI::App* workspace_command = nullptr;
CLI::App* create_command = nullptr;
CLI::App* list_command = nullptr;
CLI::App* open_command = nullptr;
CLI::App* stop_command = nullptr;
CLI::App* start_command = nullptr;
CLI::App* delete_command = nullptr;

std::string UrlOf(const ClientConfig& config, const json& workload) {
  std::string server = FirstServer(config.server);
  return server + "/workspaces/" + workload.value("project", "") + "/" +
         workload.value("name", "") + "/";
}

int Create(Session& session) {
  const WorkspaceOptions& o = options;
  if (!o.jupyter && o.port == 0) {
    return ReportError("workspace create",
                       Error::Coded("invalid",
                                    "give --jupyter, or --port PORT -- CMD (the port "
                                    "your command listens on)"));
  }
  json body = {{"name", o.name},
               {"project", o.project.empty() ? session.config.project : o.project},
               {"kind", "interactive"},
               {"command", o.command}};
  json workspace = {{"jupyter", o.jupyter}, {"access", o.private_access ? "private" : "project"}};
  if (o.port > 0) workspace["port"] = o.port;
  body["workspace"] = workspace;
  if (!o.gpu.empty()) body["gpu"] = o.gpu;
  if (!o.gpu_memory.empty()) body["gpu_memory"] = o.gpu_memory;
  if (!o.cpu.empty()) body["cpu"] = o.cpu;
  if (!o.memory.empty()) body["memory"] = o.memory;
  if (!o.image.empty()) body["image"] = o.image;
  Result<json> created = session.http->Call("POST", "/api/v1/workloads", &body);
  if (!created) return ReportError("workspace create", created.error());
  if (PrintUnlessTable(std::cout, *created, o.output)) return 0;
  std::cout << "workspace " << o.name << " created: open it with `allot workspace open " << o.name
            << "` (" << UrlOf(session.config, *created) << ")\n";
  return 0;
}

int List(Session& session) {
  std::string path = "/api/v1/workloads";
  if (!options.project.empty()) path += "?project=" + options.project;
  Result<std::vector<json>> items = ListAll(*session.http, path);
  if (!items) return ReportError("workspace list", items.error());
  json workspaces = json::array();
  for (const json& item : *items) {
    if (item.contains("workspace") && item.value("status", "") != "deleted") {
      workspaces.push_back(item);
    }
  }
  if (PrintUnlessTable(std::cout, workspaces, options.output)) return 0;
  std::vector<std::vector<std::string>> rows;
  for (const json& w : workspaces) {
    const json& spec = w["workspace"];
    rows.push_back(
        {w.value("name", ""), w.value("project", ""), w.value("status", ""),
         spec.value("jupyter", false) ? "jupyter" : std::to_string(spec.value("port", 0)),
         w.value("gpu", std::string("0")), w.value("owner", ""), UrlOf(session.config, w)});
  }
  PrintTable(std::cout, {"NAME", "PROJECT", "STATUS", "SERVES", "GPU", "OWNER", "URL"}, rows);
  return 0;
}

int Open(Session& session) {
  Result<json> workload = session.http->Call("GET", "/api/v1/workloads/" + options.name);
  if (!workload) return ReportError("workspace open", workload.error());
  if (!workload->contains("workspace")) {
    return ReportError("workspace open",
                       Error::Coded("invalid", "'" + options.name + "' is not a workspace"));
  }
  std::string url = UrlOf(session.config, *workload);
  std::cout << url << "\n";
  if (workload->value("status", "") != "running") {
    std::cerr << "allot workspace open: " << options.name << " is " << workload->value("status", "")
              << "; it answers once it runs\n";
  }
  // A browser where there is one; it logs in on the page first (the
  // session cookie), then opens the URL.
  if (!options.no_browser && std::getenv("DISPLAY") != nullptr) {
    std::string command = "xdg-open '" + url + "' >/dev/null 2>&1 &";
    if (std::system(command.c_str()) != 0) std::cerr << "allot workspace open: no browser\n";
  }
  return 0;
}

int Action(Session& session, const std::string& verb) {
  Result<json> done =
      verb == "delete"
          ? session.http->Call("DELETE", "/api/v1/workloads/" + options.name)
          : session.http->Call("POST", "/api/v1/workloads/" + options.name + "/" + verb);
  if (!done) return ReportError("workspace " + verb, done.error());
  std::cout << "workspace " << options.name << " "
            << (verb == "stop"    ? "stopped"
                : verb == "start" ? "starting"
                                  : "deleted")
            << "\n";
  return 0;
}

}  // namespace

void AddWorkspaceCommands(CLI::App& app) {
  WorkspaceOptions& o = options;
  workspace_command = app.add_subcommand(
      "workspace", "Workspaces: notebooks and services opened through the server's gateway");
  workspace_command->require_subcommand(1);
  create_command = workspace_command->add_subcommand(
      "create",
      "Create one: allot workspace create NAME [--gpu 0.25] (--jupyter | --port N -- CMD)");
  create_command->add_option("name", o.name, "Workspace name")->required();
  create_command->add_option("--project", o.project, "Project (default: from allot login)");
  create_command->add_option("--gpu", o.gpu, "GPUs: a fraction like 0.25 or whole GPUs");
  create_command->add_option("--gpu-memory", o.gpu_memory, "GPU memory, e.g. 10G");
  create_command->add_option("--cpu", o.cpu, "CPU, e.g. 2 or 500m");
  create_command->add_option("--memory", o.memory, "Memory, e.g. 8Gi");
  create_command->add_option("--image", o.image, "Run in a container of this OCI image");
  auto* jupyter = create_command->add_flag(
      "--jupyter", o.jupyter, "Start Jupyter (Debian's jupyter-notebook, or the image's)");
  auto* port = create_command->add_option("--port", o.port, "The port CMD listens on")
                   ->check(CLI::Range(1, 65535));
  jupyter->excludes(port);
  create_command->add_flag("--private", o.private_access,
                           "Only its owner and the project's admins may open it "
                           "(default: the project's members too)");
  create_command->add_option("command", o.command, "The command, after --");
  AddOutputOption(create_command, o.output);

  list_command = workspace_command->add_subcommand("list", "List workspaces");
  list_command->add_option("--project", o.project, "Only this project's");
  AddOutputOption(list_command, o.output);

  open_command = workspace_command->add_subcommand(
      "open", "Print a workspace's URL (and open a browser where there is one)");
  open_command->add_option("name", o.name, "Workspace name")->required();
  open_command->add_flag("--no-browser", o.no_browser, "Only print the URL");

  stop_command = workspace_command->add_subcommand(
      "stop", "Stop a workspace; its files in the owner's directory stay");
  stop_command->add_option("name", o.name, "Workspace name")->required();
  start_command = workspace_command->add_subcommand("start", "Start a stopped workspace again");
  start_command->add_option("name", o.name, "Workspace name")->required();
  delete_command = workspace_command->add_subcommand("delete", "Delete a workspace");
  delete_command->add_option("name", o.name, "Workspace name")->required();
}

int RunWorkspaceCommands() {
  if (!workspace_command || !*workspace_command) return -1;
  Result<Session> session = Connect();
  if (!session) return ReportError("workspace", session.error());
  if (*create_command) return Create(*session);
  if (*list_command) return List(*session);
  if (*open_command) return Open(*session);
  if (*stop_command) return Action(*session, "stop");
  if (*start_command) return Action(*session, "start");
  if (*delete_command) return Action(*session, "delete");
  return -1;
}

}  // namespace allot::cli
