#include "store/commit_queue.h"

namespace allot::store {

Result<int64_t> CommitQueue::Submit(CommitRequest& request) {
  std::unique_lock lock(mutex_);
  waiting_.push_back(&request);
  while (!request.done) {
    if (group_running_) {
      group_done_.wait(lock);
      continue;
    }
    group_running_ = true;
    Group group(waiting_.begin(), waiting_.end());
    waiting_.clear();
    lock.unlock();
    commit_group_(group);
    lock.lock();
    for (CommitRequest* member : group) member->done = true;
    group_running_ = false;
    group_done_.notify_all();
  }
  return std::move(request.result);
}

}  // namespace allot::store
