// The scheduling loop's set of active workloads: listed once, then kept up
// to date from the store's changes, and listed again when the change log no
// longer reaches back.
#include "server/active_workloads.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "store/sqlite_store.h"

namespace allot::server {
namespace {

using nlohmann::json;
using Op = store::Write::Op;

// A store that answers ChangesSince() with "gone" while `gone` is set, as a
// store whose change log was trimmed past the reader does.
class TrimmedStore final : public store::Store {
 public:
  explicit TrimmedStore(store::Store& inner) : inner_(inner) {}
  bool gone = false;
  int lists = 0;

  Result<store::Object> Get(const std::string& kind, const std::string& name) override {
    return inner_.Get(kind, name);
  }
  Result<store::Page> List(const store::ListQuery& query) override {
    ++lists;
    return inner_.List(query);
  }
  Result<int64_t> Commit(const std::vector<store::Write>& writes) override {
    return inner_.Commit(writes);
  }
  Result<int64_t> CommitAudited(const std::vector<store::Write>& writes,
                                const store::AuditEntry& audit) override {
    return inner_.CommitAudited(writes, audit);
  }
  Result<int64_t> CommitFenced(const std::vector<store::Write>& writes,
                               const store::Lease& fence) override {
    return inner_.CommitFenced(writes, fence);
  }
  Result<std::vector<store::Change>> ChangesSince(int64_t revision, int64_t limit) override {
    if (gone) return Error::Coded("gone", "trimmed", "revision");
    return inner_.ChangesSince(revision, limit);
  }
  Result<int64_t> Revision() override { return inner_.Revision(); }
  int64_t WaitForChange(int64_t revision, std::chrono::milliseconds timeout) override {
    return inner_.WaitForChange(revision, timeout);
  }
  Status AppendAudit(const store::AuditEntry& entry) override { return inner_.AppendAudit(entry); }
  Result<std::vector<store::AuditEntry>> ListAudit(const store::AuditQuery& query) override {
    return inner_.ListAudit(query);
  }
  Result<store::Lease> AcquireLease(const std::string& name, const std::string& holder,
                                    std::chrono::milliseconds ttl) override {
    return inner_.AcquireLease(name, holder, ttl);
  }
  Status ReleaseLease(const store::Lease& lease) override { return inner_.ReleaseLease(lease); }
  Status RecordHeartbeat(const std::string& node, int64_t heard_ms) override {
    return inner_.RecordHeartbeat(node, heard_ms);
  }
  Result<std::map<std::string, int64_t>> Heartbeats() override { return inner_.Heartbeats(); }
  Status RecordServiceLoad(const store::ServiceLoad& load) override {
    return inner_.RecordServiceLoad(load);
  }
  Result<std::vector<store::ServiceLoad>> ServiceLoads() override { return inner_.ServiceLoads(); }
  bool Shared() const override { return inner_.Shared(); }
  Result<std::vector<std::string>> Kinds() override { return inner_.Kinds(); }
  Status Restore(const std::vector<store::Object>& objects,
                 const std::vector<store::AuditEntry>& audit, int64_t revision) override {
    return inner_.Restore(objects, audit, revision);
  }

 private:
  store::Store& inner_;
};

class ActiveWorkloadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(opened);
    sqlite_ = std::move(opened.value());
  }
  std::string Body(const std::string& name, wire::WorkloadStatus status) {
    auto w = wire::DecodeWorkloadSubmission(
        json{{"name", name}, {"project", "default"}, {"gpu", "1"}, {"cpu", 1}, {"memory", "1Gi"}});
    EXPECT_TRUE(w);
    w->status = status;
    return wire::EncodeWorkload(*w).dump();
  }
  void Write(Op op, const std::string& name, wire::WorkloadStatus status) {
    ASSERT_TRUE(sqlite_->Commit({{op, "workloads", name, Body(name, status), 0}}));
  }
  // What the set holds, checked against the store: every entry's revision
  // is the stored object's.
  std::set<std::string> Names(const ActiveWorkloads& active) {
    std::set<std::string> names;
    for (const auto& [name, entry] : active.entries()) {
      names.insert(name);
      auto stored = sqlite_->Get("workloads", name);
      EXPECT_TRUE(stored) << name;
      if (stored) {
        EXPECT_EQ(entry.revision, stored->revision) << name;
      }
      EXPECT_EQ(entry.workload.spec.name, name);
    }
    return names;
  }

