// Serving's parts (docs/serving.md): the service codec (wire/service), the
// autoscaler's windows, panic and scale to zero, the replica plan's rolling
// update, the gateway's service paths, the traffic meter, readiness in the
// task lifecycle, and the controller against a real store.
#include <gtest/gtest.h>

#include "api/gateway.h"
#include "api/gateway_access.h"
#include "postgres_server.h"
#include "server/autoscaler.h"
#include "server/leadership.h"
#include "server/peer_load.h"
#include "server/replica_plan.h"
#include "server/service_directory.h"
#include "server/service_traffic.h"
#include "server/serving_controller.h"
#include "server/task_lifecycle.h"
#include "store/open_store.h"
#include "store/sqlite_store.h"
#include "wire/service.h"

namespace allot {
namespace {

using nlohmann::json;
using server::Autoscaler;
using server::LoadSample;
using server::PlanReplicas;
using server::ReplicaView;
using wire::AutoscaleSpec;
using wire::ServiceResource;

json ServiceBody() {
  return {{"name", "m"},          {"project", "p"},    {"port", 8000},     {"gpu", "0.1"},
          {"command", {"serve"}}, {"min_replicas", 0}, {"max_replicas", 4}};
}

TEST(ServiceCodec, SplitsTheServiceFieldsFromTheReplicaTemplate) {
  Result<ServiceResource> service = wire::DecodeServiceSubmission(ServiceBody());
  ASSERT_TRUE(service) << service.error().message;
  EXPECT_EQ(service->port, 8000);
  EXPECT_EQ(service->autoscale.min_replicas, 0);
  EXPECT_EQ(service->autoscale.max_replicas, 4);
  EXPECT_EQ(service->replica_template, (json{{"gpu", "0.1"}, {"command", {"serve"}}}));
  json encoded = wire::EncodeService(*service);
  Result<ServiceResource> again = wire::DecodeStoredService(encoded.dump());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *service);
}

TEST(ServiceCodec, RefusesBadInputNamingTheField) {
  struct Case {
    json change;
    std::string field;
  };
  std::vector<Case> cases = {
      {{{"min_replicas", -1}}, "min_replicas"},
      {{{"min_replicas", 5}, {"max_replicas", 2}}, "min_replicas"},
      {{{"max_replicas", 0}}, "max_replicas"},
      {{{"port", 0}}, "port"},
      {{{"port", 70000}}, "port"},
      {{{"target_concurrency", 2}, {"target_rps", 5}}, "target_rps"},
      {{{"ready_path", "health"}}, "ready_path"},
      {{{"scale_to_zero_after", "forever"}}, "scale_to_zero_after"},
      {{{"workers", 2}}, "workers"},
      {{{"kind", "training"}}, "kind"},
      {{{"name", "Bad_Name"}}, "name"},
  };
  for (const Case& c : cases) {
    json body = ServiceBody();
    for (const auto& [key, value] : c.change.items()) body[key] = value;
    Result<ServiceResource> service = wire::DecodeServiceSubmission(body);
    ASSERT_FALSE(service) << c.change.dump();
    EXPECT_EQ(service.error().field, c.field) << c.change.dump() << ": " << service.error().message;
  }
}

TEST(ServiceCodec, AnUpdateMergesIntoTheTemplateAndSaysWhetherReplicasChange) {
  ServiceResource service = *wire::DecodeServiceSubmission(ServiceBody());
  bool changed = true;
  ASSERT_TRUE(wire::ApplyServiceUpdate(service, {{"max_replicas", 8}}, changed));
  EXPECT_FALSE(changed);
  EXPECT_EQ(service.autoscale.max_replicas, 8);
  ASSERT_TRUE(wire::ApplyServiceUpdate(service, {{"image", "model:2"}}, changed));
  EXPECT_TRUE(changed);
  EXPECT_EQ(service.replica_template["image"], "model:2");
  EXPECT_EQ(service.replica_template["gpu"], "0.1");  // kept
  EXPECT_FALSE(wire::ApplyServiceUpdate(service, {{"name", "other"}}, changed));
  EXPECT_FALSE(wire::ApplyServiceUpdate(service, {{"min_replicas", 9}}, changed));
  EXPECT_EQ(service.autoscale.min_replicas, 0);  // a refused update changes nothing
}

AutoscaleSpec Spec(int32_t min, int32_t max, int32_t target) {
  AutoscaleSpec spec;
  spec.min_replicas = min;
  spec.max_replicas = max;
  spec.target = target;
  spec.stable_window_ms = 60000;
  spec.panic_window_ms = 6000;
  spec.scale_to_zero_after_ms = 30000;
  return spec;
}

TEST(Autoscaler, FollowsTheStableAverage) {
  Autoscaler scaler(Spec(1, 10, 4));
  int64_t t = 0;
  server::ScaleDecision decision;
  for (int i = 0; i < 60; ++i, t += 1000) {
    scaler.Record({t, 8.0, 0});
    decision = scaler.Decide(t, 2, 8, t);
  }
  EXPECT_EQ(decision.desired, 2);
  EXPECT_FALSE(decision.panicking);
  EXPECT_NEAR(decision.stable_load, 8.0, 1e-9);
}

TEST(Autoscaler, PanicsOnASteepRiseAndNeverScalesInWhilePanicking) {
  Autoscaler scaler(Spec(1, 20, 4));
  int64_t t = 0;
  for (int i = 0; i < 60; ++i, t += 1000) {
    scaler.Record({t, 4.0, 0});
    scaler.Decide(t, 1, 4, t);
  }
  // Ten times the load: the six-second window sees it within a tick.
  server::ScaleDecision decision;
  for (int i = 0; i < 3; ++i, t += 1000) {
    scaler.Record({t, 40.0, 0});
    decision = scaler.Decide(t, 1, 40, t);
    EXPECT_TRUE(decision.panicking) << "tick " << i;
  }
  EXPECT_GE(decision.desired, 6);      // (3 x 40 + 3 x 4) / 6 = 22 in flight
  EXPECT_LE(decision.stable_load, 8);  // the stable window has barely moved
  int32_t peak = decision.desired;
  // The load falls back: still panicking, no scale-in.
  for (int i = 0; i < 10; ++i) {
    t += 1000;
    scaler.Record({t, 4.0, 0});
    decision = scaler.Decide(t, peak, 4, t);
    EXPECT_GE(decision.desired, peak);
  }
  // After a stable window without another panic it comes down.
  for (int i = 0; i < 120; ++i) {
    t += 1000;
    scaler.Record({t, 4.0, 0});
    decision = scaler.Decide(t, peak, 4, t);
  }
  EXPECT_FALSE(decision.panicking);
  EXPECT_EQ(decision.desired, 1);
}

TEST(Autoscaler, ScalesToZeroOnlyAfterTheQuietTimeAndWakesForARequest) {
  Autoscaler scaler(Spec(0, 4, 4));
  int64_t t = 1000;
  EXPECT_EQ(scaler.Decide(t, 0, 0, 0).desired, 0);  // never called: stays at zero
  scaler.Record({t, 1.0, 0});
  EXPECT_EQ(scaler.Decide(t, 0, 1, t).desired, 1);  // a request waits
  int64_t last = t;
  for (int i = 0; i < 25; ++i) {
    t += 1000;
    scaler.Record({t, 0.0, 0});
    EXPECT_EQ(scaler.Decide(t, 1, 0, last).desired, 1) << "at " << t - last << " ms";
  }
  for (int i = 0; i < 10; ++i) {
    t += 1000;
    scaler.Record({t, 0.0, 0});
  }
  EXPECT_EQ(scaler.Decide(t, 1, 0, last).desired, 0);
}

TEST(Autoscaler, KeepsAHigherCountThroughTheScaleDownDelay) {
  AutoscaleSpec spec = Spec(1, 10, 1);
  spec.stable_window_ms = 2000;
  spec.panic_window_ms = 1000;
  spec.scale_down_delay_ms = 5000;
  Autoscaler scaler(spec);
  int64_t t = 0;
  scaler.Record({t, 3.0, 0});
  EXPECT_EQ(scaler.Decide(t, 3, 3, t).desired, 3);
  for (int i = 0; i < 4; ++i) {
    t += 1000;
    scaler.Record({t, 1.0, 0});
    EXPECT_EQ(scaler.Decide(t, 3, 1, t).desired, 3);
  }
  t += 2000;
  scaler.Record({t, 1.0, 0});
  EXPECT_EQ(scaler.Decide(t, 3, 1, t).desired, 1);
}

TEST(Autoscaler, ScalesOnRequestsPerSecondWhenAskedTo) {
  AutoscaleSpec spec = Spec(1, 10, 50);
  spec.metric = wire::ScaleMetric::kRequestsPerSecond;
  Autoscaler scaler(spec);
  int64_t t = 0;
  server::ScaleDecision decision;
  for (int i = 0; i < 60; ++i, t += 1000) {
    scaler.Record({t, 1.0, 120.0});
    decision = scaler.Decide(t, 3, 1, t);
  }
  EXPECT_EQ(decision.desired, 3);
}

std::vector<ReplicaView> Views(std::initializer_list<ReplicaView> views) {
  return views;
}

TEST(ReplicaPlan, ScalesOutAndInUnreadyAndNewestFirst) {
  EXPECT_EQ(PlanReplicas(3, 1, {}).create, 3);
  auto plan = PlanReplicas(1, 1, Views({{"a", 1, true, 1}, {"b", 1, true, 2}, {"c", 1, false, 3}}));
  EXPECT_EQ(plan.create, 0);
  EXPECT_EQ(plan.drain, (std::vector<std::string>{"c", "b"}));
}

TEST(ReplicaPlan, RollsOverOneAtATimeWithASurgeOfOne) {
  // Two old replicas: surge one new.
  auto plan = PlanReplicas(2, 2, Views({{"a", 1, true, 1}, {"b", 1, true, 2}}));
  EXPECT_EQ(plan.create, 1);
  EXPECT_TRUE(plan.drain.empty());
  // The new one is not ready yet: wait.
  plan = PlanReplicas(2, 2, Views({{"a", 1, true, 1}, {"b", 1, true, 2}, {"n", 2, false, 3}}));
  EXPECT_EQ(plan.create, 0);
  EXPECT_TRUE(plan.drain.empty());
  // Ready: the oldest old one drains.
  plan = PlanReplicas(2, 2, Views({{"a", 1, true, 1}, {"b", 1, true, 2}, {"n", 2, true, 3}}));
  EXPECT_EQ(plan.drain, (std::vector<std::string>{"a"}));
  // Then the next surge.
  plan = PlanReplicas(2, 2, Views({{"b", 1, true, 2}, {"n", 2, true, 3}}));
  EXPECT_EQ(plan.create, 1);
  // An old replica that serves nothing goes at once.
  plan = PlanReplicas(1, 2, Views({{"a", 1, false, 1}, {"n", 2, false, 3}}));
  EXPECT_EQ(plan.drain, (std::vector<std::string>{"a"}));
}

TEST(ServiceTarget, StripsTheGatewayPrefix) {
  auto target = api::ParseServiceTarget("/serve/vision/llm/v1/complete?stream=1");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->project, "vision");
  EXPECT_EQ(target->name, "llm");
  EXPECT_EQ(target->forward, "/v1/complete?stream=1");
  EXPECT_EQ(target->prefix, "/serve/vision/llm");
  EXPECT_EQ(api::ParseServiceTarget("/serve/vision/llm")->forward, "/");
  EXPECT_EQ(api::ParseServiceTarget("/serve/vision/llm?a=b")->forward, "/?a=b");
  EXPECT_FALSE(api::ParseServiceTarget("/serve/vision"));
  EXPECT_FALSE(api::ParseServiceTarget("/serve//x/"));
  EXPECT_TRUE(api::Gateway::Claims("/serve/vision/llm/"));
}

