// The scheduling loop: store -> scheduler core -> plan written back.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "api/cluster_metrics.h"
#include "api/http_api.h"
#include "server/scheduling_loop.h"
#include "store/sqlite_store.h"
#include "wire/resources.h"

namespace allot::server {
namespace {

using nlohmann::json;
using Op = store::Write::Op;

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(opened);
    store_ = std::move(opened.value());
    ASSERT_TRUE(api::BootstrapDefaultProject(*store_));
    auto node = wire::DecodeNode(
        json{{"name", "n1"}, {"cpu", 16}, {"memory", "64Gi"}, {"simulate_gpus", "2xA100-80GB"}});
    ASSERT_TRUE(node);
    ASSERT_TRUE(store_->Commit({{Op::kCreate, "nodes", "n1", wire::EncodeNode(*node).dump(), 0}}));
  }
  void Submit(const std::string& name, const std::string& gpu) {
    auto w = wire::DecodeWorkloadSubmission(
        json{{"name", name}, {"project", "default"}, {"gpu", gpu}, {"cpu", 1}, {"memory", "1Gi"}});
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_TRUE(
        store_->Commit({{Op::kCreate, "workloads", name, wire::EncodeWorkload(*w).dump(), 0}}));
  }
  // Training in the default project at a priority.
  void SubmitTraining(const std::string& name, const std::string& gpu, int priority) {
    auto w = wire::DecodeWorkloadSubmission(json{{"name", name},
                                                 {"project", "default"},
                                                 {"kind", "training"},
                                                 {"priority", priority},
                                                 {"gpu", gpu},
                                                 {"cpu", 1},
                                                 {"memory", "1Gi"}});
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_TRUE(
        store_->Commit({{Op::kCreate, "workloads", name, wire::EncodeWorkload(*w).dump(), 0}}));
  }
  wire::WorkloadResource Get(const std::string& name) {
    return *wire::DecodeStoredWorkload(store_->Get("workloads", name)->body);
  }

  std::unique_ptr<store::SqliteStore> store_;
  int64_t now_ = 1000;
};

TEST_F(LoopTest, BindsWritesReasonsAndIsStable) {
  Submit("a", "1");
  Submit("b", "2");
  SchedulingLoop loop(*store_, [this] { return now_; });
  auto first = loop.RunCycle();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->binds, 1);
  EXPECT_EQ(Get("a").status, wire::WorkloadStatus::kRunning);
  EXPECT_EQ(Get("a").assignments[0].node, "n1");
  EXPECT_EQ(Get("b").status, wire::WorkloadStatus::kPending);
  EXPECT_FALSE(Get("b").pending_reason.empty());
  int64_t revision = *store_->Revision();
  auto second = loop.RunCycle();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->workloads_written, 0);
  EXPECT_EQ(*store_->Revision(), revision);  // nothing new: nothing written
}

TEST_F(LoopTest, MetricsShowQuotasPoolsWorkloadsAndCycles) {
  Submit("a", "1");
  Submit("b", "0.5");
  Submit("c", "4");  // more than the node has: pending
  MetricsRegistry metrics;
  SchedulingLoop loop(
      *store_, [this] { return now_; }, nullptr, {}, &metrics);
  ASSERT_TRUE(loop.RunCycle());
  server::NodeLiveness liveness(now_);
  liveness.Reported("n1", {{0, 2048, 75}});
  server::WorkloadUsage usage;
  usage.Record("b", "default", 0, now_ - 300, 0, 512);
  std::string text = metrics.Render() + api::ClusterMetricsText(*store_, liveness, usage, now_);
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(
      has(R"(allot_queue_allocated_gpus{queue="default",type="project",department="default"} 1.5)"))
      << text;
  EXPECT_TRUE(has(
      R"(allot_queue_pending_workloads{queue="default",type="project",department="default"} 1)"))
      << text;
  EXPECT_TRUE(has(R"(allot_gpus{pool="default",model="A100-80GB"} 2)")) << text;
  EXPECT_TRUE(has(R"(allot_gpus_allocated{pool="default",model="A100-80GB"} 1.5)")) << text;
  EXPECT_TRUE(has(R"(allot_workloads{state="running"} 2)")) << text;
  EXPECT_TRUE(has(R"(allot_workloads{state="pending"} 1)")) << text;
  EXPECT_TRUE(has(R"(allot_scheduler_cycle_duration_seconds_count{result="ok"} 1)")) << text;
  EXPECT_TRUE(has("allot_scheduler_binds_total 2")) << text;
  EXPECT_TRUE(has(R"(allot_gpu_utilization_ratio{node="n1",gpu="0"} 0.75)")) << text;
  EXPECT_TRUE(has(R"(allot_gpu_memory_used_bytes{node="n1",gpu="0"} 2147483648)")) << text;
  EXPECT_TRUE(has(R"(allot_workload_gpu_utilization_ratio{workload="b",project="default"} 0)"))
      << text;
  EXPECT_TRUE(has(R"(allot_workload_gpu_idle_seconds{workload="b",project="default"} 0.3)"))
      << text;
}

