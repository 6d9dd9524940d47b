// allot quota get | quota set | top: the quota tree, of any depth.
#include <functional>
#include <iostream>
#include <tuple>

#include "cli/client_commands.h"
#include "cli/client_session.h"
#include "cli/output.h"

namespace allot::cli {
namespace {

using nlohmann::json;

std::string output = "table";

CLI::App* quota_get_command = nullptr;
CLI::App* quota_set_command = nullptr;
CLI::App* top_command = nullptr;

struct QuotaOptions {
  // "vision", "project/vision", "research/vision/detection" (a project in
  // its departments), "department/research" or "department/research/vision".
  std::string target;
  std::string department;
  std::string gpu, cpu, memory, limit_gpu;
  std::vector<std::string> gpu_model_quota;  // H100=4
  std::vector<std::string> gpu_model_limit;  // H100=6
  int64_t weight = -1;
  int64_t priority = -1;
  std::string idle_after, idle_action;  // the project's idle rule
  // What the project's tasks may do on the hosts (admins).
  std::vector<std::string> allow_paths, remove_paths;
  bool allow_root = false, deny_root = false;
  std::string default_uid, default_gid;  // "none" clears
};
QuotaOptions quota;

std::string Quantity(const json& resources, const char* key) {
  if (!resources.is_object() || !resources.contains(key)) return "-";
  const json& value = resources[key];
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// "H100=4 A100=8" from a deserved map's gpu_models.
std::string ModelQuota(const json& deserved) {
  if (!deserved.is_object() || !deserved.contains("gpu_models")) return "-";
  std::string out;
  for (const auto& [model, amount] : deserved["gpu_models"].items()) {
    out += (out.empty() ? "" : " ") + model + "=" +
           (amount.is_string() ? amount.get<std::string>() : amount.dump());
  }
  return out.empty() ? "-" : out;
}

// Visits the quota tree depth first: each department, then the departments
// inside it, then its projects. `parent_of` gives a department's parent,
// `department_of` a project's department; visit(queue, depth, is_project).
void WalkTree(const std::vector<json>& departments, const std::vector<json>& projects,
              const std::function<std::string(const json&)>& parent_of,
              const std::function<std::string(const json&)>& department_of,
              const std::function<void(const json&, int, bool)>& visit) {
  std::function<void(const std::string&, int)> walk = [&](const std::string& parent, int depth) {
    for (const auto& department : departments) {
      if (parent_of(department) != parent) continue;
      visit(department, depth, false);
      std::string name = department["name"];
      walk(name, depth + 1);
      for (const auto& project : projects) {
        if (department_of(project) == name) visit(project, depth + 1, true);
      }
    }
  };
  walk("", 0);
}

std::string TreeName(const json& queue, int depth, bool is_project) {
  return std::string(2 * static_cast<size_t>(depth), ' ') + (is_project ? "" : "department/") +
         queue["name"].get<std::string>();
}

int QuotaGet() {
  Result<Session> session = Connect();
  if (!session) return ReportError("quota get", session.error());
  Result<std::vector<json>> departments = ListAll(*session->http, "/api/v1/departments");
  if (!departments) return ReportError("quota get", departments.error());
  Result<std::vector<json>> projects = ListAll(*session->http, "/api/v1/projects");
  if (!projects) return ReportError("quota get", projects.error());
  if (PrintUnlessTable(std::cout, json{{"departments", *departments}, {"projects", *projects}},
                       output))
    return 0;
  std::vector<std::vector<std::string>> rows;
  WalkTree(
      *departments, *projects, [](const json& d) { return d.value("parent", ""); },
      [](const json& p) { return p.value("department", ""); },
      [&](const json& q, int depth, bool is_project) {
        json limit = q.value("limit", json::object());
        std::string models = ModelQuota(q["deserved"]);
        if (std::string limits = ModelQuota(limit); limits != "-") {
          models = (models == "-" ? "" : models + " ") + "(limit " + limits + ")";
        }
        rows.push_back({TreeName(q, depth, is_project), Quantity(q["deserved"], "gpu"), models,
                        Quantity(limit, "gpu"), Quantity(q["deserved"], "cpu"),
                        Quantity(q["deserved"], "memory"),
                        std::to_string(q.value("over_quota_weight", 1)),
                        std::to_string(q.value("priority", 100))});
      });
  PrintTable(std::cout,
             {"QUEUE", "GPU", "GPU-MODELS", "GPU-LIMIT", "CPU", "MEMORY", "WEIGHT", "PRIORITY"},
             rows);
  return 0;
}

// What `quota set NAME` names: a department or a project, and the
// departments its path puts above it, top first.
struct QuotaTarget {
  bool is_department = false;
  std::string name;
  std::vector<std::string> above;
};

Result<QuotaTarget> ParseTarget(const std::string& text) {
  QuotaTarget target;
  std::string rest = text;
  if (rest.rfind("department/", 0) == 0) {
    target.is_department = true;
    rest = rest.substr(11);
  } else if (rest.rfind("project/", 0) == 0) {
    rest = rest.substr(8);
  }
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t slash = rest.find('/', start);
    parts.push_back(rest.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (const auto& part : parts) {
    if (part.empty()) {
      return Error::Coded("invalid",
                          "'" + text +
                              "': name a project (vision, research/vision/detection) or a "
                              "department (department/research, department/research/vision)",
                          "name");
    }
  }
  target.name = parts.back();
  parts.pop_back();
  target.above = parts;
  return target;
}

// Checks that the departments a path names are where the tree has them:
// `above` (top first) must be the department `parent` and its ancestors.
Status CheckPath(HttpClient& http, const std::string& parent, const std::vector<std::string>& above,
                 const std::string& text) {
  std::vector<std::string> chain;  // nearest first
  for (std::string at = parent; !at.empty() && chain.size() < 64;) {
    Result<json> department = http.Call("GET", "/api/v1/departments/" + UrlEncode(at));
    if (!department) {
      std::string path;
      for (const auto& name : above) path += (path.empty() ? "" : "/") + name;
      return Error::Coded("not_found",
                          "department '" + at + "' does not exist: create it first with allot " +
                              "quota set department/" + path + " --gpu N",
                          "name");
    }
    chain.push_back(at);
    at = department->value("parent", "");
  }
  std::vector<std::string> expected(above.rbegin(), above.rend());
  if (chain != expected) {
    std::string actual;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) actual += *it + "/";
    return Error::Coded("invalid",
                        "'" + text + "': the tree has '" + parent + "' at " + actual +
                            ": give the path as it is (allot quota get shows it)",
                        "name");
  }
  return Status::Ok();
}

// Sets or removes `section`.gpu_models from MODEL=GPUS pairs ("none"
// removes it); true when the flag was given.
Result<bool> ApplyModelPairs(const std::vector<std::string>& pairs, const char* flag,
                             const std::string& section, json& body) {
  if (pairs.empty()) return false;
  json part = body.value(section, json::object());
  if (pairs.size() == 1 && pairs[0] == "none") {
    part.erase("gpu_models");
  } else {
    json models = json::object();
    for (const auto& pair : pairs) {
      size_t equals = pair.find('=');
      if (equals == std::string::npos || equals == 0) {
        return Error::Coded("invalid",
                            std::string(flag) + ": '" + pair + "' is not MODEL=GPUS, like H100=4",
                            section + ".gpu_models");
      }
      models[pair.substr(0, equals)] = pair.substr(equals + 1);
    }
    part["gpu_models"] = models;
  }
  if (part.empty()) {
    body.erase(section);
  } else {
    body[section] = part;
  }
  return true;
}

// The host grants' flags on a project's body (the server checks the values).
Status ApplyPolicyFlags(const QuotaOptions& o, json& body) {
  json paths = body.value("allowed_paths", json::array());
  for (const std::string& path : o.allow_paths) {
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
  }
  for (const std::string& path : o.remove_paths) {
    auto found = std::find(paths.begin(), paths.end(), path);
    if (found == paths.end()) {
      return Error::Coded("invalid", "--remove-path: " + path + " is not granted to the project",
                          "allowed_paths");
    }
    paths.erase(found);
  }
  if (paths.empty()) {
    body.erase("allowed_paths");
  } else {
    body["allowed_paths"] = paths;
  }
  if (o.allow_root) body["allow_root"] = true;
  if (o.deny_root) body.erase("allow_root");
  if (o.default_uid == "none") {
    body.erase("default_identity");
  } else if (!o.default_uid.empty() || !o.default_gid.empty()) {
    json identity = body.value("default_identity", json::object());
    for (auto [flag, text, key] : {std::tuple{"--default-uid", &o.default_uid, "uid"},
                                   std::tuple{"--default-gid", &o.default_gid, "gid"}}) {
      if (text->empty()) continue;
      try {
        size_t used = 0;
        int64_t id = std::stoll(*text, &used);
        if (used != text->size()) throw std::invalid_argument(*text);
        identity[key] = id;
      } catch (const std::exception&) {
        return Error::Coded("invalid",
                            std::string(flag) + ": '" + *text + "' is not a numeric id (or none)",
                            "default_identity");
      }
    }
    body["default_identity"] = identity;
  }
  return Status::Ok();
}

// The flags' changes on a queue's body.
Status ApplyQuotaFlags(const QuotaOptions& o, json& body) {
  json deserved = body.value("deserved", json::object());
  if (!o.gpu.empty()) deserved["gpu"] = o.gpu;
  if (!o.cpu.empty()) deserved["cpu"] = o.cpu;
  if (!o.memory.empty()) deserved["memory"] = o.memory;
  body["deserved"] = deserved;
  Result<bool> models = ApplyModelPairs(o.gpu_model_quota, "--gpu-model-quota", "deserved", body);
  if (!models) return models.error();
  // The total follows the models unless --gpu says otherwise.
  if (*models && o.gpu.empty() && body.contains("deserved")) body["deserved"].erase("gpu");
  if (!body.contains("deserved")) body["deserved"] = json::object();
  Result<bool> limits = ApplyModelPairs(o.gpu_model_limit, "--gpu-model-limit", "limit", body);
  if (!limits) return limits.error();
  if (!o.limit_gpu.empty()) {
    json limit = body.value("limit", json::object());
    if (o.limit_gpu == "none") {
      limit.erase("gpu");
    } else {
      limit["gpu"] = o.limit_gpu;
    }
    if (limit.empty()) {
      body.erase("limit");
    } else {
      body["limit"] = limit;
    }
  }
  if (o.weight >= 0) body["over_quota_weight"] = o.weight;
  if (o.priority >= 0) body["priority"] = o.priority;
  if (o.idle_after == "none") {
    body.erase("idle_interactive");
  } else if (!o.idle_after.empty() || !o.idle_action.empty()) {
    json rule = body.value("idle_interactive", json::object());
    if (!o.idle_after.empty()) rule["after"] = o.idle_after;
    if (!o.idle_action.empty()) rule["action"] = o.idle_action;
    body["idle_interactive"] = rule;  // the server names what is missing or wrong
  }
  return ApplyPolicyFlags(o, body);
}

// Where the target goes in the tree: its department (projects) or parent
// (departments), from the path or --department, checked against the tree.
Status PlaceTarget(HttpClient& http, const QuotaTarget& target, bool create, json& body) {
  const char* link = target.is_department ? "parent" : "department";
  std::string parent = body.value(link, "");
  if (!target.above.empty()) {
    std::string from_path = target.above.back();
    if (!quota.department.empty() && quota.department != from_path) {
      return Error::Coded("invalid",
                          "--department " + quota.department + " and the path's '" + from_path +
                              "' differ: give one",
                          "department");
    }
    parent = from_path;
    if (Status s = CheckPath(http, parent, target.above, quota.target); !s) return s;
  } else if (!quota.department.empty()) {
    if (target.is_department) {
      return Error::Coded("invalid",
                          "--department is for projects: put a department inside another with "
                          "its path, department/research/vision",
                          "department");
    }
    parent = quota.department;
  }
  if (create && !target.is_department && parent.empty()) {
    return Error::Coded("invalid",
                        "project '" + target.name +
                            "' does not exist: give its department to create it (--department "
                            "research, or research/" +
                            target.name + ")",
                        "department");
  }
  if (parent.empty()) {
    body.erase(link);
  } else {
    body[link] = parent;
  }
  return Status::Ok();
}

int QuotaSet() {
  Result<Session> session = Connect();
  if (!session) return ReportError("quota set", session.error());
  Result<QuotaTarget> target = ParseTarget(quota.target);
  if (!target) return ReportError("quota set", target.error());
  std::string base = target->is_department ? "/api/v1/departments" : "/api/v1/projects";
  Result<json> current = session->http->Call("GET", base + "/" + UrlEncode(target->name));
  bool create = !current && current.error().code == "not_found";
  if (!current && !create) return ReportError("quota set", current.error());
  json body = create ? json{{"name", target->name}} : *current;
  body.erase("revision");
  if (Status s = PlaceTarget(*session->http, *target, create, body); !s) {
    return ReportError("quota set", s.error());
  }
  if (Status s = ApplyQuotaFlags(quota, body); !s) return ReportError("quota set", s.error());
  Result<json> saved =
      create ? session->http->Call("POST", base, &body)
             : session->http->Call("PUT", base + "/" + UrlEncode(target->name), &body);
  if (!saved) return ReportError("quota set", saved.error());
  OutputFormat format = ParseOutputFormat(output);
  if (format != OutputFormat::kTable) {
    PrintDocument(std::cout, *saved, format);
  } else {
    std::cout << (target->is_department ? "department '" : "project '") << target->name << "' "
              << (create ? "created" : "updated") << ": deserved gpu "
              << Quantity((*saved)["deserved"], "gpu");
    if (std::string models = ModelQuota((*saved)["deserved"]); models != "-") {
      std::cout << " (" << models << ")";
    }
    std::cout << "\n";
  }
  return 0;
}

// "H100 2/4/1": per model, allocated / deserved / fair share.
std::string ModelColumn(const json& queue) {
  if (!queue.contains("gpu_models")) return "-";
  std::string out;
  for (const auto& [model, figures] : queue["gpu_models"].items()) {
    if (figures.value("deserved", 0.0) == 0 && figures.value("allocated", 0.0) == 0) continue;
    out += (out.empty() ? "" : " ") + model + " " + FormatGpus(figures.value("allocated", 0.0)) +
           "/" + FormatGpus(figures.value("deserved", 0.0)) + "/" +
           FormatGpus(figures.value("fair_share", 0.0));
  }
  return out.empty() ? "-" : out;
}

int Top() {
  Result<Session> session = Connect();
  if (!session) return ReportError("top", session.error());
  Result<json> status = session->http->Call("GET", "/api/v1/cluster");
  if (!status) return ReportError("top", status.error());
  if (PrintUnlessTable(std::cout, *status, output)) return 0;
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
  std::vector<json> departments, projects;
  bool per_model = false;
  for (const auto& queue : s.value("queues", json::array())) {
    (queue["type"] == "department" ? departments : projects).push_back(queue);
    per_model = per_model || queue.contains("gpu_models");
  }
  std::vector<std::vector<std::string>> rows;
  WalkTree(
      departments, projects, [](const json& d) { return d.value("parent", ""); },
      [](const json& p) { return p.value("department", ""); },
      [&](const json& q, int depth, bool is_project) {
        double deserved = q["deserved"].get<double>();
        double held = q["allocated"].get<double>();
        std::string over = held > deserved ? "+" + FormatGpus(held - deserved) : "-";
        std::vector<std::string> row = {TreeName(q, depth, is_project),
                                        FormatGpus(deserved),
                                        FormatGpus(q["fair_share"].get<double>()),
                                        FormatGpus(held),
                                        over,
                                        std::to_string(q["pending"].get<int64_t>())};
        if (per_model) row.push_back(ModelColumn(q));
        rows.push_back(std::move(row));
      });
  std::vector<std::string> header = {"QUEUE",     "DESERVED",   "FAIR-SHARE",
                                     "ALLOCATED", "OVER-QUOTA", "PENDING"};
  if (per_model) header.push_back("GPU-MODELS (ALLOCATED/DESERVED/FAIR-SHARE)");
  PrintTable(std::cout, header, rows);
  return 0;
}

}  // namespace

void AddQuotaCommands(CLI::App& app) {
  auto* command = app.add_subcommand("quota", "Show or set quotas of projects and departments");
  command->require_subcommand(1);
  quota_get_command = command->add_subcommand("get", "Show the quota tree");
  AddOutputOption(quota_get_command, output);
  quota_set_command = command->add_subcommand(
      "set",
      "Set a quota: allot quota set vision --gpu 4 | research/vision/detection --gpu 2 | "
      "department/research --gpu 8 | department/research/vision --gpu 4");
  QuotaOptions& o = quota;
  quota_set_command
      ->add_option("name", o.target,
                   "Project (vision, or research/vision/detection with its departments) or "
                   "department (department/research, department/research/vision)")
      ->required();
  quota_set_command->add_option("--department", o.department,
                                "The project's department (needed to create a project)");
  quota_set_command->add_option("--gpu", o.gpu, "Deserved GPUs");
  quota_set_command
      ->add_option("--gpu-model-quota", o.gpu_model_quota,
                   "Deserved GPUs per model: H100=4,A100=8 (deserved GPUs default to the sum); "
                   "none removes them")
      ->delimiter(',');
  quota_set_command
      ->add_option("--gpu-model-limit", o.gpu_model_limit,
                   "The most GPUs of a model the queue may hold, preemptible work included: "
                   "H100=6; none removes them")
      ->delimiter(',');
  quota_set_command->add_option("--cpu", o.cpu, "Deserved CPU");
  quota_set_command->add_option("--memory", o.memory, "Deserved memory, e.g. 512Gi");
  quota_set_command->add_option("--limit-gpu", o.limit_gpu, "GPU limit, or none");
  quota_set_command->add_option("--weight", o.weight, "Over-quota weight")
      ->check(CLI::NonNegativeNumber);
  quota_set_command->add_option(
      "--idle-after", o.idle_after,
      "Projects: act on interactive workloads whose GPUs sat idle this long (30m, 2h), or none");
  quota_set_command->add_option("--idle-action", o.idle_action,
                                "What --idle-after does: stop (default) or preempt (make it "
                                "preemptible)");
  quota_set_command->add_option("--priority", o.priority, "Queue priority")
      ->check(CLI::Range(0, 1000));
  quota_set_command
      ->add_option("--allow-path", o.allow_paths,
                   "Projects (admins): a host path its tasks may bind as --volume (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  quota_set_command
      ->add_option("--remove-path", o.remove_paths, "Projects (admins): take back a host path")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* allow_root = quota_set_command->add_flag(
      "--allow-root", o.allow_root, "Projects (admins): its tasks may run as root (--as-root)");
  quota_set_command->add_flag("--deny-root", o.deny_root, "Projects (admins): take that back")
      ->excludes(allow_root);
  quota_set_command->add_option(
      "--default-uid", o.default_uid,
      "Projects (admins): the uid its members' tasks run as when they have none, or none");
  quota_set_command->add_option("--default-gid", o.default_gid,
                                "Projects (admins): the gid with --default-uid (default: the uid)");
  AddOutputOption(quota_set_command, output);

  top_command = app.add_subcommand(
      "top", "Cluster and per-queue GPUs: deserved, fair share, allocated, pending");
  AddOutputOption(top_command, output);
}

int RunQuotaCommands() {
  if (quota_get_command && *quota_get_command) return QuotaGet();
  if (quota_set_command && *quota_set_command) return QuotaSet();
  if (top_command && *top_command) return Top();
  return -1;
}

}  // namespace allot::cli