TEST(ServiceTraffic, AveragesConcurrencyOverTheTick) {
  server::ServiceTraffic traffic(nullptr);
  int64_t in_flight = 0;
  int64_t last = 0;
  traffic.Sample("s", 0, in_flight, last);
  traffic.Begin("s", 0);
  traffic.Begin("s", 500);
  traffic.End("s", 1000, 200, 0.01);
  LoadSample sample = traffic.Sample("s", 1000, in_flight, last);
  EXPECT_NEAR(sample.concurrency, 1.5, 1e-9);  // 1 for the first half, 2 for the second
  EXPECT_NEAR(sample.rps, 2.0, 1e-9);
  EXPECT_EQ(in_flight, 1);
  EXPECT_EQ(last, 500);
  traffic.BeginReplica("r");
  EXPECT_EQ(traffic.ReplicaInFlight("r"), 1);
  traffic.EndReplica("r");
  EXPECT_EQ(traffic.ReplicaInFlight("r"), 0);
}

wire::WorkloadResource Replica() {
  wire::WorkloadResource w;
  w.spec.name = "m-abc";
  w.spec.kind = core::WorkloadKind::kInference;
  w.replica = {"m", 1, 8000, "/health"};
  w.status = wire::WorkloadStatus::kRunning;
  w.max_restarts = 100;
  w.assignments.resize(1);
  wire::BindTask(w.assignments[0], "n1", {0});
  return w;
}