TEST_F(LoopTest, TheGrafanaDashboardAsksOnlyForMetricsTheServerExports) {
  MetricsRegistry metrics;
  SchedulingLoop loop(
      *store_, [this] { return now_; }, nullptr, {}, &metrics);
  api::ApiOptions options;
  options.metrics = &metrics;  // the API declares its families
  api::HttpApi http(*store_, options);
  Submit("a", "1");
  ASSERT_TRUE(loop.RunCycle());
  server::NodeLiveness liveness(now_);
  server::WorkloadUsage usage;
  std::string text = metrics.Render() + api::ClusterMetricsText(*store_, liveness, usage, now_);
  server::ServiceTraffic traffic(&metrics);
  text += api::ServiceMetricsText({{"s", server::ServiceState{}}}, traffic, now_);
  std::ifstream file(std::string(ALLOT_SOURCE_DIR) + "/docs/grafana/allot.json");
  std::stringstream dashboard;
  dashboard << file.rdbuf();
  const std::string json_text = dashboard.str();
  ASSERT_FALSE(json_text.empty());
  // A name, without the suffixes of a histogram's series.
  std::regex name_pattern("(allot_[a-z_]+?)(_bucket|_count|_sum)?\\b");
  std::set<std::string> asked;
  for (std::sregex_iterator it(json_text.begin(), json_text.end(), name_pattern), end; it != end;
       ++it) {
    asked.insert((*it)[1].str());
  }
  EXPECT_GE(asked.size(), 10u);
  for (const std::string& name : asked) {
    EXPECT_NE(text.find("# TYPE " + name + " "), std::string::npos) << name;
  }
}

TEST_F(LoopTest, IdleInteractiveWorkIsStoppedOrMadePreemptibleByItsProjectsRule) {
  // The default project: stop interactive work idle 30 minutes.
  auto project = wire::DecodeQueue(json::parse(store_->Get("projects", "default")->body), true);
  ASSERT_TRUE(project);
  project->idle_interactive = {30 * 60000, wire::IdleAction::kStop};
  // Room for non-preemptible work: 2 deserved GPUs.
  project->spec.deserved[core::Resource::kGpu] = 2000;
  auto department =
      wire::DecodeQueue(json::parse(store_->Get("departments", "default")->body), false);
  ASSERT_TRUE(department);
  department->spec.deserved[core::Resource::kGpu] = 2000;
  ASSERT_TRUE(store_->Commit(
      {{Op::kUpdate, "departments", "default", wire::EncodeQueue(*department, false).dump(), 0},
       {Op::kUpdate, "projects", "default", wire::EncodeQueue(*project, true).dump(), 0}}));
  auto submit = [&](const std::string& name, const std::string& kind) {
    auto w = wire::DecodeWorkloadSubmission(
        json{{"name", name}, {"project", "default"}, {"kind", kind}, {"gpu", "0.5"}, {"cpu", 1}});
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_TRUE(
        store_->Commit({{Op::kCreate, "workloads", name, wire::EncodeWorkload(*w).dump(), 0}}));
  };
  submit("notebook", "interactive");
  submit("trainer", "training");
  submit("unmeasured", "interactive");
  server::WorkloadUsage usage;
  SchedulingLoop loop(*store_, [this] { return now_; });
  loop.SetWorkloadUsage(&usage);
  auto first = loop.RunCycle();
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(Get("notebook").status, wire::WorkloadStatus::kRunning);
  usage.Record("notebook", "default", 0, now_, 0, 100);
  usage.Record("trainer", "default", 0, now_, 0,
               100);  // training: the rule is for interactive work
  now_ += 29 * 60000;
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(Get("notebook").status, wire::WorkloadStatus::kRunning);  // not yet
  now_ += 2 * 60000;
  ASSERT_TRUE(loop.RunCycle());
  wire::WorkloadResource stopped = Get("notebook");
  EXPECT_EQ(stopped.status, wire::WorkloadStatus::kStopped);
  EXPECT_NE(stopped.reason.find("idle for 31m"), std::string::npos) << stopped.reason;
  EXPECT_TRUE(stopped.assignments[0].node.empty());  // its GPU is free
  EXPECT_EQ(Get("trainer").status, wire::WorkloadStatus::kRunning);
  EXPECT_EQ(Get("unmeasured").status, wire::WorkloadStatus::kRunning);  // never idle
  EXPECT_TRUE(usage.Points("notebook").empty());                        // forgotten once it stopped
  bool event = false;
  Result<store::Page> events = store_->List({"events", "", 100, {}});
  ASSERT_TRUE(events);
  for (const auto& object : events->items) {
    event = event || json::parse(object.body)["type"] == "IdleStopped";
  }
  EXPECT_TRUE(event);

  // preempt: the idle workload stays but loses its protection, once.
  project->idle_interactive = {30 * 60000, wire::IdleAction::kPreempt};
  ASSERT_TRUE(store_->Commit(
      {{Op::kUpdate, "projects", "default", wire::EncodeQueue(*project, true).dump(), 0}}));
  usage.Record("unmeasured", "default", 0, now_, 0, 100);
  now_ += 31 * 60000;
  ASSERT_TRUE(loop.RunCycle());
  wire::WorkloadResource kept = Get("unmeasured");
  EXPECT_EQ(kept.status, wire::WorkloadStatus::kRunning);
  EXPECT_TRUE(kept.spec.preemptible);
  int64_t revision = *store_->Revision();
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(*store_->Revision(), revision);  // stable: nothing more to write
}

