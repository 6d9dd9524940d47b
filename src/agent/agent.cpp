#include "agent/agent.h"

#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "agent/container_task.h"
#include "agent/inventory.h"
#include "agent/local_tasks.h"
#include "agent/log_endpoint.h"
#include "agent/readiness_probe.h"
#include "agent/registration.h"
#include "agent/task_files.h"
#include "agent/task_plan.h"
#include "agent/task_report.h"
#include "agent/task_usage.h"
#include "agent/tunnel_client.h"
#include "common/client_config.h"
#include "common/http_client.h"
#include "common/random_hex.h"
#include "wire/resources.h"

namespace allot::agent {
namespace {

// Where the GPU interposer keeps its ledgers (src/cuda/interposer.cpp).
std::string LedgerDirectory() {
  const char* directory = std::getenv("ALLOT_GPU_LEDGER_DIR");
  return directory && *directory ? directory : "/dev/shm";
}

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kAgentVersion = "0.5.0";
// A finished, reported task's directory (and its logs) is kept this long.
constexpr int64_t kKeepFinishedMs = 24LL * 3600 * 1000;
// The agent lists again this often even when its watch saw nothing (a
// safety net under the watch, not the way changes arrive).
constexpr int64_t kRelistMs = 60000;

}  // namespace

struct Agent::Impl {
  AgentOptions options;
  std::string agent_token;
  std::string logs_secret;
  std::vector<std::string> nodes;
  std::set<std::string> own_nodes;  // the same, for lookups
  std::string self_address;
  std::string boot_id = BootId();  // read once: it changes only with a reboot
  std::unique_ptr<LogEndpoint> logs;

  // What the server wants: per node, per task key.
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, std::map<std::string, LaunchSpec>> desired;
  std::map<std::string, std::vector<std::string>> keys_by_workload;  // "node/key" entries
  std::map<std::string, PeerNode> peers;
  bool synced = false;             // desired reflects a successful list
  HttpClient* watching = nullptr;  // the sync loop's client, cancelled by Stop()
  int64_t heartbeat_ms = 5000;     // as the server said at registration
  std::string interposer_library;  // the copy tasks can read (local_tasks.h)
  std::atomic<bool> stopping{false};
  std::vector<std::thread> threads;
  // Exec, port-forward, workspaces: one tunnel to each server of the list,
  // since a stream may be asked for through any of them.
  std::vector<std::unique_ptr<TunnelClient>> tunnels;

  std::string TasksDir(const std::string& node) const {
    return TasksDirOf(options.state_dir, node);
  }

  void Say(const std::string& line) const {
    if (!options.quiet) std::cout << "allot agent: " << line << std::endl;
  }

