// The server's side of the agents' tunnels (docs/gateway.md §2). Each
// agent keeps one control connection to the server (it dials out, so a
// node needs no inbound port). To reach a task, the broker writes a stream
// request on that connection; the agent connects to the task's port (or
// starts the command) and dials back with the request's id, and that
// connection becomes the stream. Single-threaded: every call is made on the
// gateway's io_context thread.
#pragma once

#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "tunnel/protocol.h"
#include "tunnel/splice.h"

namespace allot::api {

// A stream an agent opened: its socket and the bytes already read after
// the upgrade.
struct AgentStream {
  tunnel::Socket socket;
  std::string leftover;
};

class TunnelBroker {
 public:
  explicit TunnelBroker(boost::asio::io_context& io);

  // Takes `control`, agent `agent`'s upgraded control connection; one it
  // had before is closed (the agent restarted). The broker pings it and
  // drops it when it ends.
  void AttachAgent(const std::string& agent, tunnel::Socket control);

  // Whether `agent` has a control connection now.
  bool Connected(const std::string& agent) const;

  // Asks `agent` for a stream (`request.id` is set here) and waits for it
  // up to `timeout`. An error says why there is none: no tunnel from the
  // agent, its refusal (the port is closed, the task is gone), or the time.
  boost::asio::awaitable<Result<AgentStream>> Open(const std::string& agent,
                                                   tunnel::StreamRequest request,
                                                   std::chrono::milliseconds timeout);

  // An agent's dial-back for stream `id` (`refusal`: why it could not open
  // it). False, and nothing changes, when no stream of that agent waits
  // under that id; `stream` is then left to the caller.
  bool Deliver(const std::string& agent, const std::string& id, std::optional<AgentStream>& stream,
               const std::string& refusal);

  // Closes every control connection (the server stops).
  void CloseAll();

 private:
  struct Control {
    explicit Control(tunnel::Socket s) : socket(std::move(s)) {}
    tunnel::Socket socket;
    std::deque<std::string> outbox;
    bool writing = false;
  };
  struct Pending {
    explicit Pending(boost::asio::io_context& io) : timer(io) {}
    std::string agent;
    boost::asio::steady_timer timer;
    std::optional<AgentStream> stream;
    std::string refusal;
  };

  void Send(const std::shared_ptr<Control>& control, std::string line);
  boost::asio::awaitable<void> Write(std::shared_ptr<Control> control);
  boost::asio::awaitable<void> Watch(std::string agent, std::shared_ptr<Control> control);

  boost::asio::io_context& io_;
  std::map<std::string, std::shared_ptr<Control>> agents_;
  std::map<std::string, std::shared_ptr<Pending>> pending_;
};

}  // namespace allot::api
