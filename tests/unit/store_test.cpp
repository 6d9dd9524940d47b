// The store contract, on both stores (SQLite and PostgreSQL): objects,
// revisions, conflicts, paging, the change log, audit, durability across
// reopen, group commit, fences, leases, heartbeats; then what only several
// servers on one PostgreSQL show (watches across servers, a restart of the
// database) and each store's schema versions.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "postgres_server.h"
#include "store/open_store.h"
#include "store/sqlite_store.h"
#include "store/store_copy.h"
#include "test_support.h"

namespace allot::store {
namespace {

using Op = Write::Op;

std::string TempDb(const std::string& name) {
  auto path = testing::TempPath(name + ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  return path.string();
}

// A fresh store of the kind the parameter names, for each test.
class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      testing::TestPostgres& server = testing::TestPostgres::Get();
      ASSERT_TRUE(server.error().empty()) << server.error();
      url_ = server.NewDatabase();
    } else {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      for (char& c : name) c = c == '/' ? '_' : c;
      url_ = "sqlite:" + TempDb(name);
    }
    store_ = Open();
    ASSERT_TRUE(store_);
  }
  // Another opening of the same store: another server, for PostgreSQL.
  std::unique_ptr<Store> Open() {
    auto opened = OpenStore(url_);
    EXPECT_TRUE(opened) << opened.error().message;
    return opened ? std::move(*opened) : nullptr;
  }

  std::string url_;
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreContract, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

TEST_P(StoreContract, CreateGetUpdateDeleteBumpRevisions) {
  Store* store = store_.get();
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

TEST_P(StoreContract, ConflictsAndDuplicatesChangeNothing) {
  Store* store = store_.get();
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

TEST_P(StoreContract, ListPagesInNameOrderAndFilters) {
  Store* store = store_.get();
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

TEST_P(StoreContract, ChangesSinceReplaysEveryChange) {
  Store* store = store_.get();
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

TEST_P(StoreContract, AuditIsAppendedAndQueriedByActor) {
  Store* store = store_.get();
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

TEST_P(StoreContract, AuditListsTheNewestFirstOnRequest) {
  Store* store = store_.get();
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

TEST_P(StoreContract, CommittedChangesSurviveReopen) {
  ASSERT_TRUE(store_->Commit({{Op::kCreate, "workloads", "w1", "{}", 0}}));
  store_.reset();
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->Get("workloads", "w1"));
  EXPECT_EQ(*store->Revision(), 1);
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
TEST_P(StoreContract, ConcurrentCommitsAreEachAppliedOrRefusedAlone) {
  Store& store = *store_;
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

TEST_P(StoreContract, ACallerConflictFailsOnlyItsOwnWrites) {
  Store* store = store_.get();
  ASSERT_TRUE(store->Commit({{Op::kCreate, "projects", "a", "{}", 0}}));
  // Both writes of one call fail together, the store is unchanged.
  auto failed = store->Commit(
      {{Op::kCreate, "projects", "b", "{}", 0}, {Op::kCreate, "projects", "a", "{}", 0}});
  ASSERT_FALSE(failed);
  EXPECT_FALSE(store->Get("projects", "b"));
  EXPECT_EQ(*store->Revision(), 1);
}

TEST_P(StoreContract, WaitForChangeWakesOnCommitAndTimesOut) {
  Store* store = store_.get();
  EXPECT_EQ(store->WaitForChange(0, std::chrono::milliseconds(10)), 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(store->Commit({{Op::kCreate, "projects", "a", "{}", 0}}));
  });
  EXPECT_EQ(store->WaitForChange(0, std::chrono::seconds(30)), 1);
  writer.join();
}

TEST_P(StoreContract, ACheckWritesNothingAndFailsOnAnotherRevision) {
  Store* store = store_.get();
  auto created = store->Commit({{Op::kCreate, "projects", "a", "{}", 0}});
  ASSERT_TRUE(created);
  auto checked = store->Commit(
      {{Op::kCheck, "projects", "a", "", *created}, {Op::kCreate, "projects", "b", "{}", 0}});
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(*checked, 2);  // the check took no revision
  EXPECT_EQ(store->ChangesSince(1, 10)->size(), 1u);
  auto stale = store->Commit(
      {{Op::kCheck, "projects", "a", "", *created + 5}, {Op::kCreate, "projects", "c", "{}", 0}});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, "conflict");
  EXPECT_FALSE(store->Get("projects", "c"));
  auto missing = store->Commit({{Op::kCheck, "projects", "zz", "", 0}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "not_found");
}

TEST_P(StoreContract, AStrangeBodyAndNameRoundTrip) {
  std::string body = R"({"text":"quote \" backslash \\ brace {} comma , unicode é 😀"})";
  std::string name = "a,b\"c{d}";
  ASSERT_TRUE(store_->Commit(
      {{Op::kCreate, "notes", name, body, 0}, {Op::kCreate, "notes", "plain", "{}", 0}}));
  auto got = store_->Get("notes", name);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->body, body);
  auto changes = store_->ChangesSince(0, 10);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].name, name);
  EXPECT_EQ((*changes)[0].body, body);
}

TEST_P(StoreContract, LeasesGoToOneHolderAndANewHolderGetsANewEpoch) {
  Store* store = store_.get();
  auto first = store->AcquireLease("scheduler", "s1", std::chrono::seconds(30));
  ASSERT_TRUE(first) << first.error().message;
  auto renewed = store->AcquireLease("scheduler", "s1", std::chrono::seconds(30));
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->epoch, first->epoch);
  auto refused = store->AcquireLease("scheduler", "s2", std::chrono::seconds(30));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "held");
  EXPECT_NE(refused.error().message.find("'s1'"), std::string::npos);
  // Released: the next holder takes it at once, with the next epoch.
  ASSERT_TRUE(store->ReleaseLease(*first));
  auto second = store->AcquireLease("scheduler", "s2", std::chrono::seconds(30));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->epoch, first->epoch + 1);
  // Expired: taken over without a release.
  auto shortlived = store->AcquireLease("other", "s1", std::chrono::milliseconds(50));
  ASSERT_TRUE(shortlived);
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  auto taken = store->AcquireLease("other", "s2", std::chrono::seconds(30));
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_EQ(taken->epoch, shortlived->epoch + 1);
}

