// allot submit | list | describe | delete.
#include <functional>
#include <iostream>
#include <optional>
#include <random>

#include "cli/client_commands.h"
#include "cli/client_session.h"
#include "cli/output.h"
#include "cli/spec_file.h"

namespace allot::cli {
namespace {

using nlohmann::json;

struct SubmitOptions {
  std::string name;
  std::string project;
  std::string kind = "training";
  std::string gpu;
  std::string gpu_memory;
  std::string gpu_limit;
  std::string gpu_memory_limit;
  std::string cpu;
  std::string memory;
  int64_t workers = 1;
  int64_t min_workers = 0;
  int64_t priority = -1;
  bool preemptible = false;
  bool non_preemptible = false;
  std::vector<std::string> env;
  std::vector<std::string> gpu_models;
  std::vector<std::string> node_selector;
  std::vector<std::string> pools;
  std::string topology_required;
  std::string topology_preferred;
  std::string max_runtime;
  std::vector<std::string> command;
  int64_t grace_period_s = -1;
  int64_t max_restarts = -1;
  std::string image;
  std::vector<std::string> volumes;
  std::string shm_size;
  bool as_root = false;
  std::string file;  // -f: a declarative spec
};

SubmitOptions submit_options;
std::string list_project;
std::string list_status;
std::string list_owner;
int64_t list_limit = INT64_MAX;
bool list_all = false;
std::vector<std::string> names;  // describe, delete, logs
int64_t logs_task = 0;
int64_t logs_attempt = 0;
bool logs_follow = false;
std::string output = "table";

CLI::App* submit_command = nullptr;
// The flags that say what to run; with -f the file says it instead.
std::vector<CLI::Option*> spec_flags;
CLI::App* list_command = nullptr;
CLI::App* describe_command = nullptr;
CLI::App* delete_command = nullptr;
CLI::App* logs_command = nullptr;

// "training-x7k2q": a name for a submission that gave none.
std::string GeneratedName(const std::string& kind) {
  static const char kLetters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::uniform_int_distribution<size_t> pick(0, sizeof kLetters - 2);
  std::string name = kind + "-";
  for (int i = 0; i < 5; ++i) name += kLetters[pick(device)];
  return name;
}

// NAME=VALUE pairs of a repeatable flag as a JSON object.
Result<json> KeyValues(const std::vector<std::string>& pairs, const std::string& flag,
                       const std::string& field) {
  json out = json::object();
  for (const auto& pair : pairs) {
    size_t equals = pair.find('=');
    if (equals == std::string::npos || equals == 0) {
      return Error::Coded("invalid", flag + ": '" + pair + "' is not NAME=VALUE", field);
    }
    out[pair.substr(0, equals)] = pair.substr(equals + 1);
  }
  return out;
}

// Where the workload may run and for how long, from the flags.
Status AddPlacementRules(const SubmitOptions& o, json& body) {
  if (!o.gpu_models.empty()) body["gpu_models"] = o.gpu_models;
  if (!o.pools.empty()) body["pools"] = o.pools;
  Result<json> selector = KeyValues(o.node_selector, "--node-selector", "node_selector");
  if (!selector) return selector.error();
  if (!selector->empty()) body["node_selector"] = *selector;
  json topology = json::object();
  if (!o.topology_required.empty()) topology["required"] = o.topology_required;
  if (!o.topology_preferred.empty()) topology["preferred"] = o.topology_preferred;
  if (!topology.empty()) body["topology"] = topology;
  if (!o.max_runtime.empty()) body["max_runtime"] = o.max_runtime;
  return Status::Ok();
}

// The submission body from the flags; the server checks every value.
Result<json> SubmissionBody(const SubmitOptions& o, const ClientConfig& config) {
  json body = {{"name", o.name.empty() ? GeneratedName(o.kind) : o.name},
               {"project", o.project.empty() ? config.project : o.project},
               {"kind", o.kind},
               {"workers", o.workers},
               {"command", o.command}};
  if (o.min_workers > 0) body["min_workers"] = o.min_workers;
  if (!o.gpu.empty()) body["gpu"] = o.gpu;
  if (!o.gpu_memory.empty()) body["gpu_memory"] = o.gpu_memory;
  if (!o.gpu_limit.empty()) body["gpu_limit"] = o.gpu_limit;
  if (!o.gpu_memory_limit.empty()) body["gpu_memory_limit"] = o.gpu_memory_limit;
  if (!o.cpu.empty()) body["cpu"] = o.cpu;
  if (!o.memory.empty()) body["memory"] = o.memory;
  if (o.priority >= 0) body["priority"] = o.priority;
  if (o.preemptible) body["preemptible"] = true;
  if (o.non_preemptible) body["preemptible"] = false;
  if (o.grace_period_s >= 0) body["grace_period_s"] = o.grace_period_s;
  if (o.max_restarts >= 0) body["max_restarts"] = o.max_restarts;
  if (Status s = AddPlacementRules(o, body); !s) return s.error();
  if (!o.image.empty()) body["image"] = o.image;
  if (!o.volumes.empty()) body["volumes"] = o.volumes;
  if (!o.shm_size.empty()) body["shm_size"] = o.shm_size;
  if (o.as_root) body["run_as_root"] = true;
  Result<json> env = KeyValues(o.env, "--env", "env");
  if (!env) return env.error();
  if (!env->empty()) body["env"] = *env;
  return body;
}

std::string GpuColumn(const json& w) {
  std::string gpu = w.contains("gpu") ? w["gpu"].get<std::string>() : "";
  if (w.contains("gpu_memory"))
    gpu += (gpu.empty() ? "" : "/") + w["gpu_memory"].get<std::string>();
  // A dynamic fraction: request, up to its limit.
  if (w.contains("gpu_limit")) gpu += " (up to " + w["gpu_limit"].get<std::string>() + ")";
  if (w.contains("gpu_memory_limit")) {
    gpu += " (up to " + w["gpu_memory_limit"].get<std::string>() + ")";
  }
  return gpu.empty() ? "-" : gpu;
}

std::string WorkersColumn(const json& w) {
  int64_t placed = 0;
  const json assignments = w.value("assignments", json::array());
  for (const auto& task : assignments) {
    placed += task.value("node", "").empty() ? 0 : 1;
  }
  return std::to_string(placed) + "/" + std::to_string(w.value("workers", 1));
}

// The submission from `-f FILE`, with --name and --project over the file's.
Result<json> FileSubmission(const SubmitOptions& o, const ClientConfig& config,
                            const SpecFile& spec) {
  for (const CLI::Option* flag : spec_flags) {
    if (flag->count() > 0) {
      return Error::Coded("invalid",
                          flag->get_name() +
                              " with -f: give it in the file (its fields are the "
                              "API's, see docs/api.md), or drop -f",
                          "file");
    }
  }
  json body = spec.body;
  if (!o.name.empty()) body["name"] = o.name;
  if (!o.project.empty()) body["project"] = o.project;
  if (!body.contains("project")) body["project"] = config.project;
  if (!body.contains("name")) {
    body["name"] = GeneratedName(body.value("kind", json("training")).is_string()
                                     ? body.value("kind", std::string("training"))
                                     : "training");
  }
  return body;
}

int Submit() {
  Result<Session> session = Connect();
  if (!session) return ReportError("submit", session.error());
  std::optional<SpecFile> spec;
  if (!submit_options.file.empty()) {
    Result<SpecFile> read = ReadSpecFile(submit_options.file);
    if (!read) return ReportError("submit", read.error());
    spec = std::move(*read);
  }
  Result<json> body = spec ? FileSubmission(submit_options, session->config, *spec)
                           : SubmissionBody(submit_options, session->config);
  if (!body) return ReportError("submit", body.error());
  Result<json> created = session->http->Call("POST", "/api/v1/workloads", &*body);
  if (!created && spec && !created.error().field.empty()) {
    // The server names the field; the file has it on a line.
    const Error& e = created.error();
    return ReportError("submit", Error::Coded(e.code, spec->Where(e.field) + e.message, e.field));
  }
  if (!created) return ReportError("submit", created.error());
  OutputFormat format = ParseOutputFormat(output);
  if (format != OutputFormat::kTable) {
    PrintDocument(std::cout, *created, format);
  } else {
    std::cout << "workload '" << (*created)["name"].get<std::string>() << "' submitted to project '"
              << (*created)["project"].get<std::string>() << "': see allot describe "
              << (*created)["name"].get<std::string>() << "\n";
  }
  return 0;
}

int List() {
  Result<Session> session = Connect();
  if (!session) return ReportError("list", session.error());
  std::string path = "/api/v1/workloads";
  std::string query;
  if (!list_project.empty()) query += "&project=" + UrlEncode(list_project);
  if (!list_status.empty()) query += "&status=" + UrlEncode(list_status);
  if (!list_owner.empty()) query += "&owner=" + UrlEncode(list_owner);
  if (!query.empty()) path += "?" + query.substr(1);
  Result<std::vector<json>> items = ListAll(*session->http, path, list_limit);
  if (!items) return ReportError("list", items.error());
  if (list_status.empty() && !list_all) {
    // Deleted workloads stay on record (describe, audit) but not in the list.
    std::erase_if(*items, [](const json& w) { return w.value("status", "") == "deleted"; });
  }
  if (PrintUnlessTable(std::cout, json{{"items", *items}}, output)) return 0;
  std::vector<std::vector<std::string>> rows;
  int64_t now = NowMs();
  for (const auto& w : *items) {
    rows.push_back({w["name"], w["project"], w["kind"], w["status"], GpuColumn(w), WorkersColumn(w),
                    FormatAge(w.value("created_ms", now), now), w.value("owner", "")});
  }
  PrintTable(std::cout, {"NAME", "PROJECT", "KIND", "STATUS", "GPU", "WORKERS", "AGE", "OWNER"},
             rows);
  return 0;
}

// What it runs in and as: image, volumes, shm, identity (docs/isolation.md).
void DescribeRuntime(const json& w,
                     const std::function<void(const std::string&, const std::string&)>& line) {
  line("Image", w.value("image", "-") + (w.contains("image") ? "" : " (a host process)"));
  if (w.contains("volumes")) {
    std::string volumes;
    for (const auto& volume : w["volumes"]) {
      volumes += (volumes.empty() ? "" : ", ") + volume.get<std::string>();
    }
    line("Volumes", volumes);
  }
  if (w.contains("shm_size")) line("Shm size", w["shm_size"].get<std::string>());
  if (const json run_as = w.value("run_as", json()); run_as.is_object()) {
    std::string groups;
    for (const auto& group : run_as.value("groups", json::array())) {
      groups += (groups.empty() ? ", groups " : ",") + std::to_string(group.get<int64_t>());
    }
    line("Runs as", "uid " + std::to_string(run_as.value("uid", -1)) + ", gid " +
                        std::to_string(run_as.value("gid", -1)) + groups);
  }
}

// The describe lines of where a workload may run and for how long.
using DescribeLine = std::function<void(const std::string&, const std::string&)>;
void DescribePlacementRules(const json& w, const DescribeLine& line) {
  auto joined = [](const json& list, const char* separator) {
    std::string out;
    for (const auto& item : list) out += (out.empty() ? "" : separator) + item.get<std::string>();
    return out;
  };
  if (w.contains("gpu_models")) line("GPU models", joined(w["gpu_models"], ", "));
  if (w.contains("pools")) line("Pools", joined(w["pools"], ", ") + " (in this order)");
  if (w.contains("node_selector")) {
    std::string selector;
    for (const auto& [key, value] : w["node_selector"].items()) {
      selector += (selector.empty() ? "" : ", ") + key + "=" + value.get<std::string>();
    }
    line("Node selector", selector);
  }
  if (w.contains("topology")) {
    const json& t = w["topology"];
    std::string text;
    if (t.contains("required")) text = "required " + t["required"].get<std::string>();
    if (t.contains("preferred")) {
      text += (text.empty() ? "" : ", ") + std::string("preferred ") +
              t["preferred"].get<std::string>();
    }
    line("Topology", text);
  }
  if (w.contains("max_runtime")) line("Max runtime", w["max_runtime"]);
}

int Describe() {
  Result<Session> session = Connect();
  if (!session) return ReportError("describe", session.error());
  const std::string& name = names[0];
  Result<json> workload = session->http->Call("GET", "/api/v1/workloads/" + UrlEncode(name));
  if (!workload) return ReportError("describe", workload.error());
  Result<std::vector<json>> events =
      ListAll(*session->http, "/api/v1/events?workload=" + UrlEncode(name));
  if (!events) return ReportError("describe", events.error());
  OutputFormat format = ParseOutputFormat(output);
  if (format != OutputFormat::kTable) {
    json document = *workload;
    document["events"] = *events;
    PrintDocument(std::cout, document, format);
    return 0;
  }
  const json& w = *workload;
  int64_t now = NowMs();
  auto line = [](const std::string& key, const std::string& value) {
    std::cout << key << ":" << std::string(16 - key.size(), ' ') << value << "\n";
  };
  line("Name", w["name"]);
  line("Project", w["project"]);
  line("Kind", w["kind"]);
  line("Owner", w.value("owner", ""));
  line("Status", w["status"]);
  if (!w.value("pending_reason", "").empty()) line("Pending reason", w["pending_reason"]);
  if (!w.value("reason", "").empty()) line("Reason", w["reason"]);
  line("Priority", std::to_string(w.value("priority", 0)));
  line("Preemptible", w.value("preemptible", false) ? "yes" : "no");
  line("Per worker", "gpu " + GpuColumn(w) + ", cpu " + w.value("cpu", "0") + ", memory " +
                         w.value("memory", "0"));
  line("Workers", WorkersColumn(w) + " placed (at least " +
                      std::to_string(w.value("min_workers", 1)) + " to run)");
  DescribePlacementRules(w, line);
  std::string command;
  const json parts = w.value("command", json::array());
  for (const auto& part : parts) {
    // Quoted where the shell would split or expand it.
    std::string text = part.get<std::string>();
    bool plain = !text.empty() && text.find_first_of(" \t'\"$\\*?;&|<>()") == std::string::npos;
    std::string quoted = plain ? text : "'" + text + "'";
    if (!plain && text.find('\'') != std::string::npos) quoted = json(text).dump();
    command += (command.empty() ? "" : " ") + quoted;
  }
  line("Command", command.empty() ? "-" : command);
  DescribeRuntime(w, line);
  line("Age", FormatAge(w.value("created_ms", now), now));
  std::vector<std::vector<std::string>> tasks;
  int task = 0;
  const json assignments = w.value("assignments", json::array());
  for (const auto& assignment : assignments) {
    std::string gpus;
    const json assigned_gpus = assignment.value("gpus", json::array());
    for (const auto& gpu : assigned_gpus) {
      gpus += (gpus.empty() ? "" : ",") + std::to_string(gpu.get<int>());
    }
    std::string node = assignment.value("node", "");
    std::string last = assignment.value("previous_node", "");
    std::string state = assignment.value("state", "");
    if (state == "exited") state += " " + std::to_string(assignment.value("exit_code", 0));
    std::string reason = assignment.value("reason", "");
    tasks.push_back({std::to_string(task++),
                     node.empty() ? (last.empty() ? "-" : "(" + last + ")") : node,
                     gpus.empty() ? "-" : gpus, std::to_string(assignment.value("attempt", 0)),
                     state.empty() ? "-" : state, std::to_string(assignment.value("restarts", 0)),
                     reason.empty() ? "-" : reason});
  }
  std::cout << "\nTasks:\n";
  PrintTable(std::cout, {"TASK", "NODE", "GPUS", "ATTEMPT", "STATE", "RESTARTS", "REASON"}, tasks);
  std::cout << "\nEvents:\n";
  if (events->empty()) {
    std::cout << "(none)\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : *events) {
      rows.push_back({FormatAge(e.value("time_ms", now), now), e["type"], e["message"]});
    }
    PrintTable(std::cout, {"AGE", "TYPE", "MESSAGE"}, rows);
  }
  return 0;
}

int Delete() {
  Result<Session> session = Connect();
  if (!session) return ReportError("delete", session.error());
  int status = 0;
  for (const auto& name : names) {
    Result<json> deleted = session->http->Call("DELETE", "/api/v1/workloads/" + UrlEncode(name));
    if (!deleted) {
      status = ReportError("delete", deleted.error());
      continue;
    }
    std::cout << "workload '" << name << "' deleted\n";
  }
  return status;
}

// The output of a task, from the agent of its node; followed to its end
// with -f.
int Logs() {
  Result<Session> session = Connect();
  if (!session) return ReportError("logs", session.error());
  std::string path = "/api/v1/workloads/" + UrlEncode(names[0]) +
                     "/logs?task=" + std::to_string(logs_task) +
                     (logs_attempt > 0 ? "&attempt=" + std::to_string(logs_attempt) : "") +
                     (logs_follow ? "&follow=1" : "");
  if (logs_follow) session->http->SetReadTimeout(std::chrono::hours(24));
  Result<int> status = session->http->Stream(path, [](const char* data, size_t size) {
    std::cout.write(data, static_cast<std::streamsize>(size));
    std::cout.flush();
    return static_cast<bool>(std::cout);
  });
  if (!status) return ReportError("logs", status.error());
  return 0;
}

}  // namespace