  // Sleeps up to `ms`, less when stopping.
  void Pause(int64_t ms) {
    std::unique_lock lock(mutex);
    changed.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping.load(); });
  }

  Result<std::unique_ptr<HttpClient>> Client() const {
    return HttpClient::Create(options.server, agent_token, options.ca_file);
  }

  // ---- registration ----

  Status LoadOrRegister() {
    if (Status s = PrepareStateDir(options.state_dir, options.user_dirs); !s) return s;
    if (::geteuid() == 0) {
      Result<std::string> kept = KeepInterposerCopy(options.state_dir);
      if (!kept) Say(kept.error().message);
      interposer_library = kept ? *kept : "";
    }
    std::string state_file = options.state_dir + "/agent.json";
    if (auto saved = ReadJsonFile(state_file)) {
      agent_token = saved->value("agent_token", "");
      logs_secret = saved->value("logs_secret", "");
    }
    if (logs_secret.empty()) logs_secret = RandomHex(24);
    self_address = options.address;
    if (self_address.empty()) {
      Result<std::string> address = LocalAddressToward(SplitServers(options.server).front());
      if (!address) return address.error();
      self_address = *address;
    }
    bool https = false;
    for (const std::string& server : SplitServers(options.server)) {
      https = https || server.rfind("https://", 0) == 0;
    }
    Result<std::string> logs_cert = PrepareLogsTls(options.state_dir, self_address, https);
    if (!logs_cert) return logs_cert.error();
    bool logs_tls = !logs_cert->empty();
    logs = logs_tls ? std::make_unique<LogEndpoint>(options.state_dir, logs_secret,
                                                    options.state_dir + "/logs-tls.pem",
                                                    options.state_dir + "/logs-tls.key")
                    : std::make_unique<LogEndpoint>(options.state_dir, logs_secret);
    Result<int> port = logs->Bind(options.listen_host, options.logs_port);
    if (!port) return port.error();
    std::string logs_url =
        (logs_tls ? "https://" : "http://") + self_address + ":" + std::to_string(*port);

    Result<json> inventory =
        RegistrationBody({options.pool, options.labels, options.simulate_gpus, self_address,
                          logs_url, logs_secret, *logs_cert, boot_id, kAgentVersion});
    if (!inventory) return inventory.error();
    std::string base = options.name.empty() ? DefaultNodeName() : options.name;
    for (int i = 0; i < options.simulate_nodes; ++i) {
      std::string name = options.simulate_nodes == 1 ? base : base + "-" + std::to_string(i);
      json body = *inventory;
      body["name"] = name;
      bool with_join = agent_token.empty();
      if (with_join && options.join_token.empty()) {
        return Error::Coded("invalid",
                            "--join-token: this agent has no token of its own yet (in " +
                                state_file +
                                "): give the join token an admin created "
                                "(allot nodes join-token)",
                            "join-token");
      }
      auto client = HttpClient::Create(options.server, with_join ? options.join_token : agent_token,
                                       options.ca_file);
      if (!client) return client.error();
      Result<json> reply = (*client)->Call("POST", "/api/v1/agents/register", &body);
      if (!reply) return reply.error();
      heartbeat_ms = reply->value("heartbeat_interval_ms", heartbeat_ms);
      if (with_join) agent_token = reply->value("agent_token", "");
      if (i == 0) {
        // The token (and a logs secret that may be new), owner-only.
        mode_t old_mask = umask(077);
        Status saved = WriteFileAtomically(state_file, json{{"server", options.server},
                                                            {"agent", reply->value("agent", "")},
                                                            {"agent_token", agent_token},
                                                            {"logs_secret", logs_secret}}
                                                           .dump(2));
        umask(old_mask);
        if (!saved) return saved;
      }
      nodes.push_back(name);
      own_nodes.insert(name);
      if (Status s = PrepareTasksDir(options.state_dir, name); !s) return s;
    }
    Say("registered " +
        (nodes.size() == 1 ? "node " + nodes[0] : std::to_string(nodes.size()) + " nodes") +
        " with " + options.server + " (logs at " + logs_url + ")");
    return Status::Ok();
  }

  // ---- what the server wants ----

  Status RefreshPeers(HttpClient& client) {
    Result<std::vector<json>> items = ListAll(client, "/api/v1/nodes");
    if (!items) return items.error();
    std::map<std::string, PeerNode> found;
    for (const auto& item : *items) {
      auto node = wire::DecodeNode(json{{"name", item.value("name", "")},
                                        {"cpu", item.value("cpu", "1")},
                                        {"memory", item.value("memory", "1Mi")},
                                        {"gpus", item.value("gpus", json::array())}});
      if (!node) continue;
      found[node->spec.name] = PeerNode{item.value("address", ""), node->spec.gpus};
    }
    std::lock_guard lock(mutex);
    peers = std::move(found);
    return Status::Ok();
  }

  // Recomputes the tasks of one workload (its stored JSON) on our nodes.
  // Returns false when it names a node the agent does not know yet.
  bool Apply(const json& workload, bool deleted) {
    std::string name = workload.value("name", "");
    // Decoded once, and planned only for our nodes it names (an agent may
    // stand for a thousand).
    auto decoded = deleted ? Result<wire::WorkloadResource>(Error::Coded("deleted", ""))
                           : wire::DecodeStoredWorkload(workload.dump());
    std::set<std::string> here;
    if (decoded) {
      for (const auto& task : decoded->assignments) {
        if (own_nodes.count(task.node)) here.insert(task.node);
      }
    }
    std::lock_guard lock(mutex);
    for (const std::string& entry : keys_by_workload[name]) {
      size_t slash = entry.find('/');
      desired[entry.substr(0, slash)].erase(entry.substr(slash + 1));
    }
    keys_by_workload.erase(name);
    for (const std::string& node : here) {
      std::string missing;
      for (LaunchSpec& spec : TasksForNode(*decoded, node, peers, &missing)) {
        keys_by_workload[name].push_back(node + "/" + spec.Key());
        desired[node][spec.Key()] = std::move(spec);
      }
      if (!missing.empty()) return false;
    }
    return true;
  }

  // Lists the running workloads on our nodes: the whole desired state.
  Result<int64_t> List(HttpClient& client) {
    int64_t revision = 0;
    Result<std::vector<json>> listed =
        ListAll(client, "/api/v1/workloads?status=running", INT64_MAX, &revision);
    if (!listed) return listed.error();
    const std::vector<json>& workloads = *listed;
    {
      std::lock_guard lock(mutex);
      desired.clear();
      keys_by_workload.clear();
    }
    bool complete = true;
    for (const json& workload : workloads) complete = Apply(workload, false) && complete;
    if (!complete) {
      if (Status s = RefreshPeers(client); !s) return s.error();
      for (const json& workload : workloads) Apply(workload, false);
    }
    std::lock_guard lock(mutex);
    synced = true;
    return revision;
  }

  void ForgetClient(std::unique_ptr<HttpClient>& client) {
    std::lock_guard lock(mutex);
    if (watching == client.get()) watching = nullptr;
    client.reset();
  }

  void SyncLoop() {
    int64_t revision = -1;
    int64_t listed_ms = 0;
    int64_t backoff_ms = 500;
    std::unique_ptr<HttpClient> client;
    while (!stopping) {
      if (!client) {
        auto created = Client();
        if (!created) {
          Pause(backoff_ms);
          continue;
        }
        client = std::move(*created);
        client->SetReadTimeout(std::chrono::seconds(40));
        std::lock_guard lock(mutex);
        watching = client.get();
      }
      if (revision < 0 || WallMs() - listed_ms > kRelistMs) {
        if (Status s = RefreshPeers(*client); !s) {
          Say("server unreachable (" + s.error().message + "); tasks keep running, retrying");
          Pause(backoff_ms);
          backoff_ms = std::min<int64_t>(backoff_ms * 2, 10000);
          ForgetClient(client);
          continue;
        }
        Result<int64_t> listed = List(*client);
        if (!listed) {
          Pause(backoff_ms);
          backoff_ms = std::min<int64_t>(backoff_ms * 2, 10000);
          ForgetClient(client);
          continue;
        }
        revision = *listed;
        listed_ms = WallMs();
        backoff_ms = 500;
        changed.notify_all();
      }
      Result<json> watched = client->Call(
          "GET", "/api/v1/watch?kind=workloads&timeout_s=25&since=" + std::to_string(revision));
      if (!watched) {
        revision = -1;  // list again: gone, or the server restarted
        if (watched.error().code != "gone") {
          Pause(backoff_ms);
          backoff_ms = std::min<int64_t>(backoff_ms * 2, 10000);
          ForgetClient(client);
        }
        continue;
      }
      bool complete = true;
      for (const auto& item : (*watched)["items"]) {
        complete = Apply(item["object"], item.value("type", "") == "deleted") && complete;
      }
      if (!complete) {
        // A node we do not know: refresh and list, after a pause (a node
        // removed under a running task stays unknown until the loop
        // releases the task).
        revision = -1;
        Pause(1000);
        continue;
      }
      revision = watched->value("revision", revision);
      if (!(*watched)["items"].empty()) changed.notify_all();
    }
  }

  // ---- heartbeats ----

  void HeartbeatLoop(int64_t interval_ms) {
    std::unique_ptr<HttpClient> client;
    while (!stopping) {
      if (!client) {
        auto created = Client();
        if (created) client = std::move(*created);
      }
      if (client) {
        json gpus = json::array();
        std::vector<GpuUsage> readings;
        if (options.simulate_gpus.empty()) readings = ReadGpuUsage();
        for (const GpuUsage& usage : readings) {
          gpus.push_back({{"index", usage.index},
                          {"memory_used", std::to_string(usage.memory_used_mib) + "Mi"},
                          {"utilization", usage.utilization}});
        }
        std::map<std::string, std::vector<RunningTask>> by_node;
        {
          std::lock_guard lock(mutex);  // what the reconcile thread last saw
          for (const std::string& node : nodes) {
            auto found = running_tasks.find(node);
            if (found != running_tasks.end()) by_node[node] = found->second;
          }
        }
        // One reading for all the nodes' tasks, so that every fraction's
        // interval runs from one heartbeat to the next.
        std::vector<RunningTask> all_running;
        for (const std::string& node : nodes) {
          all_running.insert(all_running.end(), by_node[node].begin(), by_node[node].end());
        }
        // Simulated GPUs run nothing: their tasks are not measured (never idle).
        json measured = options.simulate_gpus.empty()
                            ? usage_meter.Measure(all_running, readings, WallMs())
                            : TaskUsageMeter::Unmeasured(all_running);
        size_t next = 0;
        for (const std::string& node : nodes) {
          json tasks = json::array();
          for (size_t i = 0; i < by_node[node].size(); ++i) tasks.push_back(measured[next++]);
          json body = {
              {"time_ms", WallMs()}, {"boot_id", boot_id}, {"gpus", gpus}, {"tasks", tasks}};
          Result<json> reply = client->Call("PUT", "/api/v1/nodes/" + node + "/heartbeat", &body);
          if (!reply && reply.error().code == "unreachable") {
            ForgetClient(client);
            break;
          }
        }
      }
      Pause(interval_ms);
    }
  }

  // ---- making the machine match ----

  // node -> key -> task; touched by the reconcile thread only.
  std::map<std::string, std::map<std::string, LocalTask>> local_tasks;
  // node -> its running tasks, for heartbeats (under `mutex`).
  std::map<std::string, std::vector<RunningTask>> running_tasks;
  // Their GPU use (heartbeat thread only).
  TaskUsageMeter usage_meter{LedgerDirectory()};

  // Brings local_tasks[node] in line with the task directories on disk.
  std::map<std::string, LocalTask>& ScanTasks(const std::string& node) {
    std::map<std::string, LocalTask>& known = local_tasks[node];
    std::set<std::string> present;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(TasksDir(node), ec)) {
      if (!entry.is_directory()) continue;
      std::string key = entry.path().filename().string();
      present.insert(key);
      if (known.count(key)) continue;
      std::string dir = entry.path().string();
      auto spec = ReadJsonFile(dir + "/spec.json");
      if (!spec) continue;  // being written: seen next time
      // Filled in place: GCC 12 at -O3 takes a moved-from temporary's
      // strings for uninitialized (-Wmaybe-uninitialized).
      LocalTask& task = known[key];
      task.dir = dir;
      task.spec = std::move(*spec);
      task.acknowledged = ReadTextFile(dir + "/reported").value_or("");
    }
    std::erase_if(known, [&](const auto& item) { return !present.count(item.first); });
    return known;
  }

  void ReconcileNode(const std::string& node, HttpClient* client, bool& reachable, bool& probing) {
    int64_t now = WallMs();
    std::map<std::string, LaunchSpec> wanted;
    bool have_sync;
    {
      std::lock_guard lock(mutex);
      wanted = desired[node];
      have_sync = synced;
    }
    std::map<std::string, LocalTask>& local = ScanTasks(node);
    std::set<std::string> busy_gpus;  // held by tasks that are stopping
    std::vector<RunningTask> running;
    std::vector<std::string> expired;
    for (auto& [key, task] : local) {
      bool wanted_here = wanted.count(key) > 0;
      if (task.Settled()) {
        if (!wanted_here && now - task.observed.time_ms > kKeepFinishedMs) expired.push_back(key);
        continue;
      }
      task.observed = ObserveTask(task.dir, now);
      if (!task.observed.Final() && !wanted_here && have_sync) {
        StopTask(task.dir, now);
        for (const auto& uuid : task.spec.value("gpus", std::vector<std::string>{})) {
          busy_gpus.insert(uuid);
        }
      }
      if (task.observed.state == "running") {
        json env = task.spec.value("env", json::object());
        running.push_back({task.spec.value("workload", ""), task.spec.value("task", 0),
                           task.spec.value("attempt", 0), task.observed.pid,
                           task.spec.value("gpus", std::vector<std::string>{}),
                           env.value("ALLOT_GPU_TENANT", ""),
                           env.value("ALLOT_GPU_COMPUTE_SHARE", "100") != "100"});
      }
      if (task.observed.Final()) ReleaseContainerRoot(task.dir);
      if (task.Probed() && task.observed.state == "running") {
        ProbeReplica(task, now);
        probing = probing || FastProbing(task, now);
      }
      // A replica that is starting is looked at again soon: a request may
      // be waiting for it (a cold start).
      if (task.Probed() && task.observed.state == "starting") probing = true;
      if (client && reachable) {
        reachable = ReportTask(*client, task, [this](const std::string& line) { Say(line); });
      }
    }
    for (const std::string& key : expired) {
      std::error_code ec;
      ReleaseContainerRoot(local[key].dir);  // never delete through a mount
      fs::remove_all(local[key].dir, ec);
      local.erase(key);
    }
    {
      std::lock_guard lock(mutex);
      running_tasks[node] = std::move(running);
    }
    for (const auto& [key, spec] : wanted) {
      if (local.count(key) || now < spec.not_before_ms) continue;
      bool waits = false;
      for (const auto& uuid : spec.gpu_uuids) waits = waits || busy_gpus.count(uuid) > 0;
      if (waits) continue;  // the evicted task still holds the GPU
      LaunchSpec launch = spec;
      if (launch.serve_port > 0 && !launch.private_network) {
        // A host replica shares the node's network: a port of its own.
        launch.listen_port = PickFreePort();
        launch.env["PORT"] = std::to_string(launch.listen_port);
      }
      Status launched = LaunchTask(
          TasksDir(node) + "/" + key, launch,
          {options.shim_binary, options.cgroup_parent, options.user_dirs, interposer_library});
      if (launched && launch.serve_port > 0) probing = true;
      if (launched) {
        Say("started " + spec.workload + " task " + std::to_string(spec.task) + " attempt " +
            std::to_string(spec.attempt) + " on " + node);
      } else if (launched.error().code != "already_exists") {
        Say("cannot start " + key + ": " + launched.error().message);
      }
    }
  }

  void ReconcileLoop() {
    std::unique_ptr<HttpClient> client;
    int64_t retry_reports_ms = 0;
    while (!stopping) {
      if (!client) {
        auto created = Client();
        if (created) client = std::move(*created);
      }
      // Reports wait a while after the server could not be reached.
      bool may_report = WallMs() >= retry_reports_ms;
      bool reachable = may_report;
      bool probing = false;
      for (const std::string& node : nodes) ReconcileNode(node, client.get(), reachable, probing);
      if (may_report && !reachable) {
        retry_reports_ms = WallMs() + 2000;
        client.reset();
      }
      std::unique_lock lock(mutex);
      // A replica that is not ready yet is probed often: a request may be
      // waiting for it.
      changed.wait_for(lock, std::chrono::milliseconds(probing ? 20 : 250),
                       [this] { return stopping.load(); });
    }
  }
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Agent::~Agent() {
  Stop();
}