TEST_P(StoreContract, ADeposedHoldersFencedCommitIsRefusedWhole) {
  Store* store = store_.get();
  ASSERT_TRUE(store->Commit({{Op::kCreate, "workloads", "w", R"({"v":0})", 0}}));
  auto old_lease = store->AcquireLease("scheduler", "old", std::chrono::milliseconds(50));
  ASSERT_TRUE(old_lease);
  ASSERT_TRUE(store->CommitFenced({{Op::kUpdate, "workloads", "w", R"({"v":1})", 0}}, *old_lease));
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  auto new_lease = store->AcquireLease("scheduler", "new", std::chrono::seconds(30));
  ASSERT_TRUE(new_lease);
  int64_t before = *store->Revision();
  auto refused = store->CommitFenced(
      {{Op::kUpdate, "workloads", "w", R"({"v":2})", 0}, {Op::kCreate, "events", "e", "{}", 0}},
      *old_lease);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "fenced");
  EXPECT_EQ(*store->Revision(), before);
  EXPECT_EQ(store->Get("workloads", "w")->body, R"({"v":1})");
  EXPECT_FALSE(store->Get("events", "e"));
  ASSERT_TRUE(store->CommitFenced({{Op::kUpdate, "workloads", "w", R"({"v":3})", 0}}, *new_lease));
}

TEST_P(StoreContract, HeartbeatsKeepTheLatestTimeAndTakeNoRevision) {
  Store* store = store_.get();
  ASSERT_TRUE(store->RecordHeartbeat("n1", 2000));
  ASSERT_TRUE(store->RecordHeartbeat("n1", 1000));  // late, from a slower server
  ASSERT_TRUE(store->RecordHeartbeat("n2", 5000));
  auto heard = store->Heartbeats();
  ASSERT_TRUE(heard);
  EXPECT_EQ(heard->at("n1"), 2000);
  EXPECT_EQ(heard->at("n2"), 5000);
  EXPECT_EQ(*store->Revision(), 0);
}

TEST_P(StoreContract, ServiceLoadsKeepEachServersLastAndTakeNoRevision) {
  Store* store = store_.get();
  ASSERT_TRUE(store->RecordServiceLoad({"s1", "chat", R"({"in_flight":1})", 1000}));
  ASSERT_TRUE(store->RecordServiceLoad({"s1", "chat", R"({"in_flight":3})", 2000}));
  ASSERT_TRUE(store->RecordServiceLoad({"s2", "chat", R"({"in_flight":5})", 2100}));
  auto loads = store->ServiceLoads();
  ASSERT_TRUE(loads);
  ASSERT_EQ(loads->size(), 2u);
  std::map<std::string, store::ServiceLoad> by_server;
  for (const auto& load : *loads) by_server[load.server] = load;
  EXPECT_EQ(by_server["s1"].body, R"({"in_flight":3})");
  EXPECT_EQ(by_server["s1"].at_ms, 2000);
  EXPECT_EQ(by_server["s2"].service, "chat");
  EXPECT_EQ(*store->Revision(), 0);
}

