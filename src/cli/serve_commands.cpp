// `allot serve create|list|describe|update|delete` (docs/serving.md):
// inference services, their replicas autoscaled on the load the gateway
// measures, served at SERVER/serve/<project>/<name>/.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <optional>

#include "cli/client_commands.h"
#include "cli/client_session.h"
#include "cli/output.h"

namespace allot::cli {
namespace {

using nlohmann::json;

struct ServeOptions {
  std::string name;
  std::string project;
  std::optional<int> port;
  std::string gpu;
  std::string gpu_memory;
  std::string cpu;
  std::string memory;
  std::string image;
  std::vector<std::string> env;
  std::optional<int> min_replicas;
  std::optional<int> max_replicas;
  std::optional<int> target_concurrency;
  std::optional<int> target_rps;
  std::optional<std::string> ready_path;
  std::string scale_to_zero_after;
  std::string stable_window;
  std::string panic_window;
  std::string scale_down_delay;
  std::string cold_start_timeout;
  bool make_public = false;
  bool make_private = false;
  std::vector<std::string> command;
  std::string output;
};

ServeOptions options;
CLI::App* serve_command = nullptr;
CLI::App* create_command = nullptr;
CLI::App* list_command = nullptr;
CLI::App* describe_command = nullptr;
CLI::App* update_command = nullptr;
CLI::App* delete_command = nullptr;

std::string UrlOf(const ClientConfig& config, const json& service) {
  std::string server = FirstServer(config.server);
  return server + service.value("url", "");
}

// The request body of create and update: only what was given.
Result<json> BodyOf(const ServeOptions& o) {
  json body = json::object();
  if (o.port) body["port"] = *o.port;
  if (!o.gpu.empty()) body["gpu"] = o.gpu;
  if (!o.gpu_memory.empty()) body["gpu_memory"] = o.gpu_memory;
  if (!o.cpu.empty()) body["cpu"] = o.cpu;
  if (!o.memory.empty()) body["memory"] = o.memory;
  if (!o.image.empty()) body["image"] = o.image;
  if (!o.env.empty()) {
    json env = json::object();
    for (const std::string& pair : o.env) {
      size_t equals = pair.find('=');
      if (equals == std::string::npos || equals == 0) {
        return Error::Coded("invalid", "--env: '" + pair + "' is not NAME=VALUE", "env");
      }
      env[pair.substr(0, equals)] = pair.substr(equals + 1);
    }
    body["env"] = env;
  }
  if (o.min_replicas) body["min_replicas"] = *o.min_replicas;
  if (o.max_replicas) body["max_replicas"] = *o.max_replicas;
  if (o.target_concurrency) body["target_concurrency"] = *o.target_concurrency;
  if (o.target_rps) body["target_rps"] = *o.target_rps;
  if (o.ready_path) body["ready_path"] = *o.ready_path;
  if (!o.scale_to_zero_after.empty()) body["scale_to_zero_after"] = o.scale_to_zero_after;
  if (!o.stable_window.empty()) body["stable_window"] = o.stable_window;
  if (!o.panic_window.empty()) body["panic_window"] = o.panic_window;
  if (!o.scale_down_delay.empty()) body["scale_down_delay"] = o.scale_down_delay;
  if (!o.cold_start_timeout.empty()) body["cold_start_timeout"] = o.cold_start_timeout;
  if (o.make_public) body["public"] = true;
  if (o.make_private) body["public"] = false;
  if (!o.command.empty()) body["command"] = o.command;
  return body;
}

int Create(Session& session) {
  Result<json> body = BodyOf(options);
  if (!body) return ReportError("serve create", body.error());
  (*body)["name"] = options.name;
  (*body)["project"] = options.project.empty() ? session.config.project : options.project;
  Result<json> created = session.http->Call("POST", "/api/v1/services", &*body);
  if (!created) return ReportError("serve create", created.error());
  if (PrintUnlessTable(std::cout, *created, options.output)) return 0;
  std::cout << "service " << options.name << " created: " << UrlOf(session.config, *created)
            << "\n";
  return 0;
}

int Update(Session& session) {
  Result<json> body = BodyOf(options);
  if (!body) return ReportError("serve update", body.error());
  if (body->empty()) {
    return ReportError("serve update", Error::Coded("invalid",
                                                    "give what changes: -- CMD, --image, --env, "
                                                    "--min-replicas, ..."));
  }
  Result<json> updated = session.http->Call("PATCH", "/api/v1/services/" + options.name, &*body);
  if (!updated) return ReportError("serve update", updated.error());
  if (PrintUnlessTable(std::cout, *updated, options.output)) return 0;
  std::cout << "service " << options.name << " updated (generation "
            << updated->value("generation", 0)
            << "): replicas are replaced one at a time when what they run changed\n";
  return 0;
}

std::string Target(const json& service) {
  if (service.contains("target_rps"))
    return std::to_string(service.value("target_rps", 0)) + " rps";
  return std::to_string(service.value("target_concurrency", 0)) + " in flight";
}

int List(Session& session) {
  std::string path = "/api/v1/services";
  if (!options.project.empty()) path += "?project=" + options.project;
  Result<std::vector<json>> items = ListAll(*session.http, path);
  if (!items) return ReportError("serve list", items.error());
  if (PrintUnlessTable(std::cout, json(*items), options.output)) return 0;
  std::vector<std::vector<std::string>> rows;
  for (const json& s : *items) {
    rows.push_back({s.value("name", ""), s.value("project", ""),
                    std::to_string(s.value("min_replicas", 0)) + "-" +
                        std::to_string(s.value("max_replicas", 0)),
                    Target(s), s.value("public", false) ? "public" : "project",
                    s.value("owner", ""), UrlOf(session.config, s)});
  }
  PrintTable(std::cout, {"NAME", "PROJECT", "REPLICAS", "TARGET", "ACCESS", "OWNER", "URL"}, rows);
  return 0;
}

std::string Fixed(double value, int digits) {
  double scale = std::pow(10.0, digits);
  std::string text = std::to_string(std::round(value * scale) / scale);
  size_t dot = text.find('.');
  return dot == std::string::npos ? text : text.substr(0, dot + (digits > 0 ? digits + 1 : 0));
}

int Describe(Session& session) {
  Result<json> service = session.http->Call("GET", "/api/v1/services/" + options.name);
  if (!service) return ReportError("serve describe", service.error());
  if (PrintUnlessTable(std::cout, *service, options.output)) return 0;
  const json& s = *service;
  const json status = s.value("status", json::object());
  std::cout << "Name:        " << s.value("name", "") << "\n"
            << "Project:     " << s.value("project", "") << "\n"
            << "URL:         " << UrlOf(session.config, s) << "\n"
            << "Access:      " << (s.value("public", false) ? "public" : "the project's members")
            << "\n"
            << "Port:        " << s.value("port", 0)
            << (s.value("ready_path", "").empty() ? "" : ", ready at " + s.value("ready_path", ""))
            << "\n"
            << "Generation:  " << s.value("generation", 0) << "\n"
            << "Replicas:    " << status.value("ready", 0) << " ready, "
            << status.value("desired", 0) << " desired (" << s.value("min_replicas", 0) << " to "
            << s.value("max_replicas", 0) << "), " << status.value("draining", 0) << " draining"
            << (status.value("panicking", false) ? ", panicking" : "") << "\n"
            << "Target:      " << Target(s) << " per replica; load "
            << Fixed(status.value("stable_load", 0.0), 2) << " over "
            << s.value("stable_window", "") << ", " << Fixed(status.value("panic_load", 0.0), 2)
            << " over " << s.value("panic_window", "") << "\n"
            << "Traffic:     " << Fixed(status.value("requests_per_second", 0.0), 1)
            << " requests/s, " << status.value("in_flight", 0) << " in flight, p50 "
            << Fixed(status.value("latency_p50_ms", 0.0), 1) << " ms, p99 "
            << Fixed(status.value("latency_p99_ms", 0.0), 1) << " ms (last minute)\n"
            << "Requests:    " << status.value("requests", 0) << " (" << status.value("errors", 0)
            << " 5xx), " << status.value("cold_starts", 0) << " cold starts"
            << (status.value("cold_starts", 0) > 0
                    ? " (the last took " + Fixed(status.value("last_cold_start_seconds", 0.0), 2) +
                          " s)"
                    : "")
            << "\n";
  if (status.contains("not_ready_reason")) {
    std::cout << "Not ready:   " << status.value("not_ready_reason", "") << "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const json& r : s.value("replicas", json::array())) {
    rows.push_back({r.value("name", ""), std::to_string(r.value("generation", 0)),
                    r.value("status", ""), r.value("node", ""),
                    r.value("ready", false) ? "yes" : "no", std::to_string(r.value("restarts", 0)),
                    r.value("reason", "")});
  }
  std::cout << "\n";
  PrintTable(std::cout, {"REPLICA", "GEN", "STATUS", "NODE", "READY", "RESTARTS", "REASON"}, rows);
  return 0;
}

int Delete(Session& session) {
  Result<json> done = session.http->Call("DELETE", "/api/v1/services/" + options.name);
  if (!done) return ReportError("serve delete", done.error());
  std::cout << "service " << options.name << " deleted; its replicas stop\n";
  return 0;
}

// The flags that create and update share.
void AddSpecOptions(CLI::App* command, ServeOptions& o) {
  command->add_option("--gpu", o.gpu, "GPUs per replica: a fraction like 0.1, or whole GPUs");
  command->add_option("--gpu-memory", o.gpu_memory, "GPU memory per replica, e.g. 6G");
  command->add_option("--cpu", o.cpu, "CPU per replica, e.g. 2 or 500m");
  command->add_option("--memory", o.memory, "Memory per replica, e.g. 8Gi");
  command->add_option("--image", o.image, "Run replicas in containers of this OCI image");
  command->add_option("--env", o.env, "Environment variable NAME=VALUE (repeatable)");
  command->add_option("--min-replicas", o.min_replicas, "Fewest replicas (0: scale to zero)");
  command->add_option("--max-replicas", o.max_replicas, "Most replicas");
  auto* concurrency = command->add_option("--target-concurrency", o.target_concurrency,
                                          "Requests in flight per replica to scale on");
  auto* rps = command->add_option("--target-rps", o.target_rps,
                                  "Requests per second per replica to scale on");
  concurrency->excludes(rps);
  command->add_option("--ready-path", o.ready_path,
                      "A path that answers 2xx once a replica is ready (default: the port "
                      "accepting connections)");
  command->add_option("--scale-to-zero-after", o.scale_to_zero_after,
                      "With --min-replicas 0: no requests this long scales to zero (default 5m)");
  command->add_option("--stable-window", o.stable_window, "The autoscaler's window (default 60s)");
  command->add_option("--panic-window", o.panic_window,
                      "The window that scales out at once at twice the target (default 6s)");
  command->add_option("--scale-down-delay", o.scale_down_delay,
                      "How long a lower count must hold before replicas go (default 0s)");
  command->add_option("--cold-start-timeout", o.cold_start_timeout,
                      "How long a request waits for a first ready replica (default 60s)");
  auto* make_public = command->add_flag("--public", o.make_public,
                                        "Anyone may call it, without a token (project admins)");
  auto* make_private =
      command->add_flag("--private", o.make_private, "Only the project's members may call it");
  make_public->excludes(make_private);
  command->add_option("command", o.command, "The server's command, after --");
  AddOutputOption(command, o.output);
}

}  // namespace

void AddServeCommands(CLI::App& app) {
  ServeOptions& o = options;
  serve_command = app.add_subcommand(
      "serve", "Inference services: autoscaled replicas served through the server's gateway");
  serve_command->require_subcommand(1);
  create_command = serve_command->add_subcommand(
      "create",
      "Create one: allot serve create NAME --port 8000 [--gpu 0.1] [--min-replicas 0] -- CMD");
  create_command->add_option("name", o.name, "Service name")->required();
  create_command->add_option("--project", o.project, "Project (default: from allot login)");
  create_command
      ->add_option("--port", o.port,
                   "The port the server listens on (a host replica "
                   "gets its own in PORT)")
      ->required()
      ->check(CLI::Range(1, 65535));
  AddSpecOptions(create_command, o);

  list_command = serve_command->add_subcommand("list", "List services");
  list_command->add_option("--project", o.project, "Only this project's");
  AddOutputOption(list_command, o.output);

  describe_command = serve_command->add_subcommand(
      "describe", "A service: replicas desired and ready, load, latency, why one is not ready");
  describe_command->add_option("name", o.name, "Service name")->required();
  AddOutputOption(describe_command, o.output);

  update_command = serve_command->add_subcommand(
      "update", "Change a service; a new command or image is a rolling update");
  update_command->add_option("name", o.name, "Service name")->required();
  update_command->add_option("--port", o.port, "The port the server listens on")
      ->check(CLI::Range(1, 65535));
  AddSpecOptions(update_command, o);

  delete_command = serve_command->add_subcommand("delete", "Delete a service and its replicas");
  delete_command->add_option("name", o.name, "Service name")->required();
}

int RunServeCommands() {
  if (!serve_command || !*serve_command) return -1;
  Result<Session> session = Connect();
  if (!session) return ReportError("serve", session.error());
  if (*create_command) return Create(*session);
  if (*list_command) return List(*session);
  if (*describe_command) return Describe(*session);
  if (*update_command) return Update(*session);
  if (*delete_command) return Delete(*session);
  return -1;
}

}  // namespace allot::cli