TEST(ReplicaLifecycle, ReadinessIsReportedAndAReplicaRestartsAlone) {
  wire::WorkloadResource w = Replica();
  EXPECT_TRUE(server::RestartsOnFailure(w));
  wire::TaskReport report;
  report.node = "n1";
  report.attempt = 1;
  report.state = wire::TaskState::kRunning;
  report.pid = 7;
  report.ready_reason = "nothing listens on port 8000";
  auto outcome = server::ApplyTaskReport(w, 0, report, 1000, 10000);
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(w.assignments[0].ready);
  EXPECT_EQ(w.assignments[0].ready_reason, "nothing listens on port 8000");
  report.ready = true;
  outcome = server::ApplyTaskReport(w, 0, report, 2000, 10000);
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->changed);
  EXPECT_TRUE(w.assignments[0].ready);
  report.state = wire::TaskState::kKilled;
  report.signal = 9;
  outcome = server::ApplyTaskReport(w, 0, report, 3000, 10000);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(w.status, wire::WorkloadStatus::kRunning);  // restarts, not failed
  EXPECT_EQ(w.assignments[0].state, wire::TaskState::kWaiting);
  EXPECT_FALSE(w.assignments[0].ready);
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(opened);
    store_ = std::move(*opened);
    controller_ = std::make_unique<server::ServingController>(
        *store_, [this] { return now_; }, directory_, traffic_, nullptr);
  }
  void PutService(const json& changes, int64_t generation) {
    json body = ServiceBody();
    for (const auto& [key, value] : changes.items()) body[key] = value;
    ServiceResource service = *wire::DecodeServiceSubmission(body);
    service.owner = "ada";
    service.generation = generation;
    wire::WorkloadResource prototype = *wire::DecodeWorkloadSubmission({{"name", "m"},
                                                                        {"project", "p"},
                                                                        {"kind", "inference"},
                                                                        {"gpu", "0.1"},
                                                                        {"command", {"serve"}}});
    service.replica_workload = wire::EncodeWorkload(prototype);
    auto existing = store_->Get("services", "m");
    store::Write::Op op = existing ? store::Write::Op::kUpdate : store::Write::Op::kCreate;
    ASSERT_TRUE(store_->Commit({{op, "services", "m", wire::EncodeService(service).dump(), 0}}));
  }
  std::vector<wire::WorkloadResource> Replicas() {
    std::vector<wire::WorkloadResource> out;
    store::ListQuery query;
    query.kind = "workloads";
    Result<store::Page> page = store_->List(query);
    if (!page) return out;
    for (const auto& object : page->items) {
      auto w = wire::DecodeStoredWorkload(object.body);
      if (w && wire::IsActive(w->status)) out.push_back(*w);
    }
    return out;
  }
  // What the scheduling loop and an agent would do: bind and report ready.
  void RunAndReady(const std::string& name) {
    auto object = *store_->Get("workloads", name);
    auto w = *wire::DecodeStoredWorkload(object.body);
    w.status = wire::WorkloadStatus::kRunning;
    wire::BindTask(w.assignments[0], "n1", {0});
    w.assignments[0].state = wire::TaskState::kRunning;
    w.assignments[0].ready = true;
    ASSERT_TRUE(store_->Commit(
        {{store::Write::Op::kUpdate, "workloads", name, wire::EncodeWorkload(w).dump(), 0}}));
  }
  std::unique_ptr<store::Store> store_;
  server::ServiceDirectory directory_;
  server::ServiceTraffic traffic_{nullptr};
  std::unique_ptr<server::ServingController> controller_;
  int64_t now_ = 1000000;
};

