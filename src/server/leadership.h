// Which server runs the scheduling loop and the serving controller
// (docs/high-availability.md). Every server on a shared store tries to take
// the store's lease "scheduler" and, once it holds it, renews it every
// third of its time to live. A server leads while its last successful
// renewal started less than `ttl` minus a margin ago on its own monotonic
// clock: it stops before the store lets another server take over, even
// when it cannot reach the store to learn that it lost. What it writes as
// leader carries the lease as a fence (Store::CommitFenced), so a plan of a
// deposed leader is refused whole even if it believed itself leader.
//
// On a store of one server (SQLite) the lease is taken at Start() and held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "store/store.h"

namespace allot::server {

class Leadership {
 public:
  static constexpr const char* kLeaseName = "scheduler";

  // `holder`: this server's name in the lease, unique among the servers.
  Leadership(store::Store& store, std::string holder, std::chrono::milliseconds ttl);
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  // Tries once at once, then keeps trying and renewing on a thread.
  void Start();
  // Stops renewing and releases the lease, so that another server takes
  // over without waiting for it to expire.
  void Stop();

  // One attempt to take or renew the lease (the thread's step; tests call
  // it directly).
  void Renew();
  // The lease while this server leads, nothing otherwise.
  std::optional<store::Lease> Current() const;
  bool Leading() const { return Current().has_value(); }
  // The store refused a fenced write: another server leads now.
  void Deposed();
  // Called (on the renewing thread) when this server starts leading.
  void OnElected(std::function<void()> elected) { on_elected_ = std::move(elected); }

  const std::string& holder() const { return holder_; }
  // The holder of the lease as last seen ("" when unknown).
  std::string LeaderName() const;

 private:
  using Clock = std::chrono::steady_clock;

  store::Store& store_;
  std::string holder_;
  std::chrono::milliseconds ttl_;
  std::function<void()> on_elected_;

  mutable std::mutex mutex_;
  std::optional<store::Lease> lease_;
  Clock::time_point renewed_at_{};  // when the last successful renewal started
  std::string leader_name_;
  bool stopping_ = false;
  std::condition_variable stop_;
  std::thread thread_;
};

// A name for this server in the lease: host, pid and a random suffix.
std::string ServerIdentity();

}  // namespace allot::server
