#include "bench/bench_server.h"

#include <chrono>

namespace allot::bench {

Result<std::unique_ptr<Server>> Server::Start(bool with_loop, const std::string& postgres) {
  auto store = BenchStore::Create(postgres);
  if (!store) return store.error();
  return std::unique_ptr<Server>(new Server(with_loop, std::move(*store)));
}

Server::~Server() {
  if (loop_) loop_->Stop();
  api_->Stop();
  thread_.join();
  api_.reset();
  loop_.reset();
  store_.reset();
}

void Server::StartLoop() {
  loop_->Start(std::chrono::milliseconds(1000));
}

Server::Server(bool with_loop, std::unique_ptr<BenchStore> store) : store_(std::move(store)) {
  token_ = *api::BootstrapAdmin(this->store(), 0);
  (void)api::BootstrapDefaultProject(this->store());
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  if (with_loop) loop_ = std::make_unique<server::SchedulingLoop>(this->store(), now);
  api::ApiOptions options;
  options.now_ms = now;
  if (loop_) options.on_change = [this] { loop_->Wake(); };
  api_ = std::make_unique<api::HttpApi>(this->store(), options);
  port_ = *api_->Bind("127.0.0.1", 0);
  thread_ = std::thread([this] { api_->Serve(); });
}

}  // namespace allot::bench
