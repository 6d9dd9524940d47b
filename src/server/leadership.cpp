#include "server/leadership.h"

#include <unistd.h>

#include <iostream>

#include "common/random_hex.h"

namespace allot::server {

std::string ServerIdentity() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "server") + std::string("-") + std::to_string(getpid()) +
         "-" + RandomHex(3);
}

Leadership::Leadership(store::Store& store, std::string holder, std::chrono::milliseconds ttl)
    : store_(store), holder_(std::move(holder)), ttl_(ttl) {}

Leadership::~Leadership() {
  Stop();
}

void Leadership::Start() {
  Renew();
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      stop_.wait_for(lock, ttl_ / 3, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      Renew();
      lock.lock();
    }
  });
}

void Leadership::Stop() {
  std::optional<store::Lease> held;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    stop_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mutex_);
    held = lease_;
    lease_.reset();
  }
  if (held) (void)store_.ReleaseLease(*held);
}

void Leadership::Renew() {
  Clock::time_point started = Clock::now();
  Result<store::Lease> taken = store_.AcquireLease(kLeaseName, holder_, ttl_);
  bool elected = false;
  {
    std::lock_guard lock(mutex_);
    if (taken) {
      elected =
          !lease_ || lease_->epoch != taken->epoch || Clock::now() - renewed_at_ >= ttl_ - ttl_ / 4;
      lease_ = *taken;
      renewed_at_ = started;
      leader_name_ = holder_;
    } else if (taken.error().code == "held") {
      lease_.reset();
      std::string message = taken.error().message;
      auto open = message.find('\'', message.find("held by"));
      auto close = message.rfind('\'');
      if (open != std::string::npos && close > open) {
        leader_name_ = message.substr(open + 1, close - open - 1);
      }
    }
    // Another error (the store is unreachable): the lease stays as it was,
    // and Current() lets it lapse on time.
  }
  if (elected) {
    std::cerr << "allot: leading the scheduling loop (lease epoch " << taken->epoch << ", "
              << holder_ << ")" << std::endl;
    if (on_elected_) on_elected_();
  }
}

std::optional<store::Lease> Leadership::Current() const {
  std::lock_guard lock(mutex_);
  if (!lease_) return std::nullopt;
  if (store_.Shared() && Clock::now() - renewed_at_ >= ttl_ - ttl_ / 4) return std::nullopt;
  return lease_;
}

void Leadership::Deposed() {
  std::lock_guard lock(mutex_);
  lease_.reset();
}

std::string Leadership::LeaderName() const {
  std::lock_guard lock(mutex_);
  return leader_name_;
}

}  // namespace allot::server