Result<std::unique_ptr<Agent>> Agent::Create(AgentOptions options) {
  if (SplitServers(options.server).empty()) {
    return Error::Coded("invalid",
                        "--server: give the control plane's URL, or its servers' URLs separated "
                        "by commas",
                        "server");
  }
  if (options.simulate_nodes < 1) {
    return Error::Coded("invalid", "--simulate-nodes: give 1 or more", "simulate-nodes");
  }
  if (!options.simulate_gpus.empty()) {
    auto parsed = wire::ParseSimulatedGpus(options.simulate_gpus, "node");
    if (!parsed) {
      return Error::Coded("invalid", "--simulate-gpus: " + parsed.error().message, "simulate-gpus");
    }
  }
  if (options.simulate_nodes > 1 && options.simulate_gpus.empty()) {
    return Error::Coded("invalid", "--simulate-nodes needs --simulate-gpus", "simulate-nodes");
  }
  if (options.state_dir.empty()) options.state_dir = DefaultDataDir() + "/agent";
  if (options.shim_binary.empty()) {
    std::error_code ec;
    options.shim_binary = fs::read_symlink("/proc/self/exe", ec).string();
  }
  if (options.cgroup_parent.empty()) options.cgroup_parent = DefaultCgroupParent();
  if (options.user_dirs.empty()) options.user_dirs = options.state_dir + "/users";
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

Status Agent::Start() {
  Impl& impl = *impl_;
  if (Status s = impl.LoadOrRegister(); !s) return s;
  impl.threads.emplace_back([&impl] { impl.logs->Serve(); });
  impl.threads.emplace_back([&impl] { impl.SyncLoop(); });
  impl.threads.emplace_back([&impl] { impl.HeartbeatLoop(impl.heartbeat_ms); });
  impl.threads.emplace_back([&impl] { impl.ReconcileLoop(); });
  std::vector<std::string> servers = SplitServers(impl.options.server);
  for (const std::string& server : servers) {
    TunnelClientOptions tunnel{server, impl.agent_token, impl.options.ca_file, nullptr, nullptr};
    tunnel.task_dir = [&impl](const std::string& key) {
      return FindTaskDir(impl.options.state_dir, impl.nodes, key);
    };
    tunnel.say = [&impl, server, several = servers.size() > 1](const std::string& line) {
      impl.Say(several ? line + " (" + server + ")" : line);
    };
    impl.tunnels.push_back(std::make_unique<TunnelClient>(std::move(tunnel)));
    impl.tunnels.back()->Start();
  }
  return Status::Ok();
}

void Agent::Stop() {
  Impl& impl = *impl_;
  if (impl.stopping.exchange(true)) return;
  {
    std::lock_guard lock(impl.mutex);
    if (impl.watching) impl.watching->Cancel();
  }
  impl.changed.notify_all();
  if (impl.logs) impl.logs->Stop();
  for (auto& tunnel : impl.tunnels) tunnel->Stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
}

std::vector<std::string> Agent::Nodes() const {
  return impl_->nodes;
}

}  // namespace allot::agent