// Several servers on one PostgreSQL: each is an opening of its own.
class SharedStore : public StoreContract {};
INSTANTIATE_TEST_SUITE_P(Stores, SharedStore, ::testing::Values("postgresql"),
                         [](const auto& param_info) { return param_info.param; });

TEST_P(SharedStore, AWatcherOnEveryServerSeesEveryChangeOnceInOrder) {
  std::unique_ptr<Store> other = Open();
  ASSERT_TRUE(other);
  EXPECT_TRUE(store_->Shared());
  constexpr int kPerServer = 200;
  std::atomic<bool> done{false};
  std::vector<int64_t> seen;
  std::thread watcher([&] {
    int64_t at = 0;
    while (!done || at < *other->Revision()) {
      other->WaitForChange(at, std::chrono::milliseconds(500));
      auto changes = other->ChangesSince(at, 1000);
      ASSERT_TRUE(changes);
      for (const Change& change : *changes) {
        seen.push_back(change.revision);
        at = change.revision;
      }
    }
  });
  std::vector<std::thread> writers;
  for (Store* server : {store_.get(), other.get()}) {
    writers.emplace_back([server, index = writers.size()] {
      for (int i = 0; i < kPerServer; ++i) {
        std::string name = "w" + std::to_string(index) + "-" + std::to_string(i);
        EXPECT_TRUE(server->Commit({{Op::kCreate, "workloads", name, "{}", 0}}));
      }
    });
  }
  for (auto& writer : writers) writer.join();
  done = true;
  watcher.join();
  ASSERT_EQ(seen.size(), 2u * kPerServer);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], static_cast<int64_t>(i) + 1);
  // The other server's watch woke for this one's commits (NOTIFY).
  EXPECT_EQ(other->WaitForChange(0, std::chrono::milliseconds(0)), 2 * kPerServer);
}

