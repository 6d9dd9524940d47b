// allot login | quota get|set | top | nodes | audit.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
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
CLI::App* login_command = nullptr;

CLI::App* quota_get_command = nullptr;
CLI::App* quota_set_command = nullptr;
std::string quota_target;  // "vision", "project/vision" or "department/research"
std::string quota_department;
std::string quota_gpu, quota_cpu, quota_memory, quota_limit_gpu;
int64_t quota_weight = -1;
int64_t quota_priority = -1;
std::string quota_idle_after, quota_idle_action;  // the project's idle rule

CLI::App* top_command = nullptr;
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
  config->token = login_token.empty() ? PromptToken() : login_token;
  if (config->token.empty()) {
    return ReportError("login",
                       Error::Coded("invalid", "no token given: pass --token or type it", "token"));
  }
  auto http = HttpClient::Create(config->server, config->token);
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

std::string Quantity(const json& resources, const char* key) {
  if (!resources.is_object() || !resources.contains(key)) return "-";
  const json& value = resources[key];
  return value.is_string() ? value.get<std::string>() : value.dump();
}

int QuotaGet() {
  Result<Session> session = Connect();
  if (!session) return ReportError("quota get", session.error());
  Result<std::vector<json>> departments = ListAll(*session->http, "/api/v1/departments");
  if (!departments) return ReportError("quota get", departments.error());
  Result<std::vector<json>> projects = ListAll(*session->http, "/api/v1/projects");
  if (!projects) return ReportError("quota get", projects.error());
  OutputFormat format = ParseOutputFormat(output);
  if (format != OutputFormat::kTable) {
    PrintDocument(std::cout, json{{"departments", *departments}, {"projects", *projects}}, format);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  auto row = [&](const json& q, const std::string& name) {
    json limit = q.value("limit", json::object());
    rows.push_back({name, Quantity(q["deserved"], "gpu"), Quantity(limit, "gpu"),
                    Quantity(q["deserved"], "cpu"), Quantity(q["deserved"], "memory"),
                    std::to_string(q.value("over_quota_weight", 1)),
                    std::to_string(q.value("priority", 100))});
  };
  for (const auto& department : *departments) {
    row(department, "department/" + department["name"].get<std::string>());
    for (const auto& project : *projects) {
      if (project["department"] == department["name"])
        row(project, "  " + project["name"].get<std::string>());
    }
  }
  PrintTable(std::cout, {"QUEUE", "GPU", "GPU-LIMIT", "CPU", "MEMORY", "WEIGHT", "PRIORITY"}, rows);
  return 0;
}

int QuotaSet() {
  Result<Session> session = Connect();
  if (!session) return ReportError("quota set", session.error());
  bool is_department = quota_target.rfind("department/", 0) == 0;
  std::string name = quota_target.substr(quota_target.find('/') + 1);
  if (quota_target.find('/') == std::string::npos) name = quota_target;
  if (!is_department && quota_target.find('/') != std::string::npos &&
      quota_target.rfind("project/", 0) != 0) {
    return ReportError("quota set",
                       Error::Coded("invalid",
                                    "'" + quota_target +
                                        "': name a project (vision or project/vision) or a "
                                        "department (department/research)",
                                    "name"));
  }
  std::string base = is_department ? "/api/v1/departments" : "/api/v1/projects";
  Result<json> current = session->http->Call("GET", base + "/" + UrlEncode(name));
  bool create = !current && current.error().code == "not_found";
  if (!current && !create) return ReportError("quota set", current.error());
  json body = create ? json{{"name", name}} : *current;
  body.erase("revision");
  if (create && !is_department) {
    if (quota_department.empty()) {
      return ReportError(
          "quota set",
          Error::Coded("invalid",
                       "project '" + name + "' does not exist: give --department to create it",
                       "department"));
    }
  }
  if (!quota_department.empty()) body["department"] = quota_department;
  json deserved = body.value("deserved", json::object());
  if (!quota_gpu.empty()) deserved["gpu"] = quota_gpu;
  if (!quota_cpu.empty()) deserved["cpu"] = quota_cpu;
  if (!quota_memory.empty()) deserved["memory"] = quota_memory;
  body["deserved"] = deserved;
  if (!quota_limit_gpu.empty()) {
    json limit = body.value("limit", json::object());
    if (quota_limit_gpu == "none") {
      limit.erase("gpu");
    } else {
      limit["gpu"] = quota_limit_gpu;
    }
    if (limit.empty()) {
      body.erase("limit");
    } else {
      body["limit"] = limit;
    }
  }
  if (quota_weight >= 0) body["over_quota_weight"] = quota_weight;
  if (quota_priority >= 0) body["priority"] = quota_priority;
  if (quota_idle_after == "none") {
    body.erase("idle_interactive");
  } else if (!quota_idle_after.empty() || !quota_idle_action.empty()) {
    json rule = body.value("idle_interactive", json::object());
    if (!quota_idle_after.empty()) rule["after"] = quota_idle_after;
    if (!quota_idle_action.empty()) rule["action"] = quota_idle_action;
    body["idle_interactive"] = rule;  // the server names what is missing or wrong
  }
  Result<json> saved = create ? session->http->Call("POST", base, &body)
                              : session->http->Call("PUT", base + "/" + UrlEncode(name), &body);
  if (!saved) return ReportError("quota set", saved.error());
  OutputFormat format = ParseOutputFormat(output);
  if (format != OutputFormat::kTable) {
    PrintDocument(std::cout, *saved, format);
  } else {
    std::cout << (is_department ? "department '" : "project '") << name << "' "
              << (create ? "created" : "updated") << ": deserved gpu "
              << Quantity((*saved)["deserved"], "gpu") << "\n";
  }
  return 0;
}

int Top() {
  Result<Session> session = Connect();
  if (!session) return ReportError("top", session.error());
  Result<json> status = session->http->Call("GET", "/api/v1/cluster");
  if (!status) return ReportError("top", status.error());
  OutputFormat format = ParseOutputFormat(output);
  if (format != OutputFormat::kTable) {
    PrintDocument(std::cout, *status, format);
    return 0;
  }
  const json& s = *status;
  double gpus = s.value("gpus", 0.0);
  double allocated = s.value("gpus_allocated", 0.0);
  std::cout << "GPUs " << FormatGpus(gpus) << ", allocated " << FormatGpus(allocated);
  if (gpus > 0) std::cout << " (" << static_cast<int>(100.0 * allocated / gpus + 0.5) << "%)";
  std::cout << "; nodes " << s.value("nodes", 0) << "; workloads";
  const json by_status = s.value("workloads", json::object());
  for (const auto& [state, count] : by_status.items()) {
    std::cout << " " << state << " " << count.get<int64_t>();
  }
  std::cout << "\n\n";
  std::vector<std::vector<std::string>> rows;
  const json queues = s.value("queues", json::array());
  for (const auto& department : queues) {
    if (department["type"] != "department") continue;
    auto row = [&](const json& q, const std::string& name) {
      double deserved = q["deserved"].get<double>();
      double held = q["allocated"].get<double>();
      std::string over = held > deserved ? "+" + FormatGpus(held - deserved) : "-";
      rows.push_back({name, FormatGpus(deserved), FormatGpus(q["fair_share"].get<double>()),
                      FormatGpus(held), over, std::to_string(q["pending"].get<int64_t>())});
    };
    row(department, "department/" + department["name"].get<std::string>());
    for (const auto& project : queues) {
      if (project["type"] == "project" && project["department"] == department["name"]) {
        row(project, "  " + project["name"].get<std::string>());
      }
    }
  }
  PrintTable(std::cout, {"QUEUE", "DESERVED", "FAIR-SHARE", "ALLOCATED", "OVER-QUOTA", "PENDING"},
             rows);
  return 0;
}

int Nodes() {
  Result<Session> session = Connect();
  if (!session) return ReportError("nodes", session.error());
  Result<std::vector<json>> nodes = ListAll(*session->http, "/api/v1/nodes");
  if (!nodes) return ReportError("nodes", nodes.error());
  OutputFormat format = ParseOutputFormat(output);
  if (format != OutputFormat::kTable) {
    PrintDocument(std::cout, json{{"items", *nodes}}, format);
    return 0;
  }
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
  OutputFormat format = ParseOutputFormat(output);
  if (format != OutputFormat::kTable) {
    PrintDocument(std::cout, *created, format);
    return 0;
  }
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
  OutputFormat format = ParseOutputFormat(output);
  if (format != OutputFormat::kTable) {
    PrintDocument(std::cout, *page, format);
    return 0;
  }
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

  auto* quota = app.add_subcommand("quota", "Show or set quotas of projects and departments");
  quota->require_subcommand(1);
  quota_get_command = quota->add_subcommand("get", "Show the quota tree");
  AddOutputOption(quota_get_command, output);
  quota_set_command = quota->add_subcommand(
      "set", "Set a quota: allot quota set vision --gpu 4 | department/research --gpu 8");
  quota_set_command
      ->add_option("name", quota_target, "Project (vision) or department (department/research)")
      ->required();
  quota_set_command->add_option("--department", quota_department,
                                "The project's department (needed to create a project)");
  quota_set_command->add_option("--gpu", quota_gpu, "Deserved GPUs");
  quota_set_command->add_option("--cpu", quota_cpu, "Deserved CPU");
  quota_set_command->add_option("--memory", quota_memory, "Deserved memory, e.g. 512Gi");
  quota_set_command->add_option("--limit-gpu", quota_limit_gpu, "GPU limit, or none");
  quota_set_command->add_option("--weight", quota_weight, "Over-quota weight")
      ->check(CLI::NonNegativeNumber);
  quota_set_command->add_option(
      "--idle-after", quota_idle_after,
      "Projects: act on interactive workloads whose GPUs sat idle this long (30m, 2h), or none");
  quota_set_command->add_option("--idle-action", quota_idle_action,
                                "What --idle-after does: stop (default) or preempt (make it "
                                "preemptible)");
  quota_set_command->add_option("--priority", quota_priority, "Queue priority")
      ->check(CLI::Range(0, 1000));
  AddOutputOption(quota_set_command, output);

  top_command = app.add_subcommand(
      "top", "Cluster and per-queue GPUs: deserved, fair share, allocated, pending");
  AddOutputOption(top_command, output);
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
  if (quota_get_command && *quota_get_command) return QuotaGet();
  if (quota_set_command && *quota_set_command) return QuotaSet();
  if (top_command && *top_command) return Top();
  if (join_token_command && *join_token_command) return JoinToken();
  if (nodes_command && *nodes_command) return Nodes();
  if (audit_command && *audit_command) return Audit();
  return -1;
}

}  // namespace allot::cli