TEST_F(LoopTest, KeepsABoundedHistoryOfSamples) {
  Submit("a", "1");
  SchedulingLoop loop(*store_, [this] { return now_; });
  loop.SetHistory(std::chrono::seconds(60), 3);
  auto samples = [&] {
    std::vector<json> out;
    Result<store::Page> page = store_->List({"samples", "", 100, {}});
    EXPECT_TRUE(page);
    for (const auto& object : page->items) {
      out.push_back(json::parse(object.body));
    }
    return out;
  };
  ASSERT_TRUE(loop.RunCycle());
  ASSERT_EQ(samples().size(), 1u);
  EXPECT_EQ(samples()[0]["allocated"], 1.0);
  EXPECT_EQ(samples()[0]["gpus"], 2);
  EXPECT_EQ(samples()[0]["running"], 1);
  EXPECT_FALSE(samples()[0].contains("used"));  // simulated GPUs report no usage
  now_ += 30'000;
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(samples().size(), 1u);  // not due yet
  for (int i = 0; i < 4; ++i) {
    now_ += 60'000;
    ASSERT_TRUE(loop.RunCycle());
  }
  auto kept = samples();
  ASSERT_EQ(kept.size(), 3u);  // the oldest went
  EXPECT_EQ(kept.back()["time_ms"], now_);
  EXPECT_EQ(kept.front()["time_ms"], now_ - 120'000);
  // A server started again finds the history and keeps bounding it.
  SchedulingLoop again(*store_, [this] { return now_; });
  again.SetHistory(std::chrono::seconds(60), 3);
  now_ += 60'000;
  ASSERT_TRUE(again.RunCycle());
  EXPECT_EQ(samples().size(), 3u);
  EXPECT_EQ(samples().back()["time_ms"], now_);
}

TEST_F(LoopTest, ADeletedWorkloadFreesItsGpus) {
  Submit("a", "2");
  SchedulingLoop loop(*store_, [this] { return now_; });
  ASSERT_TRUE(loop.RunCycle());
  Submit("b", "2");
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(Get("b").status, wire::WorkloadStatus::kPending);
  auto a = Get("a");
  a.status = wire::WorkloadStatus::kDeleted;
  a.assignments.assign(1, {});
  ASSERT_TRUE(store_->Commit({{Op::kUpdate, "workloads", "a", wire::EncodeWorkload(a).dump(), 0}}));
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(Get("b").status, wire::WorkloadStatus::kRunning);
  EXPECT_EQ(Get("a").status, wire::WorkloadStatus::kDeleted);
}

TEST_F(LoopTest, WritesEventsAndTheClusterStatusOnlyWhenTheyChange) {
  Submit("a", "1");
  Submit("b", "0.5");
  Submit("c", "2");
  SchedulingLoop loop(*store_, [this] { return now_; });
  auto first = loop.RunCycle();
  ASSERT_TRUE(first);
  auto events = store_->List({"events", "", 100, {}});
  ASSERT_TRUE(events);
  std::map<std::string, std::vector<std::string>> types;
  for (const auto& object : events->items) {
    json event = json::parse(object.body);
    types[event["workload"]].push_back(event["type"]);
  }
  EXPECT_EQ(types["a"], std::vector<std::string>{"Bound"});
  EXPECT_EQ(types["b"], std::vector<std::string>{"Bound"});
  EXPECT_EQ(types["c"], std::vector<std::string>{"Pending"});
  json status = json::parse(store_->Get("status", "cluster")->body);
  EXPECT_EQ(status["gpus"], 2);
  EXPECT_DOUBLE_EQ(status["gpus_allocated"].get<double>(), 1.5);
  EXPECT_EQ(status["workloads"]["running"], 2);
  EXPECT_EQ(status["workloads"]["pending"], 1);
  bool saw_project = false;
  for (const auto& queue : status["queues"]) {
    if (queue["type"] != "project") continue;
    saw_project = true;
    EXPECT_EQ(queue["name"], "default");
    EXPECT_EQ(queue["department"], "default");
    EXPECT_DOUBLE_EQ(queue["allocated"].get<double>(), 1.5);
    EXPECT_EQ(queue["pending"], 1);
  }
  EXPECT_TRUE(saw_project);
  int64_t revision = *store_->Revision();
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(*store_->Revision(), revision);  // same reasons, same status: no writes
}

TEST_F(LoopTest, AMemorySizedFractionCountsAsItsShareOfTheGpu) {
  auto w = wire::DecodeWorkloadSubmission(json{{"name", "m"},
                                               {"project", "default"},
                                               {"gpu_memory", "20Gi"},
                                               {"cpu", 1},
                                               {"memory", "1Gi"}});
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE(
      store_->Commit({{Op::kCreate, "workloads", "m", wire::EncodeWorkload(*w).dump(), 0}}));
  SchedulingLoop loop(*store_, [this] { return now_; });
  ASSERT_TRUE(loop.RunCycle());
  ASSERT_EQ(Get("m").status, wire::WorkloadStatus::kRunning);
  json status = json::parse(store_->Get("status", "cluster")->body);
  EXPECT_DOUBLE_EQ(status["gpus_allocated"].get<double>(), 0.25);  // 20 of 80 GiB
}

// The minimum run time counts from when the agent reported the task
// started: younger work is not preempted, and the waiting workload says why.
TEST_F(LoopTest, WorkYoungerThanTheMinimumRunTimeIsNotPreempted) {
  SchedulingLoop loop(*store_, [this] { return now_; });
  sched::SchedulerConfig config;
  config.min_runtime = 10 * core::kMinute;
  ASSERT_TRUE(loop.SetSchedulerConfig(config));
  SubmitTraining("sweep", "2", 20);
  ASSERT_TRUE(loop.RunCycle());
  ASSERT_EQ(Get("sweep").status, wire::WorkloadStatus::kRunning);
  {  // its agent reports the task running
    auto stored = store_->Get("workloads", "sweep");
    auto sweep = wire::DecodeStoredWorkload(stored->body);
    ASSERT_TRUE(sweep);
    sweep->assignments[0].state = wire::TaskState::kRunning;
    sweep->assignments[0].started_ms = now_;
    ASSERT_TRUE(store_->Commit({{Op::kUpdate, "workloads", "sweep",
                                 wire::EncodeWorkload(*sweep).dump(), stored->revision}}));
  }
  now_ += 2 * core::kMinute;
  SubmitTraining("urgent", "1", 80);
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(Get("sweep").status, wire::WorkloadStatus::kRunning);
  EXPECT_EQ(Get("urgent").status, wire::WorkloadStatus::kPending);
  EXPECT_NE(Get("urgent").pending_reason.find(
                "has run less than the minimum run time of 10m (the first may be taken in 8m)"),
            std::string::npos)
      << Get("urgent").pending_reason;
  now_ += 8 * core::kMinute;
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(Get("urgent").status, wire::WorkloadStatus::kRunning);
  EXPECT_EQ(Get("sweep").status, wire::WorkloadStatus::kEvicted);
}

// Admins tell reclaim (quota working) from preemption (priority) and from
// lost nodes by the counter's kind.
TEST_F(LoopTest, EvictionsAreCountedByKind) {
  MetricsRegistry metrics;
  SchedulingLoop loop(
      *store_, [this] { return now_; }, nullptr, {}, &metrics);
  SubmitTraining("sweep", "2", 20);
  ASSERT_TRUE(loop.RunCycle());
  SubmitTraining("urgent", "1", 80);
  auto cycle = loop.RunCycle();
  ASSERT_TRUE(cycle);
  EXPECT_EQ(cycle->evictions, 1);
  EXPECT_EQ(cycle->evictions_by_kind[size_t(core::EvictionKind::kPreempt)], 1);
  std::string text = metrics.Render();
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has(R"(allot_scheduler_evictions_total{kind="preempt"} 1)")) << text;
  EXPECT_TRUE(has(R"(allot_scheduler_evictions_total{kind="reclaim"} 0)")) << text;
  EXPECT_TRUE(has(R"(allot_scheduler_evictions_total{kind="node_lost"} 0)")) << text;
}

