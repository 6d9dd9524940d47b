#include "server/serving_controller.h"

#include <algorithm>

#include "common/random_hex.h"
#include "server/replica_plan.h"
#include "server/task_lifecycle.h"

namespace allot::server {
namespace {

using nlohmann::json;
using Op = store::Write::Op;
using wire::WorkloadResource;
using wire::WorkloadStatus;

constexpr int64_t kTickMs = 1000;
// Another server's load counts while it is this recent (it records each tick).
constexpr int64_t kPeerLoadFreshMs = 3 * kTickMs;
// A draining replica ends once nothing is in flight on it (after at least
// this, so that a request routed just before the drain is counted), or
// after kDrainTimeoutMs whatever it serves.
constexpr int64_t kDrainSettleMs = 1000;
constexpr int64_t kDrainTimeoutMs = 60000;
constexpr int64_t kAgentCacheMs = 10000;
constexpr int64_t kFailureBackoffMs = 10000;

bool ReplicaReady(const WorkloadResource& w) {
  return w.status == WorkloadStatus::kRunning && !w.assignments.empty() &&
         w.assignments[0].state == wire::TaskState::kRunning && w.assignments[0].ready &&
         !w.assignments[0].node.empty();
}

// Why a replica does not serve, in words.
std::string NotReadyReason(const WorkloadResource& w) {
  const wire::TaskAssignment& task = w.assignments.front();
  if (w.status != WorkloadStatus::kRunning || task.node.empty()) {
    return "replica " + w.spec.name + " is " + wire::StatusName(w.status) +
           (w.pending_reason.empty() ? "" : ": " + w.pending_reason);
  }
  if (task.state == wire::TaskState::kWaiting) {
    return "replica " + w.spec.name + " restarts after: " + task.reason;
  }
  if (task.state != wire::TaskState::kRunning) {
    return "replica " + w.spec.name + " is starting on node " + task.node;
  }
  return "replica " + w.spec.name + " is not ready" +
         (task.ready_reason.empty() ? "" : ": " + task.ready_reason);
}

}  // namespace

ServingController::ServingController(store::Store& store, std::function<int64_t()> now_ms,
                                     ServiceDirectory& directory, ServiceTraffic& traffic,
                                     std::function<void()> wake_scheduler)
    : store_(store),
      now_ms_(std::move(now_ms)),
      directory_(directory),
      traffic_(traffic),
      wake_scheduler_(std::move(wake_scheduler)) {}

ServingController::~ServingController() {
  Stop();
}

void ServingController::Start() {
  traffic_.OnArrivalAtIdle([this](const std::string&) { Wake(); });
  thread_ = std::thread([this] {
    int64_t seen = -1;
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        woken_ = false;
      }
      (void)RunOnce();
      // Changes (an agent's ready report) and wakes (a request at a
      // service at zero) are acted on within 50 ms; ticks once a second.
      for (int waited = 0; waited < 20; ++waited) {
        int64_t now = store_.WaitForChange(seen, std::chrono::milliseconds(50));
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        if (now != seen || woken_) {
          seen = now;
          break;
        }
      }
    }
  });
}

void ServingController::Wake() {
  std::lock_guard lock(mutex_);
  woken_ = true;
}

void ServingController::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

std::map<std::string, ServiceState> ServingController::States() const {
  std::lock_guard lock(state_mutex_);
  return states_;
}

Status ServingController::Follow() {
  store::ListQuery query;
  query.kind = "services";
  query.limit = 1000;
  std::map<std::string, wire::ServiceResource> listed;
  for (;;) {
    Result<store::Page> page = store_.List(query);
    if (!page) return page.error();
    for (const store::Object& object : page->items) {
      Result<wire::ServiceResource> service = wire::DecodeStoredService(object.body);
      if (service) listed[object.name] = std::move(*service);
    }
    if (!page->more || page->items.empty()) break;
    query.after = page->items.back().name;
  }
  for (auto it = services_.begin(); it != services_.end();) {
    if (listed.count(it->first)) {
      ++it;
      continue;
    }
    traffic_.Forget(it->first);
    it = services_.erase(it);
  }
  for (auto& [name, service] : listed) {
    Tracked& tracked = services_[name];
    if (!tracked.autoscaler) {
      tracked.autoscaler = std::make_unique<Autoscaler>(service.autoscale);
    } else if (!(tracked.service.autoscale == service.autoscale)) {
      tracked.autoscaler->Configure(service.autoscale);
      tracked.next_tick_ms = 0;
    }
    tracked.service = std::move(service);
  }
  if (services_.empty() && active_.revision() < 0) return Status::Ok();
  return active_.Refresh(store_);
}

