// Several servers on one PostgreSQL: exactly one leads the scheduling loop,
// another takes over when it stops or goes quiet, and a deposed leader's
// plan is refused by the store (docs/high-availability.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api/http_api.h"
#include "postgres_server.h"
#include "server/leadership.h"
#include "server/scheduling_loop.h"
#include "store/open_store.h"
#include "wire/resources.h"

namespace allot::server {
namespace {

using nlohmann::json;
using Op = store::Write::Op;

class LeadershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::TestPostgres& server = testing::TestPostgres::Get();
    ASSERT_TRUE(server.error().empty()) << server.error();
    url_ = server.NewDatabase();
    a_ = Open();
    b_ = Open();
    ASSERT_TRUE(a_ && b_);
    ASSERT_TRUE(api::BootstrapDefaultProject(*a_, 2000));
    auto node = wire::DecodeNode(
        json{{"name", "n1"}, {"cpu", 16}, {"memory", "64Gi"}, {"simulate_gpus", "2xA100-80GB"}});
    ASSERT_TRUE(node);
    ASSERT_TRUE(a_->Commit({{Op::kCreate, "nodes", "n1", wire::EncodeNode(*node).dump(), 0}}));
  }
  std::unique_ptr<store::Store> Open() {
    auto opened = store::OpenStore(url_);
    EXPECT_TRUE(opened) << opened.error().message;
    return opened ? std::move(*opened) : nullptr;
  }
  void Submit(store::Store& store, const std::string& name) {
    auto w = wire::DecodeWorkloadSubmission(
        json{{"name", name}, {"project", "default"}, {"gpu", "1"}, {"cpu", 1}, {"memory", "1Gi"}});
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_TRUE(
        store.Commit({{Op::kCreate, "workloads", name, wire::EncodeWorkload(*w).dump(), 0}}));
  }
  wire::WorkloadResource Get(const std::string& name) {
    return *wire::DecodeStoredWorkload(a_->Get("workloads", name)->body);
  }

  std::string url_;
  std::unique_ptr<store::Store> a_, b_;
  int64_t now_ = 1000;
};

TEST_F(LeadershipTest, OneServerLeadsAndAnotherTakesOverWhenItStops) {
  Leadership first(*a_, "a", std::chrono::seconds(30));
  Leadership second(*b_, "b", std::chrono::seconds(30));
  first.Renew();
  second.Renew();
  EXPECT_TRUE(first.Leading());
  EXPECT_FALSE(second.Leading());
  EXPECT_EQ(second.LeaderName(), "a");
  first.Stop();  // gives the lease up
  second.Renew();
  ASSERT_TRUE(second.Leading());
  EXPECT_EQ(second.Current()->epoch, 2);
}

TEST_F(LeadershipTest, ALeaderThatCannotRenewStopsLeadingBeforeItsLeaseRunsOut) {
  Leadership leader(*a_, "a", std::chrono::milliseconds(400));
  leader.Renew();
  ASSERT_TRUE(leader.Leading());
  std::this_thread::sleep_for(std::chrono::milliseconds(320));  // past 3/4 of the time
  EXPECT_FALSE(leader.Leading());
}

TEST_F(LeadershipTest, OnlyTheLeadersLoopBindsAndADeposedLoopWritesNothing) {
  Leadership lead_a(*a_, "a", std::chrono::milliseconds(300));
  Leadership lead_b(*b_, "b", std::chrono::milliseconds(300));
  SchedulingLoop loop_a(*a_, [this] { return now_; });
  SchedulingLoop loop_b(*b_, [this] { return now_; });
  loop_a.SetLeadership(&lead_a);
  loop_b.SetLeadership(&lead_b);
  lead_a.Renew();
  lead_b.Renew();
  Submit(*b_, "w1");
  auto on_b = loop_b.RunCycle();
  ASSERT_TRUE(on_b) << on_b.error().message;
  EXPECT_EQ(on_b->binds, 0);  // b follows
  auto on_a = loop_a.RunCycle();
  ASSERT_TRUE(on_a) << on_a.error().message;
  EXPECT_EQ(on_a->binds, 1);
  EXPECT_EQ(Get("w1").status, wire::WorkloadStatus::kRunning);

  // a goes quiet; b takes over once the lease ran out on the database's clock.
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  lead_b.Renew();
  ASSERT_TRUE(lead_b.Leading());
  Submit(*a_, "w2");
  auto took_over = loop_b.RunCycle();
  ASSERT_TRUE(took_over) << took_over.error().message;
  EXPECT_EQ(took_over->binds, 1);
  EXPECT_EQ(Get("w2").status, wire::WorkloadStatus::kRunning);

  // a still holds its old lease in hand: the store refuses what it plans.
  std::optional<store::Lease> stale = store::Lease{"scheduler", "a", 1};
  Submit(*a_, "w3");
  int64_t before = *a_->Revision();
  auto refused = a_->CommitFenced({{Op::kDelete, "workloads", "w3", "", 0}}, *stale);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "fenced");
  EXPECT_EQ(*a_->Revision(), before);
  EXPECT_TRUE(a_->Get("workloads", "w3"));
  // Its loop does not even try: it no longer leads.
  auto on_a_again = loop_a.RunCycle();
  ASSERT_TRUE(on_a_again);
  EXPECT_EQ(on_a_again->binds, 0);
}

}  // namespace
}  // namespace allot::server