TEST_F(LoopTest, AnInvalidSchedulerSettingIsRefusedAndChangesNothing) {
  Submit("a", "1");
  SchedulingLoop loop(*store_, [this] { return now_; });
  sched::SchedulerConfig config;
  config.min_runtime = -1;
  Status refused = loop.SetSchedulerConfig(config);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "min_runtime");
  ASSERT_TRUE(loop.RunCycle());  // still the default scheduler
  EXPECT_EQ(Get("a").status, wire::WorkloadStatus::kRunning);
}

// Nodes are decoded again only when their stored revision moves: a node
// changed between cycles is seen as changed.
TEST_F(LoopTest, ANodeChangedBetweenCyclesIsReadAgain) {
  Submit("a", "1");
  SchedulingLoop loop(*store_, [this] { return now_; });
  ASSERT_TRUE(loop.RunCycle());
  ASSERT_EQ(Get("a").status, wire::WorkloadStatus::kRunning);
  auto set_state = [&](const std::string& state) {
    auto stored = store_->Get("nodes", "n1");
    ASSERT_TRUE(stored);
    auto node = wire::DecodeNode(json::parse(stored->body));
    ASSERT_TRUE(node);
    node->state = state == "lost" ? wire::NodeState::kLost : wire::NodeState::kReady;
    ASSERT_TRUE(store_->Commit(
        {{Op::kUpdate, "nodes", "n1", wire::EncodeNode(*node).dump(), stored->revision}}));
  };
  set_state("lost");
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(Get("a").status, wire::WorkloadStatus::kEvicted);  // training waits for a node
  EXPECT_TRUE(Get("a").assignments[0].node.empty());
  set_state("ready");
  ASSERT_TRUE(loop.RunCycle());
  EXPECT_EQ(Get("a").status, wire::WorkloadStatus::kRunning);
  EXPECT_EQ(Get("a").assignments[0].node, "n1");
}