TEST_F(ControllerTest, KeepsTheMinimumRollsOverAndEndsReplicasWithTheService) {
  PutService({{"min_replicas", 2}}, 1);
  ASSERT_TRUE(controller_->RunOnce());
  auto replicas = Replicas();
  ASSERT_EQ(replicas.size(), 2u);
  EXPECT_EQ(replicas[0].replica.service, "m");
  EXPECT_EQ(replicas[0].spec.kind, core::WorkloadKind::kInference);
  EXPECT_EQ(replicas[0].owner, "ada");
  EXPECT_TRUE(directory_.Find("m")->endpoints.empty());
  for (const auto& r : replicas) RunAndReady(r.spec.name);
  ASSERT_TRUE(controller_->RunOnce());
  EXPECT_EQ(directory_.Find("m")->endpoints.size(), 0u);  // nodes without agents
  EXPECT_NE(directory_.Find("m")->not_ready_reason.find("no agent"), std::string::npos);
  // A new generation: one more replica of it, none ended yet.
  PutService({{"min_replicas", 2}, {"command", {"serve", "v2"}}}, 2);
  now_ += 1000;
  ASSERT_TRUE(controller_->RunOnce());
  replicas = Replicas();
  ASSERT_EQ(replicas.size(), 3u);
  // The service goes: its replicas end.
  ASSERT_TRUE(store_->Commit({{store::Write::Op::kDelete, "services", "m", "", 0}}));
  ASSERT_TRUE(controller_->RunOnce());
  EXPECT_TRUE(Replicas().empty());
  EXPECT_EQ(directory_.Find("m"), nullptr);
}

