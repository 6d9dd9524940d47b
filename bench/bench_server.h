// The server that the control-plane benchmarks drive: allot's API, and
// optionally its scheduling loop, on loopback over a throwaway store
// (bench/bench_store.h), with an admin token and the default project.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "api/http_api.h"
#include "bench/bench_store.h"
#include "common/result.h"
#include "server/scheduling_loop.h"

namespace allot::bench {

class Server {
 public:
  // `postgres`: as BenchStore::Create. The loop is made, not started.
  static Result<std::unique_ptr<Server>> Start(bool with_loop, const std::string& postgres);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Runs the scheduling loop (with_loop only), a cycle a second and at every change.
  void StartLoop();
  server::SchedulingLoop& loop() { return *loop_; }

  store::Store& store() { return store_->store(); }
  const char* store_kind() const { return store_->kind(); }
  const std::string& token() const { return token_; }  // an admin's
  int port() const { return port_; }

 private:
  Server(bool with_loop, std::unique_ptr<BenchStore> store);

  std::unique_ptr<BenchStore> store_;
  std::unique_ptr<server::SchedulingLoop> loop_;
  std::unique_ptr<api::HttpApi> api_;
  std::thread thread_;
  std::string token_;
  int port_ = 0;
};

}  // namespace allot::bench
