// Group commit, shared by the stores: concurrent Commit() and AppendAudit()
// calls are gathered into one database transaction, one sync for all of
// them. Each call is a CommitRequest; the store's group function runs the
// group in one transaction and sets every request's result (each caller in
// a savepoint of its own, so one caller's conflict fails only that call).
// Every caller returns only after the group holding it is committed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "store/store.h"

namespace allot::store {

// One caller's request: writes, an audit entry, or both (the entry recorded
// when the writes succeed); with a fence, the writes only while it holds.
struct CommitRequest {
  const std::vector<Write>* writes = nullptr;
  const AuditEntry* audit = nullptr;
  const Lease* fence = nullptr;
  Result<int64_t> result = int64_t{0};
  bool done = false;
};

class CommitQueue {
 public:
  using Group = std::vector<CommitRequest*>;

  // `commit_group` runs one group and sets each request's result.
  explicit CommitQueue(std::function<void(const Group&)> commit_group)
      : commit_group_(std::move(commit_group)) {}

  // Queues `request` and returns its result once a group holding it is
  // committed; the first caller to find no group running leads the next one,
  // made of everything that queued up while the previous group was syncing.
  Result<int64_t> Submit(CommitRequest& request);
  // A request of these parts, submitted (any may be null; not all).
  Result<int64_t> Submit(const std::vector<Write>* writes, const AuditEntry* audit,
                         const Lease* fence) {
    CommitRequest request;
    request.writes = writes;
    request.audit = audit;
    request.fence = fence;
    return Submit(request);
  }

 private:
  std::function<void(const Group&)> commit_group_;
  std::mutex mutex_;
  std::condition_variable group_done_;
  std::deque<CommitRequest*> waiting_;
  bool group_running_ = false;
};

}  // namespace allot::store
