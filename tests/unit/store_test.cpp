// The SQLite store: objects, revisions, conflicts, paging, the change log,
// audit, durability across reopen, and schema versions.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <set>
#include <thread>

#include "store/sqlite_store.h"
#include "test_support.h"

namespace allot::store {
namespace {

using Op = Write::Op;

std::unique_ptr<SqliteStore> Memory() {
  auto store = SqliteStore::Open(":memory:");
  EXPECT_TRUE(store) << store.error().message;
  return std::move(*store);
}

std::string TempDb(const std::string& name) {
  auto path = testing::TempPath(name + ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  return path.string();
}

TEST(SqliteStore, CreateGetUpdateDeleteBumpRevisions) {
  auto store = Memory();
  auto r1 = store->Commit({{Op::kCreate, "projects", "vision", R"({"gpu":4})", 0}});
  ASSERT_TRUE(r1) << r1.error().message;
  EXPECT_EQ(*r1, 1);
  auto got = store->Get("projects", "vision");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body, R"({"gpu":4})");
  EXPECT_EQ(got->revision, 1);
  auto r2 = store->Commit({{Op::kUpdate, "projects", "vision", R"({"gpu":8})", 1}});
  ASSERT_TRUE(r2);
  EXPECT_EQ(*r2, 2);
  EXPECT_EQ(store->Get("projects", "vision")->created_revision, 1);
  ASSERT_TRUE(store->Commit({{Op::kDelete, "projects", "vision", "", 0}}));
  auto gone = store->Get("projects", "vision");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, "not_found");
  EXPECT_EQ(*store->Revision(), 3);
}

TEST(SqliteStore, ConflictsAndDuplicatesChangeNothing) {
  auto store = Memory();
  ASSERT_TRUE(store->Commit({{Op::kCreate, "projects", "a", "{}", 0}}));
  auto duplicate = store->Commit(
      {{Op::kCreate, "projects", "b", "{}", 0}, {Op::kCreate, "projects", "a", "{}", 0}});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, "already_exists");
  // All or nothing: b was not created either.
  EXPECT_FALSE(store->Get("projects", "b"));
  auto stale = store->Commit({{Op::kUpdate, "projects", "a", R"({"x":1})", 7}});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, "conflict");
  EXPECT_EQ(stale.error().field, "revision");
  auto missing = store->Commit({{Op::kUpdate, "projects", "zz", "{}", 0}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "not_found");
  EXPECT_EQ(*store->Revision(), 1);
}

TEST(SqliteStore, ListPagesInNameOrderAndFilters) {
  auto store = Memory();
  std::vector<Write> writes;
  for (int i = 0; i < 25; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "w%02d", i);
    std::string body = std::string(R"({"project":")") + (i % 2 ? "odd" : "even") + R"("})";
    writes.push_back({Op::kCreate, "workloads", name, body, 0});
  }
  ASSERT_TRUE(store->Commit(writes));
  ListQuery query{"workloads", "", 10, {}};
  std::vector<std::string> seen;
  for (;;) {
    auto page = store->List(query);
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_EQ(page->revision, 25);
    for (const auto& item : page->items) seen.push_back(item.name);
    if (!page->more) break;
    query.after = page->items.back().name;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "w00");
  EXPECT_EQ(seen.back(), "w24");
  auto odd = store->List({"workloads", "", 100, {{"project", "odd"}}});
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->items.size(), 12u);
  EXPECT_FALSE(odd->more);
}

TEST(SqliteStore, ChangesSinceReplaysEveryChange) {
  auto store = Memory();
  ASSERT_TRUE(store->Commit({{Op::kCreate, "nodes", "n1", R"({"v":1})", 0}}));
  ASSERT_TRUE(store->Commit({{Op::kUpdate, "nodes", "n1", R"({"v":2})", 0}}));
  ASSERT_TRUE(store->Commit({{Op::kDelete, "nodes", "n1", "", 0}}));
  auto changes = store->ChangesSince(1, 100);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].body, R"({"v":2})");
  EXPECT_TRUE((*changes)[1].deleted);
  EXPECT_EQ((*changes)[1].body, R"({"v":2})");  // the last body before the delete
  EXPECT_TRUE(store->ChangesSince(3, 100)->empty());
}