void AddWorkloadCommands(CLI::App& app) {
  SubmitOptions& o = submit_options;
  submit_command = app.add_subcommand("submit", "Submit a workload: allot submit [flags] -- CMD");
  submit_command->add_option("--name", o.name, "Workload name (default: KIND-<random>)");
  submit_command->add_option("--project", o.project, "Project (default: from allot login)");
  submit_command
      ->add_option("--kind", o.kind, "interactive, training (default), distributed, inference")
      ->check(CLI::IsMember({"interactive", "training", "distributed", "inference"}));
  submit_command->add_option("--gpu", o.gpu, "GPUs per worker: a fraction like 0.5 or whole GPUs");
  submit_command->add_option("--gpu-memory", o.gpu_memory, "GPU memory per worker, e.g. 20G");
  submit_command->add_option("--gpu-limit", o.gpu_limit,
                             "A fraction may use up to this share of its GPU while it is free "
                             "(--gpu 0.25 --gpu-limit 0.5)");
  submit_command->add_option("--gpu-memory-limit", o.gpu_memory_limit,
                             "The same in GPU memory (--gpu-memory 10G --gpu-memory-limit 20G)");
  submit_command->add_option("--cpu", o.cpu, "CPU per worker, e.g. 4 or 500m");
  submit_command->add_option("--memory", o.memory, "Memory per worker, e.g. 16Gi");
  submit_command->add_option("--workers", o.workers, "Workers (replicas for inference)")
      ->check(CLI::PositiveNumber);
  submit_command
      ->add_option("--min-workers", o.min_workers,
                   "Gang minimum: workers that must start together (default: all)")
      ->check(CLI::PositiveNumber);
  submit_command->add_option("--priority", o.priority, "Priority 0-1000 (project admins)");
  auto* preemptible = submit_command->add_flag("--preemptible", o.preemptible,
                                               "May be preempted (borrows idle GPUs)");
  auto* non_preemptible = submit_command->add_flag(
      "--non-preemptible", o.non_preemptible, "Never preempted (runs within the project's quota)");
  preemptible->excludes(non_preemptible);
  // One value per flag: a repeatable flag must not swallow the `--` before the command.
  submit_command->add_option("--env", o.env, "Environment variable NAME=VALUE (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  submit_command->add_option("--gpu-model", o.gpu_models, "Acceptable GPU model (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  submit_command
      ->add_option("--grace-period", o.grace_period_s,
                   "Seconds between SIGTERM and SIGKILL when stopped (default 30)")
      ->check(CLI::Range(0, 3600));
  submit_command
      ->add_option("--max-restarts", o.max_restarts,
                   "Training: restarts of a failed worker before the workload fails (default 3)")
      ->check(CLI::Range(0, 100));
  submit_command
      ->add_option("--pool", o.pools,
                   "Node pools it may use, in order of preference: a,b (default: any)")
      ->delimiter(',');
  submit_command->add_option("--node-selector", o.node_selector,
                             "Required node label KEY=VALUE (repeatable)");
  submit_command->add_option("--topology-required", o.topology_required,
                             "All workers in one domain of this node label (zone, rack)");
  submit_command->add_option("--topology-preferred", o.topology_preferred,
                             "Workers in one domain of this node label when possible");
  submit_command->add_option("--max-runtime", o.max_runtime,
                             "Stop it when it runs longer (30m, 4h); lets it backfill");
  submit_command->add_option("--image", o.image,
                             "Run in a container of this OCI image (from the node's podman store; "
                             "default: a host process)");
  submit_command
      ->add_option("--volume", o.volumes,
                   "Bind HOST:TASK[:ro] into the container (repeatable; HOST under a path the "
                   "project is granted)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  submit_command->add_option("--shm-size", o.shm_size, "The container's /dev/shm, e.g. 8Gi");
  submit_command->add_flag("--as-root", o.as_root,
                           "Run as root (only in projects an admin allowed it: --allow-root)");
  submit_command->add_option("command", o.command, "The command to run, after --");
  submit_command->add_option(
      "-f,--file", o.file,
      "A workload spec in YAML or JSON with the API's fields (- for stdin); --name and "
      "--project override its own");
  for (CLI::Option* option : submit_command->get_options()) {
    const std::string& name = option->get_name();
    if (name != "--name" && name != "--project" && name != "--file" && name != "--help" &&
        name != "--output") {
      spec_flags.push_back(option);
    }
  }
  AddOutputOption(submit_command, output);

  list_command = app.add_subcommand("list", "List workloads");
  list_command->add_option("--project", list_project, "Only this project's");
  list_command->add_option("--status", list_status, "Only workloads in this status")
      ->check(CLI::IsMember(
          {"pending", "running", "succeeded", "failed", "evicted", "lost", "deleted", "stopped"}));
  list_command->add_option("--owner", list_owner, "Only this user's");
  list_command->add_option("--limit", list_limit, "At most this many")->check(CLI::PositiveNumber);
  list_command->add_flag("-a,--all", list_all, "Deleted workloads too");
  AddOutputOption(list_command, output);

  describe_command = app.add_subcommand(
      "describe", "Show one workload: status, pending reason, placement, events");
  describe_command->add_option("name", names, "Workload name")->required()->expected(1);
  AddOutputOption(describe_command, output);

  delete_command = app.add_subcommand("delete", "Delete workloads (running work is stopped)");
  delete_command->add_option("names", names, "Workload names")->required();

  logs_command = app.add_subcommand("logs", "Show a workload task's output: allot logs [-f] NAME");
  logs_command->add_option("name", names, "Workload name")->required()->expected(1);
  logs_command->add_option("--task", logs_task, "Task (worker) number (default 0)")
      ->check(CLI::NonNegativeNumber);
  logs_command->add_option("--attempt", logs_attempt, "Attempt (default: the latest)")
      ->check(CLI::PositiveNumber);
  logs_command->add_flag("-f,--follow", logs_follow, "Follow the output until the task ends");
}

int RunWorkloadCommands() {
  if (submit_command && *submit_command) return Submit();
  if (list_command && *list_command) return List();
  if (describe_command && *describe_command) return Describe();
  if (delete_command && *delete_command) return Delete();
  if (logs_command && *logs_command) return Logs();
  return -1;
}

}  // namespace allot::cli
