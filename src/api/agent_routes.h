// The routes node agents use (docs/agent-protocol.md): join tokens,
// registration, heartbeats, task reports, and the logs the server fetches
// from an agent for `allot logs`. HttpApi registers them; each returns a
// reply or an error, as every route does.
#pragma once

#include <httplib.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "api/http_api.h"
#include "api/route_support.h"
#include "server/agent_sessions.h"
#include "server/node_liveness.h"
#include "store/store.h"

namespace allot::api {

class AgentRoutes {
 public:
  // Commits a request's writes with its audit entry (HttpApi's).
  using CommitAudited =
      std::function<Result<int64_t>(const Caller&, const std::vector<store::Write>&, int32_t)>;

  AgentRoutes(store::Store& store, const ApiOptions& options, server::NodeLiveness& liveness,
              server::WorkloadUsage& workload_usage, CommitAudited commit_audited);

  // Checks a join token's text ("allot_join_<id>_<secret>"): the caller it
  // stands for, or "unauthenticated" (wrong, expired, used up).
  Result<User> AuthenticateJoinToken(const std::string& text);

  // POST /api/v1/join-tokens (admins): a new join token, shown once.
  Result<Reply> CreateJoinToken(const httplib::Request& req, const Caller& caller);
  // POST /api/v1/agents/register: with a join token, a new agent and its
  // node; with an agent token, a node of that agent (re-registered or new).
  Result<Reply> Register(const httplib::Request& req, const Caller& caller);
  // PUT /api/v1/nodes/{name}/heartbeat (the node's agent).
  Result<Reply> Heartbeat(const httplib::Request& req, const Caller& caller);
  // PUT /api/v1/workloads/{name}/tasks/{task}/status (the node's agent).
  Result<Reply> ReportTaskStatus(const httplib::Request& req, const Caller& caller);
  // GET /api/v1/workloads/{name}/logs?task=&attempt=&follow=: fetched from
  // the agent of the task's node, streamed when following; `may_read`
  // tells whether the caller may read a workload of a project.
  Result<Reply> Logs(const httplib::Request& req, const Caller& caller,
                     const std::function<bool(const std::string&)>& may_read);

  // The nodes an agent registered.
  Result<std::set<std::string>> NodesOf(const std::string& agent_id);

 private:
  Result<Reply> RegisterNode(const httplib::Request& req, const Caller& caller);

  store::Store& store_;
  const ApiOptions& options_;
  server::NodeLiveness& liveness_;
  server::WorkloadUsage& workload_usage_;
  CommitAudited commit_audited_;
  server::AgentSessions sessions_;
};

// Whether a stored workload (JSON) names one of `nodes` in its tasks'
// current or previous node: what an agent watching those nodes sees.
bool NamesAnyNode(const nlohmann::json& workload, const std::set<std::string>& nodes);

}  // namespace allot::api