// A node registered by an agent that falls silent is lost: its training
// and a service's replica run again elsewhere, its interactive work is lost.
TEST_F(LoopTest, SilentAgentNodesAreLost) {
  for (const char* name : {"agent-a", "agent-b"}) {
    auto node = wire::DecodeNode(json{{"name", name},
                                      {"cpu", 16},
                                      {"memory", "64Gi"},
                                      {"simulate_gpus", "1xA100-80GB"},
                                      {"agent", "x"},
                                      {"address", "127.0.0.1"}});
    ASSERT_TRUE(node);
    ASSERT_TRUE(store_->Commit({{Op::kCreate, "nodes", name, wire::EncodeNode(*node).dump(), 0}}));
  }
  // n1 (no agent) is full, so the work lands on the agents' nodes.
  Submit("filler", "2");
  for (const char* name : {"train", "notebook"}) {
    auto w = wire::DecodeWorkloadSubmission(
        json{{"name", name},
             {"project", "default"},
             {"kind", name == std::string("train") ? "training" : "interactive"},
             {"gpu", name == std::string("train") ? "0.5" : "0.25"},
             {"preemptible", true},  // no quota needed
             {"command", {"true"}}});
    ASSERT_TRUE(w);
    ASSERT_TRUE(
        store_->Commit({{Op::kCreate, "workloads", name, wire::EncodeWorkload(*w).dump(), 0}}));
  }
  auto replica = wire::DecodeWorkloadSubmission(json{{"name", "svc-abc123"},
                                                     {"project", "default"},
                                                     {"kind", "inference"},
                                                     {"gpu", "0.25"},
                                                     {"preemptible", true},
                                                     {"command", {"serve"}}});
  ASSERT_TRUE(replica);
  replica->replica = {"svc", 1, 8000, ""};
  ASSERT_TRUE(store_->Commit(
      {{Op::kCreate, "workloads", "svc-abc123", wire::EncodeWorkload(*replica).dump(), 0}}));
  server::NodeLiveness liveness(now_);
  server::AgentTimings timings;
  timings.lost_after_ms = 30000;
  SchedulingLoop loop(
      *store_, [this] { return now_; }, &liveness, timings);
  ASSERT_TRUE(loop.RunCycle());
  ASSERT_EQ(Get("train").status, wire::WorkloadStatus::kRunning);
  ASSERT_EQ(Get("notebook").status, wire::WorkloadStatus::kRunning);
  std::string train_node = Get("train").assignments[0].node;
  std::string notebook_node = Get("notebook").assignments[0].node;
  std::string replica_node = Get("svc-abc123").assignments[0].node;
  // Every node but the training's keeps beating.
  std::string other = train_node == "agent-a" ? "agent-b" : "agent-a";
  now_ += 31000;
  liveness.Heard(other, now_);
  auto cycle = loop.RunCycle();
  ASSERT_TRUE(cycle) << cycle.error().message;
  EXPECT_EQ(cycle->nodes_lost, 1);
  // The training's task left the lost node to run again elsewhere; a
  // notebook there ends as lost instead, which is no eviction.
  EXPECT_EQ(cycle->evictions_node_lost, replica_node == train_node ? 2 : 1);
  auto lost = wire::DecodeNode(json::parse(store_->Get("nodes", train_node)->body));
  EXPECT_EQ(lost->state, wire::NodeState::kLost);
  wire::WorkloadResource train = Get("train");
  EXPECT_EQ(train.status, wire::WorkloadStatus::kRunning);
  EXPECT_EQ(train.assignments[0].node, other);  // runs again elsewhere
  EXPECT_EQ(train.assignments[0].attempt, 2);
  EXPECT_EQ(train.assignments[0].previous_node, train_node);
  // A replica is never lost with its node: it runs again elsewhere.
  wire::WorkloadResource moved = Get("svc-abc123");
  EXPECT_EQ(moved.status, wire::WorkloadStatus::kRunning);
  EXPECT_EQ(moved.assignments[0].node, other);
  // Interactive work on the lost node is lost; elsewhere it runs on.
  EXPECT_EQ(Get("notebook").status, notebook_node == train_node ? wire::WorkloadStatus::kLost
                                                                : wire::WorkloadStatus::kRunning);
  // n1 has no agent: never lost.
  auto n1 = wire::DecodeNode(json::parse(store_->Get("nodes", "n1")->body));
  EXPECT_EQ(n1->state, wire::NodeState::kReady);
}

}  // namespace
}  // namespace allot::server

namespace allot {
namespace {

// A new leader's grace holds against older heartbeats from the store, for
// nodes this server never heard itself too.
TEST(NodeLiveness, StoredHeartbeatsDoNotTakeBackANewLeadersGrace) {
  server::NodeLiveness liveness(1000);
  liveness.Heard("heard-here", 2000);
  liveness.GraceFrom(50000);
  liveness.Merge({{"heard-here", 3000}, {"heard-elsewhere", 4000}, {"fresh", 60000}});
  EXPECT_EQ(liveness.LastHeard("heard-here"), 50000);
  EXPECT_EQ(liveness.LastHeard("heard-elsewhere"), 50000);
  EXPECT_EQ(liveness.LastHeard("fresh"), 60000);
  EXPECT_EQ(liveness.LastHeard("never"), 50000);
}

}  // namespace
}  // namespace allot
