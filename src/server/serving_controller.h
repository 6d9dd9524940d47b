// The serving controller (docs/serving.md): makes each inference service's
// replicas match what its autoscaler asks for. It follows the store (the
// services, their replicas' workloads as the scheduling loop and the agents
// change them), ticks each service's autoscaler once a second on the load
// the gateway measured (ServiceTraffic), creates replica workloads from the
// service's template, drains and ends surplus and outdated ones (a rolling
// update), and publishes every service's ready replicas to the gateway
// (ServiceDirectory). A request at a service with nothing in flight wakes
// it at once, so a service at zero starts a replica without waiting for a
// tick.
//
// Replicas are independent workloads of one task: each restarts alone with
// backoff (server/task_lifecycle.h), a replica on a lost node runs again
// elsewhere, and a replica that ended for good (it failed too often or
// could not start) is replaced after a backoff of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/result.h"
#include "server/active_workloads.h"
#include "server/autoscaler.h"
#include "server/leadership.h"
#include "server/peer_load.h"
#include "server/service_directory.h"
#include "server/service_traffic.h"
#include "store/store.h"
#include "wire/service.h"

namespace allot::server {

// A service as describe shows it.
struct ServiceState {
  int32_t desired = 0;
  int32_t replicas = 0;  // active, draining ones included
  int32_t ready = 0;
  int32_t draining = 0;
  bool panicking = false;
  double stable_load = 0;
  double panic_load = 0;
  std::string not_ready_reason;  // why no replica serves, when none does
};

class ServingController {
 public:
  // `wake_scheduler`: called after replicas were created or ended.
  ServingController(store::Store& store, std::function<int64_t()> now_ms,
                    ServiceDirectory& directory, ServiceTraffic& traffic,
                    std::function<void()> wake_scheduler);
  ~ServingController();

  // One pass on the caller's thread: follow the store, tick the
  // autoscalers that are due, act, publish.
  Status RunOnce();

  void Start();
  void Wake();
  void Stop();

  // Every service's state after the last pass.
  std::map<std::string, ServiceState> States() const;

  // Replicas are created and ended only while `leadership` says this server
  // leads, with its lease as the fence; other servers follow and publish
  // routes for their gateways. Call before Start().
  void SetLeadership(Leadership* leadership) { leadership_ = leadership; }

 private:
  struct Tracked {
    wire::ServiceResource service;
    std::unique_ptr<Autoscaler> autoscaler;
    int64_t next_tick_ms = 0;
    ScaleDecision decision;
    std::map<std::string, int64_t> draining;  // replica -> since (ms)
    std::set<std::string> known;              // active replicas last pass
    int32_t failures = 0;                     // replicas that ended since one was ready
    int64_t create_after_ms = 0;              // a failure's backoff
    bool published_busy = false;              // the last load recorded had traffic
  };

  Status Follow();
  void Reconcile(Tracked& tracked, int64_t now_ms, bool& changed);
  Status CreateReplica(const Tracked& tracked, int64_t now_ms);
  Status EndReplica(const std::string& name, const std::string& reason);
  // Whether this server acts (leads, or no leadership is set), and the
  // commit of what it does.
  bool Acting() const { return !leadership_ || leadership_->Leading(); }
  Result<int64_t> CommitAction(const std::vector<store::Write>& writes);
  // With several servers: records this gateway's load of a service for the
  // leader (server/peer_load.h), while it has traffic and once after.
  void PublishLoad(Tracked& tracked, const LoadSample& sample, int64_t in_flight,
                   int64_t last_request_ms, int64_t now_ms);
  std::string AgentOf(const std::string& node, int64_t now_ms);
  ServiceRoute RouteOf(const Tracked& tracked, int64_t now_ms);

  store::Store& store_;
  std::function<int64_t()> now_ms_;
  ServiceDirectory& directory_;
  ServiceTraffic& traffic_;
  std::function<void()> wake_scheduler_;
  Leadership* leadership_ = nullptr;
  ActiveWorkloads active_;
  std::map<std::string, Tracked> services_;
  std::map<std::string, PeerLoad> peers_;  // the other servers' loads (the leader reads them)
  std::map<std::string, std::pair<std::string, int64_t>> agents_;  // node -> agent, read at

  mutable std::mutex state_mutex_;
  std::map<std::string, ServiceState> states_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace allot::server