// Tokens, users, projects and departments are cached on PostgreSQL
// (store/object_cache.h): a change through either server reaches the other's
// cache, its own at once, and a cached "not found" goes when the object comes.
TEST_P(SharedStore, CachedReadsFollowChangesThroughEveryServer) {
  std::unique_ptr<Store> other = Open();
  ASSERT_TRUE(other);
  auto reads = [](Store& server, const std::string& name, const std::string& body) {
    for (int i = 0; i < 300; ++i) {
      auto got = server.Get("users", name);
      if (body.empty() ? !got && got.error().code == "not_found" : got && got->body == body) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  ASSERT_TRUE(store_->Commit({{Op::kCreate, "users", "u", R"({"v":1})", 0}}));
  EXPECT_TRUE(reads(*other, "u", R"({"v":1})"));
  EXPECT_TRUE(reads(*other, "later", ""));
  for (int i = 0; i < 5; ++i) (void)other->Get("users", "u");  // kept by now
  ASSERT_TRUE(store_->Commit({{Op::kUpdate, "users", "u", R"({"v":2})", 0}}));
  EXPECT_EQ(store_->Get("users", "u")->body, R"({"v":2})");
  EXPECT_TRUE(reads(*other, "u", R"({"v":2})"));
  ASSERT_TRUE(store_->Commit({{Op::kCreate, "users", "later", "{}", 0}}));
  EXPECT_TRUE(reads(*other, "later", "{}"));
  ASSERT_TRUE(other->Commit({{Op::kDelete, "users", "u", "", 0}}));
  EXPECT_FALSE(other->Get("users", "u"));
  EXPECT_TRUE(reads(*store_, "u", ""));
}

TEST_P(SharedStore, ARestartOfTheDatabaseLosesNoAcknowledgedCommit) {
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      std::string name = "w" + std::to_string(i);
      auto committed = store_->Commit({{Op::kCreate, "workloads", name, "{}", 0}});
      if (committed) {
        acknowledged.insert(name);
      } else {
        EXPECT_EQ(committed.error().code, "unavailable") << committed.error().message;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(testing::TestPostgres::Get().Restart());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  writer.join();
  size_t before_restart = acknowledged.size();
  EXPECT_GT(before_restart, 0u);
  auto listed = store_->List({"workloads", "", 1000000, {}});
  ASSERT_TRUE(listed) << listed.error().message;
  std::set<std::string> stored;
  for (const Object& object : listed->items) stored.insert(object.name);
  for (const std::string& name : acknowledged) EXPECT_TRUE(stored.count(name)) << name;
  // And it writes again after the restart.
  EXPECT_TRUE(store_->Commit({{Op::kCreate, "workloads", "after", "{}", 0}}));
}

TEST(PostgresStore, RefusesADatabaseFromANewerAllot) {
  testing::TestPostgres& server = testing::TestPostgres::Get();
  ASSERT_TRUE(server.error().empty()) << server.error();
  std::string url = server.NewDatabase();
  ASSERT_TRUE(OpenStore(url));
  std::string db = url.substr(url.find(":///") + 4, url.find('?') - url.find(":///") - 4);
  std::string psql = "psql -q -h " + server.socket_dir() + " -U postgres -d " + db +
                     " -c 'UPDATE allot_schema SET version = 99' >/dev/null 2>&1";
  ASSERT_EQ(std::system(psql.c_str()), 0);
  auto store = OpenStore(url);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("schema version 99"), std::string::npos);
}

// SQLite to PostgreSQL: every object with its revision, the audit log with
// its ids, the revision; then the copy serves as the store it copied.
TEST(StoreCopy, CopiesEverythingAndRefusesATargetThatIsNotEmpty) {
  auto from = OpenStore("sqlite:" + TempDb("copy-from"));
  ASSERT_TRUE(from);
  for (int i = 0; i < 2500; ++i) {
    std::string kind = i % 3 ? "workloads" : "events";
    std::string body = R"({"i":)" + std::to_string(i) + R"(,"q":"a\"b"})";
    ASSERT_TRUE((*from)->Commit({{Op::kCreate, kind, "o" + std::to_string(i), body, 0}}));
  }
  ASSERT_TRUE((*from)->Commit({{Op::kUpdate, "workloads", "o1", R"({"i":"again"})", 0}}));
  ASSERT_TRUE((*from)->Commit({{Op::kDelete, "events", "o0", "", 0}}));
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE((*from)->AppendAudit(
        {0, i, "ada", "127.0.0.1", "POST", "/x", i % 2 == 0, 201, "entry " + std::to_string(i)}));
  }
  testing::TestPostgres& server = testing::TestPostgres::Get();
  ASSERT_TRUE(server.error().empty()) << server.error();
  auto to = OpenStore(server.NewDatabase());
  ASSERT_TRUE(to);
  auto report = CopyStore(**from, **to);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->objects, 2499);
  EXPECT_EQ(report->kinds, 2);
  EXPECT_EQ(report->audit_entries, 30);
  EXPECT_EQ(report->revision, 2502);
  EXPECT_EQ((*to)->Get("workloads", "o1")->revision, (*from)->Get("workloads", "o1")->revision);
  auto listed_again = (*to)->ChangesSince(100, 10);  // nothing of the log was copied
  ASSERT_FALSE(listed_again);
  EXPECT_EQ(listed_again.error().code, "gone");
  EXPECT_TRUE((*to)->ChangesSince(2502, 10)->empty());
  // It carries on from there: the next revision, the next audit id.
  auto next = (*to)->Commit({{Op::kCreate, "workloads", "new", "{}", 0}});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(*next, 2503);
  ASSERT_TRUE((*to)->AppendAudit({0, 99, "bob", "", "GET", "/", true, 200, ""}));
  auto newest = (*to)->ListAudit({0, 1, "", true});
  ASSERT_TRUE(newest);
  EXPECT_GT((*newest)[0].id, 30);
  // A watcher from before the copy lists again.
  auto gone = (*to)->ChangesSince(100, 10);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, "gone");
  auto again = CopyStore(**from, **to);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("not empty"), std::string::npos);
}

TEST(OpenStore, NamesTheFlagForAnUnknownUrl) {
  auto store = OpenStore("mysql://x");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().field, "store");
  EXPECT_NE(store.error().message.find("sqlite:PATH"), std::string::npos);
  EXPECT_FALSE(OpenStore("sqlite:"));
  auto down = OpenStore("postgresql://127.0.0.1:1/none?connect_timeout=2");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, "unavailable");
}

}  // namespace
}  // namespace allot::store
