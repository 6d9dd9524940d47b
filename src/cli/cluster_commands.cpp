// allot login | nodes | audit.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/client_commands.h"
#include "cli/client_session.h"
#include "cli/output.h"

namespace allot::cli {
namespace {

using nlohmann::json;

std::string output = "table";

std::string login_server;
std::string login_token;
std::string login_project;
std::string login_ca;
CLI::App* login_command = nullptr;

CLI::App* nodes_command = nullptr;
CLI::App* join_token_command = nullptr;
int64_t join_uses = 1;
int64_t join_expires_s = 3600;
std::string join_pool;

CLI::App* audit_command = nullptr;
std::string audit_actor;
int64_t audit_limit = 50;
bool audit_export = false;

// Reads a token from the terminal without echoing it.
std::string PromptToken() {
  termios saved{};
  bool terminal = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
  if (terminal) {
    std::cerr << "Token: " << std::flush;
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string token;
  std::getline(std::cin, token);
  if (terminal) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

int Login() {
  Result<ClientConfig> config = LoadClientConfig();
  if (!config) return ReportError("login", config.error());
  if (!login_server.empty()) config->server = login_server;
  if (!login_project.empty()) config->project = login_project;
  if (!login_ca.empty()) config->ca = std::filesystem::absolute(login_ca).string();
  config->token = login_token.empty() ? PromptToken() : login_token;
  if (config->token.empty()) {
    return ReportError("login",
                       Error::Coded("invalid", "no token given: pass --token or type it", "token"));
  }
  auto http = HttpClient::Create(config->server, config->token, config->ca);
  if (!http) return ReportError("login", http.error());
  Result<json> me = (*http)->Call("GET", "/api/v1/whoami");
  if (!me) return ReportError("login", me.error());
  if (Status saved = SaveClientConfig(*config); !saved) return ReportError("login", saved.error());
  std::string roles;
  for (const auto& role : (*me)["roles"]) {
    std::string where = role.value("project", role.value("department", ""));
    roles += (roles.empty() ? "" : ", ") + role["role"].get<std::string>() +
             (where.empty() ? "" : " in " + where);
  }
  std::cout << "logged in to " << config->server << " as " << (*me)["name"].get<std::string>()
            << (roles.empty() ? "" : " (" + roles + ")") << "; default project " << config->project
            << "; saved in " << ClientConfigPath() << "\n";
  return 0;
}

int Nodes() {
  Result<Session> session = Connect();
  if (!session) return ReportError("nodes", session.error());
  Result<std::vector<json>> nodes = ListAll(*session->http, "/api/v1/nodes");
  if (!nodes) return ReportError("nodes", nodes.error());
  if (PrintUnlessTable(std::cout, json{{"items", *nodes}}, output)) return 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& node : *nodes) {
    std::map<std::string, int> models;
    for (const auto& gpu : node["gpus"]) ++models[gpu["model"].get<std::string>()];
    std::string gpus;
    for (const auto& [model, count] : models) {
      gpus += (gpus.empty() ? "" : ", ") + std::to_string(count) + "x" + model;
    }
    rows.push_back({node["name"],
                    node.value("pool", "").empty() ? "-" : node["pool"].get<std::string>(),
                    gpus.empty() ? "-" : gpus, node["cpu"], node["memory"], node["state"],
                    node.value("simulated", false) ? "yes" : "no"});
  }
  PrintTable(std::cout, {"NAME", "POOL", "GPUS", "CPU", "MEMORY", "STATE", "SIMULATED"}, rows);
  return 0;
}

int JoinToken() {
  Result<Session> session = Connect();
  if (!session) return ReportError("nodes join-token", session.error());
  json body = {{"uses", join_uses}, {"expires_in_s", join_expires_s}};
  if (!join_pool.empty()) body["pool"] = join_pool;
  Result<json> created = session->http->Call("POST", "/api/v1/join-tokens", &body);
  if (!created) return ReportError("nodes join-token", created.error());
  if (PrintUnlessTable(std::cout, *created, output)) return 0;
  std::cout << (*created)["token"].get<std::string>() << "\n";
  std::cerr << "join token for " << join_uses << " agent" << (join_uses == 1 ? "" : "s")
            << (join_expires_s > 0 ? ", valid " + std::to_string(join_expires_s) + " s" : "")
            << " (shown once): on each node run\n  allot agent --server " << session->config.server
            << " --join-token <token>\n";
  return 0;
}

int Audit() {
  Result<Session> session = Connect();
  if (!session) return ReportError("audit", session.error());
  std::string filter = audit_actor.empty() ? "" : "&actor=" + UrlEncode(audit_actor);
  if (audit_export) {
    // Every entry, as JSON lines, page by page.
    int64_t after = 0;
    for (;;) {
      Result<HttpReply> page = session->http->GetRaw(
          "/api/v1/audit?format=jsonl&limit=10000&after=" + std::to_string(after) + filter);
      if (!page) return ReportError("audit", page.error());
      if (page->status != 200) {
        json error = json::parse(page->body, nullptr, false);
        std::string message =
            error.is_object() ? error["error"].value("message", page->body) : page->body;
        return ReportError("audit", Error::Coded("forbidden", message));
      }
      if (page->body.empty()) return 0;
      std::cout << page->body;
      size_t last_line = page->body.rfind('\n', page->body.size() - 2);
      json last =
          json::parse(page->body.substr(last_line == std::string::npos ? 0 : last_line + 1));
      after = last["id"].get<int64_t>();
    }
  }
  // The latest entries, shown oldest first like a log.
  Result<json> page = session->http->Call(
      "GET", "/api/v1/audit?order=newest&limit=" + std::to_string(audit_limit) + filter);
  if (!page) return ReportError("audit", page.error());
  if (PrintUnlessTable(std::cout, *page, output)) return 0;
  std::vector<std::vector<std::string>> rows;
  int64_t now = NowMs();
  json& items = (*page)["items"];
  std::reverse(items.begin(), items.end());
  for (const auto& e : items) {
    rows.push_back({std::to_string(e["id"].get<int64_t>()), FormatAge(e["time_ms"], now),
                    e["actor"], e["source"], e["method"], e["path"],
                    e["allowed"].get<bool>() ? "yes" : "NO", std::to_string(e["status"].get<int>()),
                    e["detail"]});
  }
  PrintTable(std::cout,
             {"ID", "AGE", "ACTOR", "SOURCE", "METHOD", "PATH", "ALLOWED", "STATUS", "DETAIL"},
             rows);
  return 0;
}

}  // namespace

void AddClusterCommands(CLI::App& app) {
  login_command = app.add_subcommand(
      "login", "Save the server and a token in ~/.config/allot/config (checked first)");
  login_command->add_option("--server", login_server, "Server URL (default http://127.0.0.1:7070)");
  login_command->add_option("--token", login_token, "Token (default: asked for on the terminal)");
  login_command->add_option("--project", login_project, "Default project for submit");
  login_command->add_option("--ca", login_ca,
                            "The CA (PEM) that an https server's certificate chains to "
                            "(default: the system's store)");

  nodes_command = app.add_subcommand("nodes", "List nodes and their GPUs");
  AddOutputOption(nodes_command, output);
  join_token_command = nodes_command->add_subcommand(
      "join-token", "Create a token with which agents join the cluster (admins)");
  join_token_command->add_option("--uses", join_uses, "Agents it admits (default 1)")
      ->check(CLI::Range(1, 100000));
  join_token_command
      ->add_option("--expires-in", join_expires_s,
                   "Seconds it stays valid (default 3600; 0: never)")
      ->check(CLI::NonNegativeNumber);
  join_token_command->add_option("--pool", join_pool, "Node pool forced on the nodes it admits");
  AddOutputOption(join_token_command, output);

  audit_command = app.add_subcommand("audit", "Show the audit log (admins)");
  audit_command->add_option("--actor", audit_actor, "Only this user's requests");
  audit_command
      ->add_option("--limit", audit_limit, "The latest entries to show (1-10000, default 50)")
      ->check(CLI::Range(1, 10000));
  audit_command->add_flag("--export", audit_export, "Every entry as JSON lines, for archiving");
  AddOutputOption(audit_command, output);
}

int RunClusterCommands() {
  if (login_command && *login_command) return Login();
  if (join_token_command && *join_token_command) return JoinToken();
  if (nodes_command && *nodes_command) return Nodes();
  if (audit_command && *audit_command) return Audit();
  return -1;
}

}  // namespace allot::cli