// Two servers on one PostgreSQL: a request waiting at the follower's
// gateway for a service at zero makes the leader create a replica.
class SharedControllerTest : public ControllerTest {
 protected:
  void SetUp() override {
    auto& postgres = testing::TestPostgres::Get();
    ASSERT_TRUE(postgres.error().empty()) << postgres.error();
    std::string url = postgres.NewDatabase();
    auto leader_store = store::OpenStore(url);
    auto follower_store = store::OpenStore(url);
    ASSERT_TRUE(leader_store && follower_store);
    store_ = std::move(*leader_store);
    follower_store_ = std::move(*follower_store);
    leader_lease_ =
        std::make_unique<server::Leadership>(*store_, "s-leader", std::chrono::seconds(60));
    follower_lease_ = std::make_unique<server::Leadership>(*follower_store_, "s-follower",
                                                           std::chrono::seconds(60));
    leader_lease_->Renew();
    follower_lease_->Renew();
    ASSERT_TRUE(leader_lease_->Leading());
    ASSERT_FALSE(follower_lease_->Leading());
    controller_ = std::make_unique<server::ServingController>(
        *store_, [this] { return now_; }, directory_, traffic_, nullptr);
    controller_->SetLeadership(leader_lease_.get());
    follower_ = std::make_unique<server::ServingController>(
        *follower_store_, [this] { return now_; }, follower_directory_, follower_traffic_, nullptr);
    follower_->SetLeadership(follower_lease_.get());
  }
  void TearDown() override {
    follower_.reset();
    controller_.reset();
    follower_lease_.reset();
    leader_lease_.reset();
  }
  std::unique_ptr<store::Store> follower_store_;
  std::unique_ptr<server::Leadership> leader_lease_, follower_lease_;
  server::ServiceDirectory follower_directory_;
  server::ServiceTraffic follower_traffic_{nullptr};
  std::unique_ptr<server::ServingController> follower_;
};

TEST_F(SharedControllerTest, ARequestAtAFollowerWakesAServiceAtZero) {
  PutService({{"min_replicas", 0}}, 1);
  ASSERT_TRUE(controller_->RunOnce());
  ASSERT_TRUE(follower_->RunOnce());
  EXPECT_TRUE(Replicas().empty());
  follower_traffic_.Begin("m", now_);  // a request waits at the follower
  ASSERT_TRUE(controller_->RunOnce());
  EXPECT_TRUE(Replicas().empty()) << "the leader cannot know before the follower says so";
  ASSERT_TRUE(follower_->RunOnce());
  EXPECT_TRUE(Replicas().empty()) << "a follower never creates replicas";
  now_ += 100;
  ASSERT_TRUE(controller_->RunOnce());
  EXPECT_EQ(Replicas().size(), 1u);
}

TEST(PeerLoad, SumsTheOtherServersFreshSamples) {
  std::vector<store::ServiceLoad> loads = {
      {"me", "m", server::EncodeServiceLoad({0, 9, 9}, 9, 9), 5000},
      {"s2", "m", server::EncodeServiceLoad({0, 1.5, 2}, 2, 4000), 5000},
      {"s3", "m", server::EncodeServiceLoad({0, 0.5, 1}, 1, 4500), 4900},
      {"s4", "m", server::EncodeServiceLoad({0, 7, 7}, 7, 7), 1000},  // stopped recording
      {"s2", "other", "not json", 5000}};
  auto peers = server::PeerLoads(loads, "me", 2000);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_DOUBLE_EQ(peers["m"].concurrency, 2.0);
  EXPECT_DOUBLE_EQ(peers["m"].rps, 3.0);
  EXPECT_EQ(peers["m"].in_flight, 3);
  EXPECT_EQ(peers["m"].last_request_ms, 4500);
  server::LoadSample sample{5000, 1, 1};
  int64_t in_flight = 1, last = 4800;
  server::AddPeerLoad(peers["m"], sample, in_flight, last);
  EXPECT_DOUBLE_EQ(sample.concurrency, 3.0);
  EXPECT_EQ(in_flight, 4);
  EXPECT_EQ(last, 4800);
}

}  // namespace
}  // namespace allot