  std::unique_ptr<store::SqliteStore> sqlite_;
};

TEST_F(ActiveWorkloadsTest, ListsOnlyWhatTheSchedulerConsiders) {
  Write(Op::kCreate, "pending", wire::WorkloadStatus::kPending);
  Write(Op::kCreate, "running", wire::WorkloadStatus::kRunning);
  Write(Op::kCreate, "evicted", wire::WorkloadStatus::kEvicted);
  Write(Op::kCreate, "done", wire::WorkloadStatus::kSucceeded);
  Write(Op::kCreate, "failed", wire::WorkloadStatus::kFailed);
  ActiveWorkloads active;
  ASSERT_TRUE(active.Refresh(*sqlite_));
  EXPECT_EQ(Names(active), (std::set<std::string>{"evicted", "pending", "running"}));
  EXPECT_EQ(active.revision(), *sqlite_->Revision());
}

TEST_F(ActiveWorkloadsTest, FollowsTheChangesWithoutListingAgain) {
  Write(Op::kCreate, "a", wire::WorkloadStatus::kPending);
  Write(Op::kCreate, "b", wire::WorkloadStatus::kRunning);
  Write(Op::kCreate, "c", wire::WorkloadStatus::kRunning);
  TrimmedStore store(*sqlite_);
  ActiveWorkloads active;
  ASSERT_TRUE(active.Refresh(store));
  EXPECT_EQ(store.lists, 1);

  Write(Op::kCreate, "d", wire::WorkloadStatus::kPending);    // new
  Write(Op::kUpdate, "a", wire::WorkloadStatus::kRunning);    // changed, still active
  Write(Op::kUpdate, "b", wire::WorkloadStatus::kSucceeded);  // finished
  ASSERT_TRUE(sqlite_->Commit({{Op::kDelete, "workloads", "c", "", 0}}));
  ASSERT_TRUE(sqlite_->Commit({{Op::kCreate, "nodes", "n1", "{}", 0}}));  // another kind
  ASSERT_TRUE(active.Refresh(store));
  EXPECT_EQ(store.lists, 1);
  EXPECT_EQ(Names(active), (std::set<std::string>{"a", "d"}));
  EXPECT_EQ(active.entries().at("a").workload.status, wire::WorkloadStatus::kRunning);
  EXPECT_EQ(active.revision(), *sqlite_->Revision());

  ASSERT_TRUE(active.Refresh(store));  // nothing new
  EXPECT_EQ(Names(active), (std::set<std::string>{"a", "d"}));
}

TEST_F(ActiveWorkloadsTest, ListsAgainWhenTheChangeLogIsGone) {
  Write(Op::kCreate, "a", wire::WorkloadStatus::kPending);
  TrimmedStore store(*sqlite_);
  ActiveWorkloads active;
  ASSERT_TRUE(active.Refresh(store));
  Write(Op::kCreate, "b", wire::WorkloadStatus::kPending);
  Write(Op::kUpdate, "a", wire::WorkloadStatus::kSucceeded);
  store.gone = true;
  ASSERT_TRUE(active.Refresh(store));
  EXPECT_EQ(store.lists, 2);
  EXPECT_EQ(Names(active), (std::set<std::string>{"b"}));
  EXPECT_EQ(active.revision(), *sqlite_->Revision());
}

TEST_F(ActiveWorkloadsTest, AStoredWorkloadThatDoesNotDecodeFailsTheRefresh) {
  Write(Op::kCreate, "a", wire::WorkloadStatus::kPending);
  ActiveWorkloads active;
  ASSERT_TRUE(active.Refresh(*sqlite_));
  ASSERT_TRUE(sqlite_->Commit({{Op::kUpdate, "workloads", "a", "{\"name\": 3}", 0}}));
  Status refreshed = active.Refresh(*sqlite_);
  ASSERT_FALSE(refreshed);
  EXPECT_NE(refreshed.error().message.find("stored workload 'a'"), std::string::npos);
  EXPECT_EQ(active.revision(), -1);  // lists again next time
}

}  // namespace
}  // namespace allot::server