void ServingController::PublishLoad(Tracked& tracked, const LoadSample& sample, int64_t in_flight,
                                    int64_t last_request_ms, int64_t now_ms) {
  if (!store_.Shared() || !leadership_) return;
  bool busy = in_flight > 0 || sample.concurrency > 0 || sample.rps > 0;
  if (!busy && !tracked.published_busy) return;  // idle, and already said so
  // Best effort: a lost record costs the leader one tick of this server's load.
  (void)store_.RecordServiceLoad({leadership_->holder(), tracked.service.name,
                                  EncodeServiceLoad(sample, in_flight, last_request_ms), now_ms});
  tracked.published_busy = busy;
}

Status ServingController::RunOnce() {
  if (Status s = Follow(); !s) return s;
  int64_t now = now_ms_();
  peers_.clear();
  if (store_.Shared() && leadership_ && Acting()) {
    if (auto loads = store_.ServiceLoads()) {
      peers_ = PeerLoads(*loads, leadership_->holder(), now - kPeerLoadFreshMs);
    }
  }
  bool changed = false;
  // Replicas of services that are gone end too.
  for (const auto& [name, entry] : active_.entries()) {
    const wire::ReplicaSpec& replica = entry.workload.replica;
    if (replica.IsSet() && !services_.count(replica.service) && Acting()) {
      if (EndReplica(name, "service " + replica.service + " was deleted")) changed = true;
    }
  }
  std::map<std::string, ServiceRoute> routes;
  std::map<std::string, ServiceState> states;
  for (auto& [name, tracked] : services_) {
    Reconcile(tracked, now, changed);
    routes[name] = RouteOf(tracked, now);
    ServiceState state;
    state.desired = tracked.decision.desired;
    state.panicking = tracked.decision.panicking;
    state.stable_load = tracked.decision.stable_load;
    state.panic_load = tracked.decision.panic_load;
    state.draining = static_cast<int32_t>(tracked.draining.size());
    state.replicas = static_cast<int32_t>(tracked.known.size());
    for (const ServiceEndpoint& endpoint : routes[name].endpoints) {
      state.ready += endpoint.draining ? 0 : 1;
    }
    state.not_ready_reason = routes[name].not_ready_reason;
    states[name] = std::move(state);
  }
  directory_.Publish(std::move(routes));
  {
    std::lock_guard lock(state_mutex_);
    states_ = std::move(states);
  }
  if (changed && wake_scheduler_) wake_scheduler_();
  return Status::Ok();
}

void ServingController::Reconcile(Tracked& tracked, int64_t now, bool& changed) {
  const wire::ServiceResource& service = tracked.service;
  std::vector<ReplicaView> views;
  std::set<std::string> active;
  int32_t ready = 0;
  for (const auto& [name, entry] : active_.entries()) {
    const WorkloadResource& w = entry.workload;
    if (w.replica.service != service.name) continue;
    active.insert(name);
    bool is_ready = ReplicaReady(w);
    if (tracked.draining.count(name)) continue;
    ready += is_ready ? 1 : 0;
    views.push_back({name, w.replica.generation, is_ready, w.created_ms});
  }
  if (ready > 0) tracked.failures = 0;
  // A replica that left the active set without being drained ended on its
  // own (it failed for good): its replacement waits a backoff.
  for (const std::string& name : tracked.known) {
    if (active.count(name) || tracked.draining.count(name)) continue;
    ++tracked.failures;
    tracked.create_after_ms =
        now +
        std::min(kFailureBackoffMs << std::min(tracked.failures - 1, 10), kMaxRestartBackoffMs);
  }
  std::erase_if(tracked.draining, [&](const auto& item) { return !active.count(item.first); });
  tracked.known = active;

  int64_t in_flight = 0;
  int64_t last_request = 0;
  bool cold = ready == 0 && tracked.decision.desired == 0;
  auto peers = peers_.find(service.name);
  if (now >= tracked.next_tick_ms) {
    LoadSample sample = traffic_.Sample(service.name, now, in_flight, last_request);
    PublishLoad(tracked, sample, in_flight, last_request, now);
    if (peers != peers_.end()) AddPeerLoad(peers->second, sample, in_flight, last_request);
    tracked.autoscaler->Record(sample);
    tracked.next_tick_ms = now + kTickMs;
    tracked.decision = tracked.autoscaler->Decide(now, ready, in_flight, last_request);
  } else if (cold) {
    // Between ticks only a service at zero with a request waiting acts.
    TrafficSummary summary = traffic_.Summary(service.name, now);
    if (summary.in_flight > 0 && !Acting()) {
      // A request waits here, at a follower: the leader must hear of it now.
      PublishLoad(tracked, LoadSample{now, 0, 0}, summary.in_flight, summary.last_request_ms, now);
    }
    int64_t waiting = summary.in_flight + (peers != peers_.end() ? peers->second.in_flight : 0);
    if (waiting > 0) tracked.decision.desired = std::max(1, service.autoscale.min_replicas);
  }
  ReplicaActions actions = PlanReplicas(tracked.decision.desired, service.generation, views);
  for (const std::string& name : actions.drain) tracked.draining.emplace(name, now);
  if (!Acting()) {
    tracked.draining.clear();  // the leader drains; a follower only routes
    return;
  }
  if (actions.create > 0 && now >= tracked.create_after_ms) {
    for (int32_t i = 0; i < actions.create; ++i) {
      if (CreateReplica(tracked, now)) changed = true;
    }
  }
  for (auto it = tracked.draining.begin(); it != tracked.draining.end();) {
    int64_t since = it->second;
    bool idle = now - since >= kDrainSettleMs && traffic_.ReplicaInFlight(it->first) == 0;
    if (!idle && now - since < kDrainTimeoutMs) {
      ++it;
      continue;
    }
    const WorkloadResource& w = active_.entries().at(it->first).workload;
    std::string reason = w.replica.generation < service.generation
                             ? "replaced by generation " + std::to_string(service.generation)
                             : "scaled in by the autoscaler";
    if (EndReplica(it->first, reason)) changed = true;
    ++it;
  }
}