TEST(SqliteStore, AuditIsAppendedAndQueriedByActor) {
  auto store = Memory();
  ASSERT_TRUE(store->AppendAudit({0, 1000, "ada", "127.0.0.1", "POST", "/api/v1/workloads", true,
                                  201, "created workloads/w1"}));
  ASSERT_TRUE(store->AppendAudit(
      {0, 2000, "anonymous", "10.0.0.9", "GET", "/api/v1/nodes", false, 401, "bad token"}));
  auto all = store->ListAudit({0, 100, ""});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_LT((*all)[0].id, (*all)[1].id);
  auto ada = store->ListAudit({0, 100, "ada"});
  ASSERT_EQ(ada->size(), 1u);
  EXPECT_EQ((*ada)[0].status, 201);
  EXPECT_TRUE((*ada)[0].allowed);
}

TEST(SqliteStore, AuditListsTheNewestFirstOnRequest) {
  auto store = Memory();
  for (const char* actor : {"a", "b", "c"}) {
    AuditEntry entry;
    entry.actor = actor;
    ASSERT_TRUE(store->AppendAudit(entry));
  }
  AuditQuery newest;
  newest.limit = 2;
  newest.newest_first = true;
  auto entries = store->ListAudit(newest);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].actor, "c");
  EXPECT_EQ((*entries)[1].actor, "b");
}

TEST(SqliteStore, CommittedChangesSurviveReopen) {
  std::string path = TempDb("reopen");
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE((*store)->Commit({{Op::kCreate, "workloads", "w1", "{}", 0}}));
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store);
  EXPECT_TRUE((*store)->Get("workloads", "w1"));
  EXPECT_EQ(*(*store)->Revision(), 1);
}

TEST(SqliteStore, RefusesADatabaseFromANewerAllot) {
  std::string path = TempDb("newer");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto store = SqliteStore::Open(path);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("schema version 99"), std::string::npos);
}

// Group commit: many threads commit at once on a file store; every success
// gets its own revision, every duplicate name fails alone, and a conflict of
// one caller does not undo another's writes in the same group.
TEST(SqliteStore, ConcurrentCommitsAreEachAppliedOrRefusedAlone) {
  auto opened = SqliteStore::Open(TempDb("group"));
  ASSERT_TRUE(opened);
  SqliteStore& store = **opened;
  constexpr int kThreads = 16;
  constexpr int kPerThread = 40;
  std::vector<std::vector<int64_t>> revisions(kThreads);
  std::vector<int> duplicates(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every thread also tries a name that thread 0 creates: only one wins.
        std::string name = "w" + std::to_string(t) + "-" + std::to_string(i);
        auto mine = store.Commit({{Op::kCreate, "workloads", name, "{}", 0}});
        if (mine) revisions[static_cast<size_t>(t)].push_back(*mine);
        auto shared = store.Commit({{Op::kCreate, "workloads", "s" + std::to_string(i), "{}", 0}});
        if (!shared) {
          EXPECT_EQ(shared.error().code, "already_exists");
          ++duplicates[static_cast<size_t>(t)];
        }
        AuditEntry entry;
        entry.actor = name;
        EXPECT_TRUE(store.AppendAudit(entry));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<int64_t> distinct;
  int duplicate_total = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(revisions[static_cast<size_t>(t)].size(), static_cast<size_t>(kPerThread));
    distinct.insert(revisions[static_cast<size_t>(t)].begin(),
                    revisions[static_cast<size_t>(t)].end());
    duplicate_total += duplicates[static_cast<size_t>(t)];
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(duplicate_total, (kThreads - 1) * kPerThread);
  // Every revision is accounted for: own creates plus one winner per shared name.
  EXPECT_EQ(*store.Revision(), kThreads * kPerThread + kPerThread);
  auto all = store.List({"workloads", "", 100000, {}});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), static_cast<size_t>(kThreads * kPerThread + kPerThread));
  auto audit = store.ListAudit({0, 100000, ""});
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(SqliteStore, ACallerConflictFailsOnlyItsOwnWrites) {
  auto store = Memory();
  ASSERT_TRUE(store->Commit({{Op::kCreate, "projects", "a", "{}", 0}}));
  // Both writes of one call fail together, the store is unchanged.
  auto failed = store->Commit(
      {{Op::kCreate, "projects", "b", "{}", 0}, {Op::kCreate, "projects", "a", "{}", 0}});
  ASSERT_FALSE(failed);
  EXPECT_FALSE(store->Get("projects", "b"));
  EXPECT_EQ(*store->Revision(), 1);
}

TEST(SqliteStore, WaitForChangeWakesOnCommitAndTimesOut) {
  auto store = Memory();
  EXPECT_EQ(store->WaitForChange(0, std::chrono::milliseconds(10)), 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(store->Commit({{Op::kCreate, "projects", "a", "{}", 0}}));
  });
  EXPECT_EQ(store->WaitForChange(0, std::chrono::seconds(30)), 1);
  writer.join();
}

}  // namespace
}  // namespace allot::store
