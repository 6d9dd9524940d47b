// The agent's HTTP endpoint for task logs (docs/agent-protocol.md §5). The
// server calls it for `allot logs`, with the secret the agent gave at
// registration; logs never leave the node otherwise.
//
//   GET /v1/logs/{workload}/{task}?node=N[&attempt=A][&follow=1]
//
// The latest attempt unless one is named. Without follow: the whole log,
// rotated files first. With follow: the current file, then what is written
// to it, until the task ends.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace allot::agent {

class LogEndpoint {
 public:
  // `tls_cert` and `tls_key`: PEM files to serve https with (the agent's
  // self-signed pair, tunnel/self_signed.h); empty: plain http.
  LogEndpoint(std::string state_dir, std::string secret, const std::string& tls_cert = "",
              const std::string& tls_key = "");
  ~LogEndpoint();

  // Binds host:port (0: any free port) and returns the port.
  Result<int> Bind(const std::string& host, int port);
  void Serve();  // blocks until Stop()
  void Stop();

  // The directory of a task's attempt (the latest when attempt < 1), or ""
  // when there is none.
  static std::string FindAttempt(const std::string& tasks_dir, const std::string& workload,
                                 int task, int attempt);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// With `tls` (the agent talks to its servers over https): a new
// self-signed certificate for `address`, written with its key to
// <state_dir>/logs-tls.pem and logs-tls.key (owner only), for the endpoint
// to serve; returns the certificate (PEM), which registration hands the
// server. Without: "" (plain http, as on one machine).
Result<std::string> PrepareLogsTls(const std::string& state_dir, const std::string& address,
                                   bool tls);

}  // namespace allot::agent