Status ServingController::CreateReplica(const Tracked& tracked, int64_t now) {
  const wire::ServiceResource& service = tracked.service;
  Result<WorkloadResource> made = wire::DecodeStoredWorkload(service.replica_workload.dump());
  if (!made) return made.error();
  WorkloadResource& w = *made;
  w.replica = {service.name, service.generation, service.port, service.ready_path};
  w.owner = service.owner;
  w.status = WorkloadStatus::kPending;
  w.created_ms = now;
  w.spec.submitted_at = now;
  w.max_restarts = 100;
  for (int tries = 0; tries < 3; ++tries) {
    w.spec.name = service.name + "-" + RandomHex(3);
    Result<int64_t> committed =
        CommitAction({{Op::kCreate, "workloads", w.spec.name, wire::EncodeWorkload(w).dump(), 0}});
    if (committed) return Status::Ok();
    if (committed.error().code != "already_exists") return committed.error();
  }
  return Error::Coded("conflict", "no free replica name");
}

Status ServingController::EndReplica(const std::string& name, const std::string& reason) {
  Result<store::Object> object = store_.Get("workloads", name);
  if (!object) return object.error();
  Result<WorkloadResource> w = wire::DecodeStoredWorkload(object->body);
  if (!w) return w.error();
  if (!wire::IsActive(w->status)) return Status::Ok();
  EndWorkload(*w, WorkloadStatus::kDeleted, reason);
  Result<int64_t> committed = CommitAction(
      {{Op::kUpdate, "workloads", name, wire::EncodeWorkload(*w).dump(), object->revision}});
  if (!committed) return committed.error();
  return Status::Ok();
}

Result<int64_t> ServingController::CommitAction(const std::vector<store::Write>& writes) {
  std::optional<store::Lease> lease = leadership_ ? leadership_->Current() : std::nullopt;
  if (leadership_ && !lease) {
    return Error::Coded("fenced", "this server no longer leads", "lease");
  }
  return lease ? store_.CommitFenced(writes, *lease) : store_.Commit(writes);
}

std::string ServingController::AgentOf(const std::string& node, int64_t now) {
  auto cached = agents_.find(node);
  if (cached != agents_.end() && now - cached->second.second < kAgentCacheMs) {
    return cached->second.first;
  }
  std::string agent;
  Result<store::Object> object = store_.Get("nodes", node);
  if (object) {
    json body = json::parse(object->body, nullptr, false);
    if (body.is_object()) agent = body.value("agent", "");
  }
  agents_[node] = {agent, now};
  return agent;
}

ServiceRoute ServingController::RouteOf(const Tracked& tracked, int64_t now) {
  const wire::ServiceResource& service = tracked.service;
  ServiceRoute route;
  route.name = service.name;
  route.project = service.project;
  route.port = service.port;
  route.is_public = service.is_public;
  route.cold_start_timeout_ms = service.cold_start_timeout_ms;
  std::string reason;
  for (const std::string& name : tracked.known) {
    const WorkloadResource& w = active_.entries().at(name).workload;
    if (!ReplicaReady(w)) {
      if (reason.empty()) reason = NotReadyReason(w);
      continue;
    }
    std::string agent = AgentOf(w.assignments[0].node, now);
    if (agent.empty()) {
      if (reason.empty()) {
        reason = "replica " + name + " runs on node " + w.assignments[0].node +
                 ", which has no agent (a simulated node): there is no process to reach";
      }
      continue;
    }
    route.endpoints.push_back(
        {name, agent, w.assignments[0].attempt, tracked.draining.count(name) > 0});
  }
  if (route.endpoints.empty()) {
    if (!reason.empty()) {
      route.not_ready_reason = reason;
    } else if (tracked.decision.desired == 0) {
      route.not_ready_reason = "the service is scaled to zero and no replica has started yet";
    } else if (now < tracked.create_after_ms) {
      route.not_ready_reason = "its replicas failed " + std::to_string(tracked.failures) +
                               " times; the next starts in " +
                               std::to_string((tracked.create_after_ms - now + 999) / 1000) + " s";
    } else {
      route.not_ready_reason = "no replica is ready yet";
    }
  }
  return route;
}

}  // namespace allot::server
