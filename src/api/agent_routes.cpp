#include "api/agent_routes.h"

#include <openssl/x509.h>

#include "common/quantity.h"
#include "server/events.h"
#include "tunnel/self_signed.h"
#include "wire/heartbeat.h"
#include "wire/json_reader.h"
#include "wire/resources.h"

namespace allot::api {

using server::AgentTimings;
using server::MakeEvent;
using server::NodeLiveness;
using server::WorkloadUsage;
using wire::CheckName;
using wire::DecodeGpuUsage;
using wire::DecodeNode;
using wire::DecodeStoredWorkload;
using wire::DecodeTaskReport;
using wire::DecodeTaskUsage;
using wire::EncodeNode;
using wire::EncodeWorkload;
using wire::GpuUsageSample;
using wire::IsActive;
using wire::IsFinalTaskState;
using wire::JsonReader;
using wire::NodeResource;
using wire::ParseJsonObject;
using wire::StatusName;
using wire::TaskAssignment;
using wire::TaskReport;
using wire::TaskUsageReport;
using wire::WorkloadResource;

namespace {

using nlohmann::json;
using store::Write;
using Op = store::Write::Op;

// An agent's record (kind "agents", never served): the join token that
// admitted it, the secret the server shows its log endpoint, and that
// endpoint's self-signed certificate (the one the server trusts there).
struct AgentRecord {
  std::string id;
  std::string join_token;
  std::string logs_secret;
  int64_t created_ms = 0;
  std::string logs_cert;
};

json EncodeAgent(const AgentRecord& agent) {
  json out = {{"id", agent.id},
              {"join_token", agent.join_token},
              {"logs_secret", agent.logs_secret},
              {"created_ms", agent.created_ms}};
  if (!agent.logs_cert.empty()) out["logs_cert"] = agent.logs_cert;
  return out;
}

AgentRecord DecodeAgent(const std::string& body) {
  json parsed = json::parse(body, nullptr, false);
  AgentRecord agent;
  if (!parsed.is_object()) return agent;
  agent.id = parsed.value("id", "");
  agent.join_token = parsed.value("join_token", "");
  agent.logs_secret = parsed.value("logs_secret", "");
  agent.logs_cert = parsed.value("logs_cert", "");
  agent.created_ms = parsed.value("created_ms", int64_t{0});
  return agent;
}

Result<NodeResource> LoadNode(store::Store& store, const std::string& name, int64_t* revision) {
  Result<store::Object> stored = store.Get("nodes", name);
  if (!stored) {
    return MissingOr(stored.error(),
                     Error::Coded("not_found", "node '" + name + "' is not registered", "node"));
  }
  if (revision) *revision = stored->revision;
  return DecodeNode(json::parse(stored->body));
}

Error NotYourNode(const std::string& name) {
  return Error::Coded("forbidden", "node '" + name + "' belongs to another agent", "node");
}

}  // namespace

bool NamesAnyNode(const json& workload, const std::set<std::string>& nodes) {
  auto tasks = workload.find("assignments");
  if (tasks == workload.end() || !tasks->is_array()) return false;
  for (const auto& task : *tasks) {
    for (const char* field : {"node", "previous_node"}) {
      auto value = task.find(field);
      if (value != task.end() && value->is_string() && nodes.count(value->get<std::string>())) {
        return true;
      }
    }
  }
  return false;
}

AgentRoutes::AgentRoutes(store::Store& store, const ApiOptions& options, NodeLiveness& liveness,
                         WorkloadUsage& workload_usage, CommitAudited commit_audited)
    : store_(store),
      options_(options),
      liveness_(liveness),
      workload_usage_(workload_usage),
      commit_audited_(std::move(commit_audited)),
      sessions_(store_, options_.now_ms, liveness_, workload_usage_, options_.agent_timings,
                options_.on_change) {}

Result<User> AgentRoutes::AuthenticateJoinToken(const std::string& text) {
  const std::string prefix = kJoinTokenPrefix;
  auto parts = SplitToken("allot_" + text.substr(prefix.size()));
  Error refused = Error::Coded("unauthenticated",
                               "the join token is not valid: ask an admin for a new one "
                               "(allot nodes join-token)");
  if (!parts) return refused;
  Result<store::Object> stored = store_.Get("join_tokens", parts->first);
  // A store out of reach is not a bad token: 503, so the agent tries another server.
  if (!stored) return stored.error().code == "not_found" ? refused : stored.error();
  Result<JoinTokenRecord> token = DecodeJoinToken(stored->body);
  if (!token || !ConstantTimeEquals(token->secret_hash, Sha256Hex(parts->second))) return refused;
  if (token->expires_ms != 0 && options_.now_ms() >= token->expires_ms) {
    return Error::Coded("unauthenticated",
                        "the join token has expired: ask an admin for a new one (allot nodes "
                        "join-token)");
  }
  if (token->used >= token->uses) {
    return Error::Coded("unauthenticated",
                        "the join token is used up (it admitted " + std::to_string(token->uses) +
                            " agent" + (token->uses == 1 ? "" : "s") +
                            "): ask an admin for a new one; a registered agent re-registers "
                            "with its own agent token");
  }
  User user;
  user.name = "join-token:" + token->id;
  user.join_token = token->id;
  return user;
}

Result<Reply> AgentRoutes::CreateJoinToken(const httplib::Request& req, const Caller& caller) {
  if (!Allows(caller.user, Access::kAdminister, {})) return Forbidden("creating join tokens");
  Result<json> body = ParseJsonObject(req.body.empty() ? "{}" : req.body);
  if (!body) return body.error();
  JsonReader reader(*body);
  int32_t uses = 1;
  int64_t expires_in_s = 3600;
  std::string pool;
  if (Status s = reader.Int32("uses", uses, 1, 100000); !s) return s.error();
  if (Status s = reader.Int("expires_in_s", expires_in_s, 0, 366LL * 24 * 3600); !s) {
    return s.error();
  }
  if (Status s = reader.String("pool", pool); !s) return s.error();
  if (Status s = reader.Finish(); !s) return s.error();
  if (!pool.empty()) {
    if (Status s = CheckName(pool, "pool"); !s) return s.error();
  }
  int64_t now = options_.now_ms();
  Result<NewToken> issued = IssueToken("", now);
  if (!issued) return issued.error();
  JoinTokenRecord record;
  record.id = issued->record.id;
  record.secret_hash = issued->record.secret_hash;
  record.uses = uses;
  record.expires_ms = expires_in_s == 0 ? 0 : now + expires_in_s * 1000;
  record.pool = pool;
  record.created_by = caller.user.name;
  record.created_ms = now;
  Result<int64_t> revision = commit_audited_(
      caller, {{Op::kCreate, "join_tokens", record.id, EncodeJoinToken(record).dump(), 0}}, 201);
  if (!revision) return revision.error();
  // issued->text is "allot_<id>_<secret>"; a join token reads "allot_join_...".
  std::string text = kJoinTokenPrefix + issued->text.substr(6);
  json out = {{"id", record.id},
              {"token", text},
              {"uses", uses},
              {"expires_ms", record.expires_ms},
              {"note", "shown once: give it to `allot agent --join-token`"}};
  if (!pool.empty()) out["pool"] = pool;
  return Reply{201, out};
}

Result<Reply> AgentRoutes::Register(const httplib::Request& req, const Caller& caller) {
  if (caller.user.join_token.empty() && caller.user.agent.empty()) {
    return Forbidden(
        "registering nodes: an agent registers with a join token (allot nodes "
        "join-token) or its agent token");
  }
  // A join token is used once per agent: two agents racing with the last
  // use of a token conflict on its revision, and one of them is refused.
  for (int attempt = 0;; ++attempt) {
    Result<Reply> reply = RegisterNode(req, caller);
    if (reply || reply.error().code != "conflict" || attempt == 4) return reply;
  }
}

Result<Reply> AgentRoutes::RegisterNode(const httplib::Request& req, const Caller& caller) {
  Result<json> body = ParseJsonObject(req.body);
  if (!body) return body.error();
  for (const char* server_field : {"agent", "state", "simulated"}) {
    if (body->contains(server_field)) {
      return Error::Coded("invalid",
                          std::string(server_field) + ": set by the server, not by the agent",
                          server_field);
    }
  }
  std::string logs_secret;
  std::string logs_cert;
  for (auto [field, value] : {std::pair{"logs_secret", &logs_secret}, {"logs_cert", &logs_cert}}) {
    if (auto found = body->find(field); found != body->end()) {
      if (!found->is_string()) {
        return Error::Coded("invalid", std::string(field) + ": expected a string", field);
      }
      *value = found->get<std::string>();
      body->erase(found);
    }
  }
  Result<NodeResource> node = DecodeNode(*body);
  if (!node) return node.error();
  if (node->address.empty()) {
    return Error::Coded("invalid", "address: give the address other nodes reach this one at",
                        "address");
  }
  int64_t now = options_.now_ms();
  std::vector<Write> writes;
  std::string agent_id = caller.user.agent;
  std::string agent_token;
  if (!caller.user.join_token.empty()) {
    // A new agent: use the join token once, issue the agent its token.
    Result<store::Object> stored = store_.Get("join_tokens", caller.user.join_token);
    if (!stored) {
      return MissingOr(stored.error(),
                       Error::Coded("unauthenticated", "the join token no longer exists"));
    }
    Result<JoinTokenRecord> join = DecodeJoinToken(stored->body);
    if (!join) return join.error();
    ++join->used;
    writes.push_back(
        {Op::kUpdate, "join_tokens", join->id, EncodeJoinToken(*join).dump(), stored->revision});
    if (!join->pool.empty()) node->spec.pool = join->pool;
    Result<NewToken> issued = IssueToken("", now);
    if (!issued) return issued.error();
    agent_id = issued->record.id;
    issued->record.user = AgentUserName(agent_id);
    agent_token = issued->text;
    writes.push_back(
        {Op::kCreate, "tokens", issued->record.id, EncodeToken(issued->record).dump(), 0});
    writes.push_back({Op::kCreate, "agents", agent_id,
                      EncodeAgent({agent_id, join->id, logs_secret, now, logs_cert}).dump(), 0});
  } else {
    Result<store::Object> stored = store_.Get("agents", agent_id);
    if (!stored) {
      return MissingOr(stored.error(),
                       Error::Coded("unauthenticated", "the agent is no longer registered"));
    }
    AgentRecord agent = DecodeAgent(stored->body);
    // A restarted agent's endpoint has a new certificate (and maybe secret).
    if ((!logs_secret.empty() && logs_secret != agent.logs_secret) ||
        logs_cert != agent.logs_cert) {
      if (!logs_secret.empty()) agent.logs_secret = logs_secret;
      agent.logs_cert = logs_cert;
      writes.push_back(
          {Op::kUpdate, "agents", agent_id, EncodeAgent(agent).dump(), stored->revision});
    }
  }
  node->agent = agent_id;
  int64_t node_revision = 0;
  Result<NodeResource> existing = LoadNode(store_, node->spec.name, &node_revision);
  if (existing) {
    if (existing->agent != agent_id) {
      return Error::Coded("already_exists",
                          "node '" + node->spec.name +
                              "' is registered by another agent or by an admin: pick another "
                              "--name, or remove the node first (DELETE /api/v1/nodes/" +
                              node->spec.name + ")",
                          "name");
    }
    // Re-registration (a restart or a reboot): new inventory, same
    // assignments; the agent reports its tasks' true state.
    if (!caller.user.join_token.empty()) node->spec.pool = existing->spec.pool;
    node->state = wire::NodeState::kReady;
    writes.push_back(
        {Op::kUpdate, "nodes", node->spec.name, EncodeNode(*node).dump(), node_revision});
  } else {
    writes.push_back({Op::kCreate, "nodes", node->spec.name, EncodeNode(*node).dump(), 0});
  }
  Result<int64_t> revision = commit_audited_(caller, writes, existing ? 200 : 201);
  if (!revision) return revision.error();
  liveness_.Heard(node->spec.name, now);
  if (options_.on_change) options_.on_change();
  const AgentTimings& timings = options_.agent_timings;
  json out = {{"node", node->spec.name},
              {"agent", agent_id},
              {"pool", node->spec.pool},
              {"heartbeat_interval_ms", timings.heartbeat_interval_ms},
              {"lost_after_ms", timings.lost_after_ms},
              {"revision", *revision}};
  if (!agent_token.empty()) out["agent_token"] = agent_token;
  return Reply{existing ? 200 : 201, out};
}

Result<Reply> AgentRoutes::Heartbeat(const httplib::Request& req, const Caller& caller) {
  std::string name = PathName(req);
  int64_t revision = 0;
  Result<NodeResource> node = LoadNode(store_, name, &revision);
  if (!node) return node.error();
  if (caller.user.agent.empty() || node->agent != caller.user.agent) return NotYourNode(name);
  Result<json> body = ParseJsonObject(req.body.empty() ? "{}" : req.body);
  if (!body) return body.error();
  JsonReader reader(*body);
  int64_t time_ms = 0;
  std::string boot_id;
  if (Status s = reader.Int("time_ms", time_ms, 0, INT64_MAX); !s) return s.error();
  if (Status s = reader.String("boot_id", boot_id); !s) return s.error();
  const json* gpus = reader.Find("gpus");
  const json* tasks = reader.Find("tasks");
  if (Status s = reader.Finish(); !s) return s.error();
  for (auto [field, value] : {std::pair{"gpus", gpus}, {"tasks", tasks}}) {
    if (value && !value->is_array()) {
      return Error::Coded("invalid", std::string(field) + ": expected a list", field);
    }
  }
  std::vector<GpuUsageSample> usage;
  for (const json& gpu : gpus ? *gpus : json::array()) {
    Result<GpuUsageSample> sample = DecodeGpuUsage(gpu);
    if (!sample) return sample.error();
    usage.push_back(*sample);
  }
  std::vector<TaskUsageReport> task_usage;
  for (const json& entry : tasks ? *tasks : json::array()) {
    Result<TaskUsageReport> report = DecodeTaskUsage(entry);
    if (!report) return report.error();
    task_usage.push_back(*report);
  }
  std::vector<Write> back = sessions_.Heartbeat(*node, revision, std::move(usage), task_usage);
  if (!back.empty()) {
    Result<int64_t> committed = commit_audited_(caller, back, 200);
    if (!committed) return committed.error();
    if (options_.on_change) options_.on_change();
  }
  return Reply{200,
               {{"node", name},
                {"state", wire::NodeStateName(node->state)},
                {"heartbeat_interval_ms", options_.agent_timings.heartbeat_interval_ms}}};
}

Result<Reply> AgentRoutes::ReportTaskStatus(const httplib::Request& req, const Caller& caller) {
  std::string name = req.matches.size() > 2 ? std::string(req.matches[1]) : std::string();
  int32_t task = -1;
  try {
    task = std::stoi(std::string(req.matches[2]));
  } catch (const std::exception&) {
    return Error::Coded("invalid", "task: a task number", "task");
  }
  Result<json> body = ParseJsonObject(req.body);
  if (!body) return body.error();
  Result<TaskReport> report = DecodeTaskReport(*body);
  if (!report) return report.error();
  Result<NodeResource> node = LoadNode(store_, report->node, nullptr);
  if (!node) return node.error();
  if (caller.user.agent.empty() || node->agent != caller.user.agent) {
    return NotYourNode(report->node);
  }
  Result<server::AgentSessions::ReportResult> result = sessions_.ReportTask(name, task, *report);
  if (!result) return result.error();
  json out = {{"workload", name}, {"status", StatusName(result->status)}};
  if (result->revision > 0) out["revision"] = result->revision;
  return Reply{200, out};
}

Result<std::set<std::string>> AgentRoutes::NodesOf(const std::string& agent_id) {
  std::set<std::string> nodes;
  store::ListQuery query{"nodes", "", 1000, {{"agent", agent_id}}};
  for (;;) {
    Result<store::Page> page = store_.List(query);
    if (!page) return page.error();
    for (const auto& object : page->items) nodes.insert(object.name);
    if (!page->more) return nodes;
    query.after = page->items.back().name;
  }
}

namespace {

// A client for a node's log endpoint; over https it trusts only the
// certificate that the node's agent registered.
std::unique_ptr<httplib::Client> LogsClient(const std::string& url, const std::string& cert) {
  auto client = std::make_unique<httplib::Client>(url);
  client->set_connection_timeout(5);
  if (url.rfind("https://", 0) == 0) {
    if (X509_STORE* store = tunnel::StoreTrusting(cert)) client->set_ca_cert_store(store);
  }
  return client;
}

}  // namespace

Result<Reply> AgentRoutes::Logs(const httplib::Request& req, const Caller&,
                                const std::function<bool(const std::string&)>& may_read) {
  std::string name = PathName(req);
  Result<store::Object> stored = store_.Get("workloads", name);
  if (!stored) return stored.error();
  Result<WorkloadResource> workload = DecodeStoredWorkload(stored->body);
  if (!workload) return workload.error();
  if (!may_read(workload->spec.queue)) return Forbidden("reading this workload's logs");
  int32_t task = 0;
  try {
    if (req.has_param("task")) task = std::stoi(req.get_param_value("task"));
  } catch (const std::exception&) {
    task = -1;
  }
  if (task < 0 || static_cast<size_t>(task) >= workload->assignments.size()) {
    return Error::Coded("invalid",
                        "task: workload '" + name + "' has tasks 0 to " +
                            std::to_string(workload->assignments.size() - 1),
                        "task");
  }
  const TaskAssignment& assigned = workload->assignments[static_cast<size_t>(task)];
  std::string node_name = assigned.node.empty() ? assigned.previous_node : assigned.node;
  if (node_name.empty()) {
    return Error::Coded("not_found",
                        "task " + std::to_string(task) + " of '" + name +
                            "' has not run yet: no logs (allot describe " + name + ")",
                        "task");
  }
  Result<NodeResource> node = LoadNode(store_, node_name, nullptr);
  if (!node) return node.error();
  if (node->logs_url.empty()) {
    return Error::Coded("not_found",
                        "node " + node_name +
                            " has no agent (a simulated node registered by an admin): its tasks "
                            "run no processes and have no logs",
                        "task");
  }
  Result<store::Object> agent_object = store_.Get("agents", node->agent);
  if (!agent_object && agent_object.error().code != "not_found") return agent_object.error();
  AgentRecord agent = agent_object ? DecodeAgent(agent_object->body) : AgentRecord{};
  const std::string& secret = agent.logs_secret;
  bool follow = req.get_param_value("follow") == "1" || req.get_param_value("follow") == "true";
  std::string path = "/v1/logs/" + name + "/" + std::to_string(task) + "?node=" + node_name +
                     (follow ? "&follow=1" : "");
  if (req.has_param("attempt")) path += "&attempt=" + req.get_param_value("attempt");
  std::string unreachable = "node " + node_name + " does not answer at " + node->logs_url +
                            ": its logs are on the node, in the agent's state directory";
  httplib::Headers headers = {{"X-Allot-Logs-Secret", secret}};
  if (!follow) {
    std::unique_ptr<httplib::Client> client = LogsClient(node->logs_url, agent.logs_cert);
    client->set_read_timeout(30);
    httplib::Result result = client->Get(path, headers);
    if (!result) return Error::Coded("unavailable", unreachable);
    if (result->status != 200) {
      return Error::Coded(result->status == 404 ? "not_found" : "unavailable",
                          "node " + node_name + ": " + result->body);
    }
    return Reply::Raw(result->body, "text/plain; charset=utf-8");
  }
  // Following: check the agent answers, then stream its reply through.
  {
    httplib::Result result = LogsClient(node->logs_url, agent.logs_cert)->Head(path, headers);
    if (!result) return Error::Coded("unavailable", unreachable);
    if (result->status == 404) {
      return Error::Coded("not_found", "node " + node_name + " has no logs for task " +
                                           std::to_string(task) + " of '" + name + "' yet");
    }
  }
  std::string url = node->logs_url;
  return Reply::Stream(
      [url, cert = agent.logs_cert, path, headers](size_t, httplib::DataSink& sink) {
        std::unique_ptr<httplib::Client> client = LogsClient(url, cert);
        client->set_read_timeout(24 * 3600);
        client->Get(path, headers,
                    [&](const char* data, size_t length) { return sink.write(data, length); });
        sink.done();
        return true;
      },
      "text/plain; charset=utf-8");
}

}  // namespace allot::api
