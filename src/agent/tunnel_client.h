// The agent's side of the tunnel (docs/gateway.md §2): one control
// connection it keeps open to the server (reconnecting after a drop or a
// restart of either side), on which the server asks for streams; for each,
// the agent connects to the task's port or starts the command, dials back
// with the stream's id, and carries the bytes.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace allot::agent {

struct TunnelClientOptions {
  std::string server;   // one server, https://host:port (an agent runs one client per server)
  std::string token;    // the agent's token
  std::string ca_file;  // the CA of an https server; empty: the system's store
  // The directory of task "<workload>.<task>.<attempt>" on one of the
  // agent's nodes, or "" when it has none.
  std::function<std::string(const std::string& key)> task_dir;
  std::function<void(const std::string&)> say;  // progress lines
};

class TunnelClient {
 public:
  explicit TunnelClient(TunnelClientOptions options);
  ~TunnelClient();  // Stop()
  TunnelClient(const TunnelClient&) = delete;
  TunnelClient& operator=(const TunnelClient&) = delete;

  void Start();
  // Ends the control connection and the streams.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace allot::agent
